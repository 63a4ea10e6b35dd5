import HeraldSinkSupport
import HeraldJSON
import HeraldSinkSDK

/// One publish request: which messages of the batch it carries (by index), their encoded
/// `PubsubMessage` objects, and the ordering key they share (ordered destinations).
public struct PublishRequest: BatchRequest {
    public var indices: [Int]
    /// One encoded JSON object per message, in `indices` order.
    public var entries: [[UInt8]]
    public var orderingKey: String?

    /// The request body: `{"messages":[…]}`.
    public var body: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(PubSubRequestBuilder.framingBytes + entries.reduce(0) { $0 + $1.count + 1 })
        out.append(contentsOf: PubSubRequestBuilder.prefix)
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: e)
        }
        out.append(contentsOf: PubSubRequestBuilder.suffix)
        return out
    }

    public var bodyCount: Int {
        PubSubRequestBuilder.framingBytes + entries.reduce(0) { $0 + $1.count } + max(0, entries.count - 1)
    }

    /// The request cut in two (to narrow down which message a refused request choked on).
    public var halves: [PublishRequest] {
        let mid = indices.count / 2
        return [
            PublishRequest(indices: Array(indices[..<mid]), entries: Array(entries[..<mid]), orderingKey: orderingKey),
            PublishRequest(indices: Array(indices[mid...]), entries: Array(entries[mid...]), orderingKey: orderingKey),
        ]
    }
}

/// The publish requests of a batch, and the messages refused before sending.
public typealias PublishPlan = RequestPlan<PublishRequest>

/// Turns a batch into publish requests within Pub/Sub's limits.
///
/// - Every message becomes `{"data": base64(body), "attributes": {header: value…}}`, plus
///   `"orderingKey": key` when the destination is ordered.
/// - Requests hold at most `maxMessages` messages and `maxRequestBytes` bytes of JSON.
/// - Ordered: Pub/Sub takes one ordering key per request, so messages are grouped by key first
///   (in the order keys first appear); each group is then split like an unordered batch.
/// - Checked before sending (the emulator does not check them; Pub/Sub would refuse the whole
///   request): at most 100 attributes, keys of 1–256 bytes not starting with `goog`, values of at
///   most 1,024 bytes, ordering keys of at most 1,024 bytes, no empty message → PERMANENT;
///   data over 10 MB, a message that alone does not fit in a request, or over the limit declared
///   to Herald → TOO_LARGE.
public struct PubSubRequestBuilder: Sendable {
    public var maxMessages: Int
    public var maxRequestBytes: Int
    /// The `max_message_bytes` declared to Herald (body plus header names and values); 0: none.
    public var declaredMaxMessageBytes: Int

