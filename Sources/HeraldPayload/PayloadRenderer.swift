import HeraldConfig
import HeraldJSON
import HeraldModel

/// The result of rendering one event for one destination.
public enum RenderOutcome: Sendable {
    case message(DeliveryMessage)
    /// Over the destination's size limit and `largeObjectsSupport` is off: dead-letter it.
    case tooLarge(DeliveryMessage, size: Int, limit: Int)
}

/// Renders CRUD-queue events into messages for one destination: body shape (`payloadType`,
/// `payloadFields`, `ovOnly`), `format`, headers and the size limit.
///
/// Bodies:
/// - entity events: `{"type", "object", "ovChanged"?}`; DELTAS carries only the object's `uri` and `type` in
///   `object`, and `"deltas": {"ovChanged", "delta": [...]}`; SNAPSHOT_WITH_DELTA carries both whole;
/// - merge events (`ENTITIES_MERGED`, `ENTITIES_SPLITTED`): `{"type", "uris", "updatedTime"}`;
/// - `ENTITY_LOST_MERGE` also carries `"uris"`: the winner, then the loser;
/// - potential-match events add `"matches": [{"uri", "matchRules": [...]}]`;
/// - relation events carry the relation as `object` (with `startObject` and `endObject`);
/// - over the limit with `largeObjectsSupport`: `{"type", "ovChanged", "exceededQueueSizeLimit": true}`.
///
/// Headers on every message: `tenantId`, `eventType`, `sourceObjectUri`, `objectVersion`,
/// `updatedTime`, `messageId`. Not thread-safe: one renderer per worker (it reuses its buffers
/// and its gzip compressor).
public final class PayloadRenderer {
    public let tenant: String
    public let destination: DestinationConfiguration
    public let largeObjectsSupport: Bool
    public let analyzeOvChanges: Bool
    /// The plugin's limit on body + headers (0: none).
    public var maxMessageBytes: Int
    private let options: EntityRenderOptions
    private var writer = JSONWriter(capacity: 16 << 10)
    private lazy var gzip = GzipCompressor(level: 1)
    private let destinationHash: String

    public init(tenant: String, destination: DestinationConfiguration, streaming: StreamingConfiguration, maxMessageBytes: Int) {
        self.tenant = tenant
        self.destination = destination
        self.largeObjectsSupport = streaming.largeObjectsSupport
        self.analyzeOvChanges = streaming.analyzeOvChanges
        self.maxMessageBytes = maxMessageBytes
        self.options = EntityRenderOptions(payloadFields: destination.payloadFields, ovOnly: destination.ovOnly)
        self.destinationHash = fnv1a32Hex(destination.id)
    }

    /// The stable message id of an event for this destination (the same on every attempt).
    public func messageId(seq: Int64) -> String { "\(seq)-\(destinationHash)" }

    /// Renders one event; `entity` and `delta` come from `record.event` (decoded once by the caller,
    /// which also evaluates the object filter on them).
    public func render(_ record: EventRecord, entity: Entity, delta: EventDelta) -> RenderOutcome {
        let event = record.event
        var headers = [
            MessageHeader("tenantId", tenant), MessageHeader("eventType", event.type.rawValue),
            MessageHeader("sourceObjectUri", event.objectURI), MessageHeader("objectVersion", String(event.objectVersion)),
            MessageHeader("updatedTime", String(event.time)), MessageHeader("messageId", messageId(seq: record.seq)),
        ]
        let ovChanged = delta.ovChanged
        writer.reset()
        if event.type.isMergeEvent {
            writer.beginObject()
            writer.key("type")
            writer.string(event.type.rawValue)
            writer.key("uris")
            writer.beginArray()
            for u in event.uris { writer.string(u) }
            writer.endArray()
            writer.key("updatedTime")
            writer.int(event.time)
            writer.endObject()
        } else {
            writer.beginObject()
            writer.key("type")
            writer.string(event.type.rawValue)
            if destination.payloadType != .deltas {
                writer.key("object")
                entity.render(into: &writer, options: options)
            } else {
                // Without its attributes, the object still says which object changed.
                writer.key("object")
                writer.beginObject()
                writer.key("uri")
                writer.string(event.objectURI)
                writer.key("type")
                writer.string(entity.type)
                writer.endObject()
            }
            if event.type == .entityLostMerge && !event.uris.isEmpty {
                writer.key("uris")
                writer.beginArray()
                for u in event.uris { writer.string(u) }
                writer.endArray()
            }
            if destination.payloadType != .snapshot {
                writer.key("deltas")
                delta.render(into: &writer, entityType: entity.type)
            }
            if analyzeOvChanges {
                writer.key("ovChanged")
                writer.bool(ovChanged)
            }
            if !event.details.isEmpty {
                // POTENTIAL_MATCHES_*: [{"uri", "matchRules": [...]}]
                writer.key("matches")
                writer.raw(event.details)
            }
            writer.endObject()
        }
        var body = encode(writer.bytes, &headers)
        let headerBytes = headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        var message = DeliveryMessage(
            seq: record.seq, id: messageId(seq: record.seq), key: event.objectURI, eventType: event.type.rawValue,
            objectURI: event.objectURI, headers: headers, body: body)
        let size = body.count + headerBytes
        guard maxMessageBytes > 0, size > maxMessageBytes else { return .message(message) }
        guard largeObjectsSupport else { return .tooLarge(message, size: size, limit: maxMessageBytes) }
        writer.reset()
        writer.beginObject()
        writer.key("type")
        writer.string(event.type.rawValue)
        writer.key("ovChanged")
        writer.bool(ovChanged)
        writer.key("exceededQueueSizeLimit")
        writer.bool(true)
        writer.endObject()
        headers.append(MessageHeader("exceededQueueSizeLimit", "true"))
        body = encode(writer.bytes, &headers)
        message.headers = headers
        message.body = body
        return .message(message)
    }

    private func encode(_ json: [UInt8], _ headers: inout [MessageHeader]) -> [UInt8] {
        switch destination.format {
        case .json:
            return json
        case .jsonZipBase64:
            return json.withUnsafeBytes { raw in gzip.withCompressed(raw) { Base64.encoded($0) } }
        }
    }
}

/// FNV-1a, 32 bits, as 8 hex digits: short stable ids.
func fnv1a32Hex(_ text: String) -> String {
    var hash: UInt32 = 0x811C_9DC5
    for b in text.utf8 {
        hash ^= UInt32(b)
        hash = hash &* 0x0100_0193
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
}
