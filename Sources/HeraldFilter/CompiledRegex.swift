#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A POSIX extended regular expression, compiled once and matched against whole values.
///
/// The pattern is anchored (`^(pattern)$`), so it must match the entire value, and it is
/// case-sensitive. Matching is byte-wise in the C locale: '.' matches one UTF-8 byte.
///
/// - Important: `regexec` on a compiled pattern is thread-safe in glibc and Darwin's libc, so one
///   instance may be shared across threads.
final class CompiledRegex: @unchecked Sendable {
    let pattern: String
    private let regex: UnsafeMutablePointer<regex_t>

    /// Compiles `pattern`; on failure returns the C library's explanation.
    static func compile(_ pattern: String) -> Result<CompiledRegex, RegexCompileError> {
        if pattern.utf8.contains(0) {
            return .failure(RegexCompileError(reason: "the pattern contains a NUL character"))
        }
        // Check the pattern alone first, so a stray ')' is reported rather than absorbed by the anchoring group.
        let probe = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        defer { probe.deallocate() }
        let probeCode = regcomp(probe, pattern, REG_EXTENDED | REG_NOSUB)
        if probeCode != 0 {
            let reason = errorText(probeCode, probe)
            return .failure(RegexCompileError(reason: reason))
        }
        regfree(probe)
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let code = regcomp(regex, "^(" + pattern + ")$", REG_EXTENDED | REG_NOSUB)
        if code != 0 {
            let reason = errorText(code, regex)
            regex.deallocate()
            return .failure(RegexCompileError(reason: reason))
        }
        return .success(CompiledRegex(pattern: pattern, regex: regex))
    }

    private init(pattern: String, regex: UnsafeMutablePointer<regex_t>) {
        self.pattern = pattern
        self.regex = regex
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    /// Whether the whole of `value` matches.
    func matches(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        var range = regmatch_t()
        range.rm_so = 0
        range.rm_eo = regoff_t(value.count)
        guard let base = value.baseAddress else {
            return regexec(regex, "", 0, nil, 0) == 0
        }
        return base.withMemoryRebound(to: CChar.self, capacity: value.count) {
            regexec(regex, $0, 1, &range, REG_STARTEND) == 0
        }
    }

    private static func errorText(_ code: Int32, _ regex: UnsafeMutablePointer<regex_t>) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        regerror(code, regex, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

struct RegexCompileError: Error {
    var reason: String
}
