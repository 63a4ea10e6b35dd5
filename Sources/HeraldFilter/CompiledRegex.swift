import CHeraldRE2

/// A regular expression in RE2 syntax, compiled once and matched against whole values.
///
/// RE2 matches in time linear in the value and within a fixed memory budget, whatever the pattern
/// (see docs/decisions/0007-re2-regex.md). The match is a whole-value match, case-sensitive unless the
/// pattern says `(?i)`, in UTF-8 mode: `.` and classes match one character (code point), and `.` also
/// matches a newline.
///
/// - Important: matching one instance from several threads at once is safe (RE2's matching is
///   thread-safe); the handle is freed when the instance is.
final class CompiledRegex: @unchecked Sendable {
    /// The longest pattern accepted, in UTF-8 bytes. Values count only their first 256 characters, so a
    /// longer pattern is almost always a list of values (`in(...)` is for that) or a generated one.
    static let maxPatternBytes = 1_000
    /// RE2's memory budget per pattern: the compiled program and its match cache (DFA). RE2's default
    /// is 8 MiB; 4 MiB keeps every realistic pattern on the fast DFA path (measured in decision 0007).
    static let memoryBudget: Int64 = 4 << 20

    let pattern: String
    private let handle: OpaquePointer

    /// Compiles `pattern`, or says why it cannot be used.
    static func compile(_ pattern: String, memoryBudget: Int64 = memoryBudget)
        -> Result<CompiledRegex, RegexCompileError>
    {
        let bytes = Array(pattern.utf8)
        if bytes.count > maxPatternBytes {
            return .failure(RegexCompileError(kind: .tooLong, reason: "\(bytes.count) bytes"))
        }
        if let construct = posixOnlyConstruct(in: bytes) {
            return .failure(construct)
        }
        var handle: OpaquePointer?
        var buffer = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { pattern in
            pattern.withMemoryRebound(to: CChar.self) { chars in
                herald_re2_compile(chars.baseAddress, chars.count, memoryBudget, &handle, &buffer, buffer.count)
            }
        }
        let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch status {
        case HERALD_RE2_OK:
            guard let handle else { return .failure(RegexCompileError(kind: .internal, reason: "no handle")) }
            return .success(CompiledRegex(pattern: pattern, handle: handle))
        case HERALD_RE2_REPEAT_SIZE: return .failure(RegexCompileError(kind: .repeatSize, reason: reason))
        case HERALD_RE2_TOO_LARGE: return .failure(RegexCompileError(kind: .tooLarge, reason: reason))
        case HERALD_RE2_INVALID: return .failure(RegexCompileError(kind: .invalid, reason: reason))
        default: return .failure(RegexCompileError(kind: .internal, reason: reason))
        }
    }

    private init(pattern: String, handle: OpaquePointer) {
        self.pattern = pattern
        self.handle = handle
    }

    deinit {
        herald_re2_free(handle)
    }

    /// Whether the whole of `value` (UTF-8) matches. A failure inside RE2 (out of memory) counts as no match.
    @inline(__always)
    func matches(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        value.withMemoryRebound(to: CChar.self) { herald_re2_full_match(handle, $0.baseAddress, $0.count) == 1 }
    }

    /// RE2's size of the compiled program (instructions); for tests and measurements.
    var programSize: Int { Int(herald_re2_program_size(handle)) }
}

/// Why a pattern was refused. `FilterParser` turns it into a `FilterParseError` at the pattern.
struct RegexCompileError: Error, Equatable {
    enum Kind: Equatable {
        /// Not valid RE2 syntax.
        case invalid
        /// Longer than `CompiledRegex.maxPatternBytes`.
        case tooLong
        /// A repeat count over 1000, an inverted range, or nested repeats multiplying to over 1000.
        case repeatSize
        /// The compiled program does not fit in `CompiledRegex.memoryBudget`.
        case tooLarge
        /// A POSIX or GNU construct that RE2 would read differently (see `posixOnlyConstruct(in:)`).
        case posixOnly
        /// RE2 failed for another reason (out of memory, an unexpected exception).
        case `internal`
    }

    var kind: Kind
    /// One clause: what RE2 or the check found, e.g. `missing ): a(b`.
    var reason: String
    /// For `.posixOnly`: the construct's offset in the pattern, in characters.
    var characterOffset: Int? = nil
}
