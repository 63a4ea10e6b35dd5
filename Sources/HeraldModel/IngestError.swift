import HeraldJSON

/// Why one posted item was refused. It becomes that item's `errors` object in the answer.
public struct IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable machine-readable code.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidEntity = Code(rawValue: "INVALID_ENTITY")
        public static let unknownEntityType = Code(rawValue: "UNKNOWN_ENTITY_TYPE")
        public static let unknownAttribute = Code(rawValue: "UNKNOWN_ATTRIBUTE")
        public static let invalidAttributeValue = Code(rawValue: "INVALID_ATTRIBUTE_VALUE")
        public static let unknownSource = Code(rawValue: "UNKNOWN_SOURCE")
        public static let limitExceeded = Code(rawValue: "LIMIT_EXCEEDED")
        public static let crosswalkConflict = Code(rawValue: "CROSSWALK_CONFLICT")
        public static let entityTypeMismatch = Code(rawValue: "ENTITY_TYPE_MISMATCH")
    }

    public var code: Code
    public var message: String
    /// Where in the item (e.g. `[3].attributes.FirstName[0].value`).
    public var path: JSONPath

    public init(_ code: Code, _ message: String, at path: JSONPath) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { "\(code) at \(path): \(message)" }
}
