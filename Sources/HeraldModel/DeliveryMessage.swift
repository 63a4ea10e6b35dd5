/// A rendered message on its way to a destination; also how the retry schedule and the
/// dead-letter queue keep it.
public struct DeliveryMessage: Sendable, Equatable {
    /// The event's sequence number in the CRUD queue.
    public var seq: Int64
    /// Stable id for de-duplication (the same on every attempt).
    public var id: String
    /// Ordering key (entity URI).
    public var key: String
    public var eventType: String
    public var objectURI: String
    public var headers: [MessageHeader]
    public var body: [UInt8]

    public init(
        seq: Int64, id: String, key: String, eventType: String, objectURI: String, headers: [MessageHeader],
        body: [UInt8]
    ) {
        self.seq = seq
        self.id = id
        self.key = key
        self.eventType = eventType
        self.objectURI = objectURI
        self.headers = headers
        self.body = body
    }
}

public struct MessageHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

