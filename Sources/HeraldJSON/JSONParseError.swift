/// A syntax error in JSON input, with the byte offset where it was found.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
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
