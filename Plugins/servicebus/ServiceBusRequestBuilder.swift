import HeraldSinkSupport
import HeraldJSON
import HeraldSinkSDK

/// One Service Bus send request: the messages it carries (by batch index), their encoded
/// objects, and their size as Service Bus counts it.
public struct ServiceBusRequest: BatchRequest {
    public var indices: [Int]
    /// `{"Body": …, "BrokerProperties": {…}, "UserProperties": {…}}` per message, in `indices` order.
    public var entries: [[UInt8]]
    /// Sum of the messages' sizes (see `ServiceBusRequestBuilder.messageSize`).
    public var size: Int

    /// The body: a JSON array of the entries (`application/vnd.microsoft.servicebus.json`).
    public var body: [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(entries.reduce(2) { $0 + $1.count + 1 })
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: e)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The request cut in two (to narrow down which message a refused request choked on).
    public var halves: [ServiceBusRequest] {
        let mid = indices.count / 2
        return [
            ServiceBusRequest(indices: Array(indices[..<mid]), entries: Array(entries[..<mid]), size: 0),
            ServiceBusRequest(indices: Array(indices[mid...]), entries: Array(entries[mid...]), size: 0),
        ]
    }
}

/// The send requests of a batch, and the messages refused before sending.
public typealias ServiceBusPlan = RequestPlan<ServiceBusRequest>

/// Turns a batch into Service Bus batch-send requests.
///
/// Each message becomes `{"Body": body as a string, "BrokerProperties": {"MessageId": id
/// [, "SessionId": key when ordered]}, "UserProperties": {header: value…}}`. A message's size
/// is its body + user property names and values + broker property names and values + 64 bytes;
/// a message over `maxMessageBytes` is TOO_LARGE, and requests are filled up to
/// `maxMessageBytes` in all (Service Bus applies its message limit to a whole batch too) and
/// `maxMessages` messages. On a partitioned entity, ordered batches are grouped by SessionId
/// (one session per request).
public struct ServiceBusRequestBuilder: Sendable {
    public var maxMessageBytes: Int
    public var maxMessages: Int
    public var partitioned: Bool

    public init(
        maxMessageBytes: Int = ServiceBusLimits.standardMessageBytes, maxMessages: Int = 1000, partitioned: Bool = false
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxMessages = max(1, maxMessages)
        self.partitioned = partitioned
    }

    /// The limit declared to Herald (body plus header names and values).
    public var declaredMaxMessageBytes: Int { maxMessageBytes - ServiceBusLimits.declaredHeadroom }

    /// The size Service Bus counts for a message (plus the sink's overhead allowance).
    public static func messageSize<M: OutgoingMessage>(_ m: M, sessionId: String?) -> Int {
        var size = m.hostCountedBytes + "MessageId".utf8.count + m.id.utf8.count + ServiceBusLimits.perMessageOverhead
        if let sessionId { size += "SessionId".utf8.count + sessionId.utf8.count }
        return size
    }

    public func plan<M: OutgoingMessage>(_ messages: [M], ordered: Bool) -> ServiceBusPlan {
        var plan = ServiceBusPlan()
        var writer = JSONWriter(capacity: 4096)
        var groups: [[(Int, [UInt8], Int)]] = []
        var groupOfKey: [String: Int] = [:]
        for (i, m) in messages.enumerated() {
            let session: String? = ordered ? m.key : nil
            if m.hostCountedBytes > declaredMaxMessageBytes {
                plan.rejected.append(
                    (
                        i,
                        SinkResult(
                            .tooLarge,
                            error:
                                "message is \(m.hostCountedBytes) bytes (body and headers), over this sink's limit of \(declaredMaxMessageBytes)"
                        )
                    ))
                continue
            }
            let size = Self.messageSize(m, sessionId: session)
            if size > maxMessageBytes {
                plan.rejected.append(
                    (
                        i,
                        SinkResult(
                            .tooLarge,
                            error:
                                "message is \(size) bytes with its properties, over the Service Bus limit of \(maxMessageBytes)"
                        )
                    ))
                continue
            }
            guard let entry = encode(m, sessionId: session, writer: &writer) else {
                plan.rejected.append(
                    (
                        i,
                        SinkResult(
                            .permanent,
                            error:
                                "the body is not UTF-8 text, and Service Bus batch messages carry their body as a JSON string"
                        )
                    ))
                continue
            }
            let groupKey = partitioned && ordered ? m.key : ""
            let g: Int
            if let existing = groupOfKey[groupKey] {
                g = existing
            } else {
                g = groups.count
                groupOfKey[groupKey] = g
                groups.append([])
            }
            groups[g].append((i, entry, size))
        }
        for group in groups {
            var current = ServiceBusRequest(indices: [], entries: [], size: 0)
            for (i, entry, size) in group {
                if !current.entries.isEmpty
                    && (current.entries.count >= maxMessages || current.size + size > maxMessageBytes)
                {
                    plan.requests.append(current)
                    current = ServiceBusRequest(indices: [], entries: [], size: 0)
                }
                current.indices.append(i)
                current.entries.append(entry)
                current.size += size
            }
            if !current.entries.isEmpty { plan.requests.append(current) }
        }
        return plan
    }

    /// The message's JSON object, or nil when the body is not UTF-8.
    func encode<M: OutgoingMessage>(_ m: M, sessionId: String?, writer: inout JSONWriter) -> [UInt8]? {
        writer.reset()
        writer.beginObject()
        writer.key("Body")
        let valid = m.withBody { raw -> Bool in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard String(validating: bytes, as: UTF8.self) != nil else { return false }
            writer.string(utf8: bytes)
            return true
        }
        guard valid else { return nil }
        writer.key("BrokerProperties")
        writer.beginObject()
        writer.key("MessageId")
        writer.string(m.id)
        if let sessionId {
            writer.key("SessionId")
            writer.string(sessionId)
        }
        writer.endObject()
        let headers = m.headers
        if !headers.isEmpty {
            writer.key("UserProperties")
            writer.beginObject()
            for h in headers {
                writer.key(h.name)
                writer.string(h.value)
            }
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }
}
