/// Errors of the storage layer.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let openFailed = Code(rawValue: "STORE_OPEN_FAILED")
        public static let corruptRow = Code(rawValue: "STORE_CORRUPT_ROW")
        public static let closed = Code(rawValue: "STORE_CLOSED")
        public static let commitFailed = Code(rawValue: "STORE_COMMIT_FAILED")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
