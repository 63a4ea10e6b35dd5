import HeraldSinkSDK

/// A message to send, as a request builder sees it: the host's borrowed `SinkMessage` in
/// the plugin, an owned copy in tests and tools.
public protocol OutgoingMessage {
    var id: String { get }
    /// The entity URI (the ordering key of ordered destinations).
    var key: String { get }
    var headers: [(name: String, value: String)] { get }
    var bodyCount: Int { get }
    /// Calls `body` with the message body (valid only during the call).
    func withBody<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension SinkMessage: OutgoingMessage {
    public var bodyCount: Int { body.count }
    public func withBody<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self.body) }
}

/// A message that owns its bytes.
public struct OwnedMessage: OutgoingMessage, Sendable {
    public var id: String
    public var key: String
    public var body: [UInt8]
    public var headers: [(name: String, value: String)]

    public init(id: String, key: String, body: [UInt8], headers: [(name: String, value: String)] = []) {
        self.id = id
        self.key = key
        self.body = body
        self.headers = headers
    }

    public init(id: String, key: String, body: String, headers: [(name: String, value: String)] = []) {
        self.init(id: id, key: key, body: Array(body.utf8), headers: headers)
    }

    public var bodyCount: Int { body.count }
    public func withBody<R>(_ f: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body.withUnsafeBytes(f) }
}

extension OutgoingMessage {
    /// Body plus header names and values: how Herald counts a message against `max_message_bytes`.
    public var hostCountedBytes: Int {
        headers.reduce(bodyCount) { $0 + $1.name.utf8.count + $1.value.utf8.count }
    }
}
