/// Why a merge, unmerge or not-a-match request was refused. Nothing was changed.
public struct MergeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case notFound
        case invalid
        case conflict
    }

    public var kind: Kind
    public var code: String
    public var message: String

    public init(_ kind: Kind, _ code: String, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
