import HeraldJSON

/// Why one posted item was refused. It becomes that item's `errors` object in the answer.
public struct IngestError: CodedError, Equatable {
    public var code: ErrorCode<IngestError>
    public var message: String
    /// Where in the item (e.g. `[3].attributes.FirstName[0].value`).
    public var path: JSONPath

    public init(_ code: ErrorCode<IngestError>, _ message: String, at path: JSONPath) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { "\(code) at \(path): \(message)" }
}

extension ErrorCode where Domain == IngestError {
    public static let invalidEntity = Self("INVALID_ENTITY")
    public static let unknownEntityType = Self("UNKNOWN_ENTITY_TYPE")
    public static let unknownAttribute = Self("UNKNOWN_ATTRIBUTE")
    public static let invalidAttributeValue = Self("INVALID_ATTRIBUTE_VALUE")
    public static let unknownSource = Self("UNKNOWN_SOURCE")
    public static let limitExceeded = Self("LIMIT_EXCEEDED")
    public static let crosswalkConflict = Self("CROSSWALK_CONFLICT")
    public static let entityTypeMismatch = Self("ENTITY_TYPE_MISMATCH")
}
