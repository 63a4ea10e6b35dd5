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
    private lazy var gzip = GzipCompressor()
    private var storedRenderer = StoredEntityRenderer()
    /// How this renderer's messages were made so far.
    public private(set) var renders = RenderCounts()
    /// The selected fields for `renderFromStored` (nil: a selection of sub-attributes, which it does not take).
    private let storedSelection: StoredEntityRenderer.Selection?
    private let destinationHash: String

    public init(tenant: String, destination: DestinationConfiguration, streaming: StreamingConfiguration, maxMessageBytes: Int) {
        self.tenant = tenant
        self.destination = destination
        self.largeObjectsSupport = streaming.largeObjectsSupport
        self.analyzeOvChanges = streaming.analyzeOvChanges
        self.maxMessageBytes = maxMessageBytes
        self.options = EntityRenderOptions(payloadFields: destination.payloadFields, ovOnly: destination.ovOnly)
        self.storedSelection = StoredEntityRenderer.Selection(options)
        self.destinationHash = fnv1a32Hex(destination.id)
    }

    /// The stable message id of an event for this destination (the same on every attempt).
    public func messageId(seq: Int64) -> String { "\(seq)-\(destinationHash)" }

    /// Renders one event; `entity` and `delta` come from `record.event` (decoded once by the caller,
    /// which also evaluates the object filter on them).
    public func render(_ record: EventRecord, entity: Entity, delta: EventDelta) -> RenderOutcome {
        let event = record.event
        renders.afterDecoding += 1
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
            writeRest(of: event, ovChanged: delta.ovChanged) { w in delta.render(into: &w, entityType: entity.type) }
        }
        return finish(record, ovChanged: delta.ovChanged)
    }

    /// Renders an entity event straight from its stored snapshot, without decoding it into an `Entity`
    /// (`StoredEntityRenderer`), when the body needs nothing else: a SNAPSHOT, whole or with `payloadFields` and
    /// `ovOnly` (but no sub-attribute selection, `attributes.X.Y`); DELTAS and SNAPSHOT_WITH_DELTA with the delta
    /// the event carries (a change), or the one derived from the stored bytes (a creation's or a removal's). The
    /// caller uses it when no object filter needs the decoded entity either. Nil when it does not apply (a merge
    /// event, a stored form it does not take, the cases above): the caller decodes and calls
    /// `render(_:entity:delta:)`, which gives the same bytes. A snapshot it does not take is never sent from here,
    /// so the decoder still reports damaged ones.
    public func renderFromStored(_ record: EventRecord) -> RenderOutcome? {
        let event = record.event
        guard !event.type.isMergeEvent else { return nil }
        let storedDelta = !event.delta.isEmpty
        let rendered: StoredEntityRenderer.Rendered
        writer.reset()
        writer.beginObject()
        writer.key("type")
        writer.string(event.type.rawValue)
        writer.key("object")
        switch destination.payloadType {
        case .snapshot, .snapshotWithDelta:
            guard let storedSelection,
                let r = storedRenderer.render(stored: event.snapshot, selection: storedSelection, into: &writer)
            else { return nil }
            rendered = r
        case .deltas:
            guard let r = storedRenderer.check(stored: event.snapshot) else { return nil }
            rendered = r
            writer.beginObject()
            writer.key("uri")
            writer.string(event.objectURI)
            writer.key("type")
            event.snapshot.withUnsafeBufferPointer { writer.string(utf8: UnsafeBufferPointer(rebasing: $0[r.typeRange])) }
            writer.endObject()
        }
        // `EventDelta.ovChanged` without an entity: a stored delta says it; a creation or a removal changed an
        // operational value when the entity has one (`record.event.delta(for:)`).
        let ovChanged: Bool
        if storedDelta {
            ovChanged = EventDelta.stored(event.delta).ovChanged
        } else {
            ovChanged = (event.type == .entityCreated || event.type == .entityRemoved) && rendered.anyOperationalValue
        }
        let derived = event.type.derivedDeltaAdds
        if destination.payloadType != .snapshot, !storedDelta, derived != nil,
            !storedRenderer.rendersDerivedDelta(stored: event.snapshot)
        {
            return nil
        }
        writeRest(of: event, ovChanged: ovChanged) { w in
            if storedDelta {
                w.raw(event.delta)
            } else if let added = derived {
                _ = self.storedRenderer.renderDerivedDelta(stored: event.snapshot, added: added, into: &w)
            } else {
                Delta().render(into: &w, entityType: "")
            }
        }
        renders.fromStoredBytes += 1
        return finish(record, ovChanged: ovChanged)
    }

    /// After an entity event's `object`: the loser's URIs, the deltas (payloads other than SNAPSHOT), `ovChanged`
    /// and potential matches; closes the body.
    private func writeRest(of event: NewEvent, ovChanged: Bool, deltas: ((inout JSONWriter) -> Void)?) {
        if event.type == .entityLostMerge && !event.uris.isEmpty {
            writer.key("uris")
            writer.beginArray()
            for u in event.uris { writer.string(u) }
            writer.endArray()
        }
        if destination.payloadType != .snapshot, let deltas {
            writer.key("deltas")
            deltas(&writer)
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

    /// The message for the body in `writer`: headers, the format, the size limit.
    private func finish(_ record: EventRecord, ovChanged: Bool) -> RenderOutcome {
        let event = record.event
        var headers = [
            MessageHeader("tenantId", tenant), MessageHeader("eventType", event.type.rawValue),
            MessageHeader("sourceObjectUri", event.objectURI), MessageHeader("objectVersion", String(event.objectVersion)),
            MessageHeader("updatedTime", String(event.time)), MessageHeader("messageId", messageId(seq: record.seq)),
        ]
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

/// How a renderer made its messages: from the stored bytes alone (`renderFromStored`), or from a decoded entity
/// (`render(_:entity:delta:)`: merge events, sub-attribute selections, stored forms the stored renderer does not
/// take, and object filters that read every attribute).
public struct RenderCounts: Sendable, Equatable {
    public var fromStoredBytes: Int64 = 0
    public var afterDecoding: Int64 = 0

    public init() {}

    public mutating func add(_ other: RenderCounts) {
        fromStoredBytes += other.fromStoredBytes
        afterDecoding += other.afterDecoding
    }
}
