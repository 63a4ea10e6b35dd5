/// Why an object filter expression could not be parsed, and where.
///
/// Positions count characters (as a text editor shows them) from 0; a position equal to the
/// expression's length means "at the end".
public struct FilterParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 0-based character offset into the expression where the problem is.
    public var position: Int
    /// What was expected there, e.g. `')'` or `a property such as attributes.FirstName`.
    public var expected: String
    /// A full sentence: what is wrong, where, and how to fix it.
    public var message: String

    public init(position: Int, expected: String, message: String) {
        self.position = position
        self.expected = expected
        self.message = message
    }

    public var description: String { message }
}
