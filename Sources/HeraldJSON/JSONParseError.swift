/// A syntax error in JSON input, with the byte offset where it was found.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// Not JSON (RFC 8259).
        case syntax = "MALFORMED_JSON"
        /// Valid JSON syntax, but an object holds a key twice.
        case duplicateKey = "DUPLICATE_KEY"
    }

    public var code: Code = .syntax
    /// Zero-based byte offset into the input.
    public var offset: Int
    /// One-based line and column of `offset`.
    public var line: Int
    public var column: Int
    /// What was wrong, e.g. "expected ',' or '}' after an object member".
    public var reason: String

    public init(offset: Int, line: Int, column: Int, reason: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        "\(reason) at byte \(offset) (line \(line), column \(column))"
    }
}