    static let prefix = Array(#"{"messages":["#.utf8)
    static let suffix = Array("]}".utf8)
    static var framingBytes: Int { prefix.count + suffix.count }

    public init(
        maxMessages: Int = PubSubLimits.maxMessagesPerRequest, maxRequestBytes: Int = PubSubLimits.maxRequestBytes,
        declaredMaxMessageBytes: Int = 0
    ) {
        self.maxMessages = max(1, min(maxMessages, PubSubLimits.maxMessagesPerRequest))
        self.maxRequestBytes = max(1024, maxRequestBytes)
        self.declaredMaxMessageBytes = declaredMaxMessageBytes
    }

    /// The largest body (plus headers) to declare to Herald for a request limit: base64 makes data
    /// 4/3 larger, and 64 KiB (an eighth of smaller requests) is kept for attributes and JSON framing.
    public static func declaredMessageLimit(maxRequestBytes: Int) -> Int {
        let reserve = min(65_536, maxRequestBytes / 8)
        return min(PubSubLimits.maxMessageDataBytes, (maxRequestBytes - reserve) / 4 * 3)
    }

    public func plan<M: OutgoingMessage>(_ messages: [M], ordered: Bool) -> PublishPlan {
        var plan = PublishPlan()
        var writer = JSONWriter(capacity: 4096)
        // Groups of (index, entry): one group unordered, one per key ordered.
        var groups: [(key: String?, items: [(Int, [UInt8])])] = []
        var groupOfKey: [String: Int] = [:]
        for (i, m) in messages.enumerated() {
            let key: String? = ordered ? m.key : nil
            if let problem = check(m, orderingKey: key) {
                plan.rejected.append((i, problem))
                continue
            }
            let entry = encode(m, orderingKey: key, writer: &writer)
            if entry.count + Self.framingBytes > maxRequestBytes {
                plan.rejected.append(
                    (
                        i,
                        SinkResult(
                            .tooLarge,
                            error:
                                "message needs \(entry.count) bytes in a publish request (base64 data, attributes, ordering key), over the request limit of \(maxRequestBytes) bytes"
                        )
                    ))
                continue
            }
            let g: Int
            if let existing = groupOfKey[key ?? ""] {
                g = existing
            } else {
                g = groups.count
                groupOfKey[key ?? ""] = g
                groups.append((key, []))
            }
            groups[g].items.append((i, entry))
        }
        for group in groups {
            var current = PublishRequest(indices: [], entries: [], orderingKey: group.key)
            var bytes = Self.framingBytes
            for (i, entry) in group.items {
                let added = entry.count + (current.entries.isEmpty ? 0 : 1)
                if !current.entries.isEmpty && (current.entries.count >= maxMessages || bytes + added > maxRequestBytes)
                {
                    plan.requests.append(current)
                    current = PublishRequest(indices: [], entries: [], orderingKey: group.key)
                    bytes = Self.framingBytes
                }
                bytes += entry.count + (current.entries.isEmpty ? 0 : 1)
                current.indices.append(i)
                current.entries.append(entry)
            }
            if !current.entries.isEmpty { plan.requests.append(current) }
        }
        return plan
    }

    /// The reason a message cannot be published, or nil.
    func check<M: OutgoingMessage>(_ m: M, orderingKey: String?) -> SinkResult? {
        let headers = m.headers
        if declaredMaxMessageBytes > 0, m.hostCountedBytes > declaredMaxMessageBytes {
            return SinkResult(
                .tooLarge,
                error:
                    "message is \(m.hostCountedBytes) bytes (body and headers), over this sink's limit of \(declaredMaxMessageBytes)"
            )
        }
        if m.bodyCount > PubSubLimits.maxMessageDataBytes {
            return SinkResult(
                .tooLarge,
                error:
                    "message data is \(m.bodyCount) bytes, over Pub/Sub's limit of \(PubSubLimits.maxMessageDataBytes)")
        }
        if m.bodyCount == 0 && headers.isEmpty {
            return SinkResult(.permanent, error: "Pub/Sub refuses a message without data and without attributes")
        }
        if headers.count > PubSubLimits.maxAttributes {
            return SinkResult(
                .permanent,
                error: "message has \(headers.count) attributes, over Pub/Sub's limit of \(PubSubLimits.maxAttributes)")
        }
        var seen = Set<String>()
        for h in headers {
            let keyBytes = h.name.utf8.count
            if keyBytes == 0 || keyBytes > PubSubLimits.maxAttributeKeyBytes {
                return SinkResult(
                    .permanent,
                    error:
                        "attribute key '\(h.name.prefix(64))' is \(keyBytes) bytes; Pub/Sub takes keys of 1 to \(PubSubLimits.maxAttributeKeyBytes) bytes"
                )
            }
            if h.name.lowercased().hasPrefix("goog") {
                return SinkResult(
                    .permanent, error: "attribute key '\(h.name)' starts with 'goog', which Pub/Sub reserves")
            }
            let valueBytes = h.value.utf8.count
            if valueBytes > PubSubLimits.maxAttributeValueBytes {
                return SinkResult(
                    .permanent,
                    error:
                        "attribute '\(h.name)' has a value of \(valueBytes) bytes, over Pub/Sub's limit of \(PubSubLimits.maxAttributeValueBytes)"
                )
            }
            if !seen.insert(h.name).inserted {
                return SinkResult(
                    .permanent, error: "attribute '\(h.name)' appears twice; Pub/Sub attributes are a map")
            }
        }
        if let orderingKey, orderingKey.utf8.count > PubSubLimits.maxOrderingKeyBytes {
            return SinkResult(
                .permanent,
                error:
                    "ordering key is \(orderingKey.utf8.count) bytes, over Pub/Sub's limit of \(PubSubLimits.maxOrderingKeyBytes)"
            )
        }
        return nil
    }

    func encode<M: OutgoingMessage>(_ m: M, orderingKey: String?, writer: inout JSONWriter) -> [UInt8] {
        writer.reset()
        writer.beginObject()
        writer.key("data")
        writer.bytes.append(UInt8(ascii: "\""))
        m.withBody { body in Base64.append(body, to: &writer.bytes) }
        writer.bytes.append(UInt8(ascii: "\""))
        writer.raw(EmptyCollection<UInt8>())  // marks the value as written: the next key gets its comma
        let headers = m.headers
        if !headers.isEmpty {
            writer.key("attributes")
            writer.beginObject()
            for h in headers {
                writer.key(h.name)
                writer.string(h.value)
            }
            writer.endObject()
        }
        if let orderingKey {
            writer.key("orderingKey")
            writer.string(orderingKey)
        }
        writer.endObject()
        return writer.bytes
    }
}

