import HeraldJSON
import HeraldModel

/// A message waiting in the retry schedule.
public struct RetryEntry: Sendable {
    public var message: DeliveryMessage
    /// Attempts made so far (since the message entered the schedule, or since its last replay).
    public var attempts: Int
    /// Attempts made before a replay from the dead-letter queue (0 otherwise): the plugin sees attempt
    /// `attemptBase + attempts + 1`, while the retry budget (`maxAttempts`) counts `attempts` only.
    public var attemptBase: Int
    /// Epoch ms of the next attempt; 0 when held behind an earlier message with the same key.
    public var nextAttempt: Int64
    public var firstAttempt: Int64
    public var lastAttempt: Int64
    public var lastStatus: String
    public var lastError: String

    public init(
        message: DeliveryMessage, attempts: Int, attemptBase: Int = 0, nextAttempt: Int64, firstAttempt: Int64,
        lastAttempt: Int64, lastStatus: String, lastError: String
    ) {
        self.message = message
        self.attempts = attempts
        self.attemptBase = attemptBase
        self.nextAttempt = nextAttempt
        self.firstAttempt = firstAttempt
        self.lastAttempt = lastAttempt
        self.lastStatus = lastStatus
        self.lastError = lastError
    }
}

/// A dead-lettered message with why it failed.
public struct DeadLetter: Sendable {
    public var id: Int64
    /// The tenant and destination the message was for.
    public var key: DestinationKey
    public var message: DeliveryMessage
    /// PERMANENT, TOO_LARGE or RETRIES_EXHAUSTED.
    public var status: String
    public var reason: String
    public var attempts: Int
    public var firstAttempt: Int64
    public var lastAttempt: Int64
    public var plugin: String
    public var pluginVersion: String
    public var created: Int64

    public init(
        id: Int64 = 0, key: DestinationKey, message: DeliveryMessage, status: String, reason: String,
        attempts: Int, firstAttempt: Int64, lastAttempt: Int64, plugin: String, pluginVersion: String, created: Int64
    ) {
        self.id = id
        self.key = key
        self.message = message
        self.status = status
        self.reason = reason
        self.attempts = attempts
        self.firstAttempt = firstAttempt
        self.lastAttempt = lastAttempt
        self.plugin = plugin
        self.pluginVersion = pluginVersion
        self.created = created
    }
}

package enum HeaderCoding {
    package static func encode(_ headers: [MessageHeader]) -> String {
        var w = JSONWriter(capacity: 256)
        w.beginArray()
        for h in headers {
            w.beginArray()
            w.string(h.name)
            w.string(h.value)
            w.endArray()
        }
        w.endArray()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    package static func decode(_ text: String) -> [MessageHeader] {
        guard case .array(let pairs)? = try? JSONParser.parse(text) else { return [] }
        return pairs.compactMap { pair in
            guard let p = pair.arrayValue, p.count == 2, let n = p[0].stringValue, let v = p[1].stringValue else {
                return nil
            }
            return MessageHeader(n, v)
        }
    }
}
