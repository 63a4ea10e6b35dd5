#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A signing time in SigV4's two forms: `20150830T123600Z` and `20150830`.
public struct AWSTimestamp: Sendable, Equatable {
    /// `yyyyMMdd'T'HHmmss'Z'` (UTC).
    public let amzDate: String
    /// `yyyyMMdd` (UTC): the credential scope's date.
    public var date: String { String(amzDate.prefix(8)) }

    /// The time `seconds` after the Unix epoch.
    public init(epochSeconds seconds: Int) {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        amzDate =
            "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Parses ISO 8601 UTC (`2015-08-30T12:36:00Z`), as in the SigV4 test suite's context files.
    public init?(iso8601 text: String) {
        let digits = text.filter(\.isNumber)
        guard digits.count == 14, text.hasSuffix("Z") else { return nil }
        amzDate = String(digits.prefix(8)) + "T" + String(digits.suffix(6)) + "Z"
    }

    /// Now, from the system clock.
    public static func now() -> AWSTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return AWSTimestamp(epochSeconds: Int(ts.tv_sec))
    }
}
