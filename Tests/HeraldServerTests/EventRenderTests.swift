import HeraldJSON
import HeraldModel
@testable import HeraldServer
import HeraldStorage
import Testing

/// The events API (`GET /api/{tenant}/events`) renders each event from its stored bytes when the stored renderer
/// takes them, and after decoding otherwise: the two give the same bytes.
struct EventRenderTests {
    static let type = "configuration/entityTypes/Individual"

    static func entity(first: String = "Ann", ov: Bool = true) -> Entity {
        var e = Entity(id: "E1", type: type, createdBy: "u", createdTime: 10, updatedTime: 20)
        e.crosswalks = [Crosswalk(id: "c1", type: "configuration/sources/CRM", value: "1", createDate: 1, updateDate: 2)]
        e.attributes = [
            AttributeEntry(name: "FirstName", values: [AttributeValue(id: "v1", content: .simple(first), ov: ov, sources: ["c1"])]),
            AttributeEntry(
                name: "LastName",
                values: [
                    AttributeValue(id: "v2", content: .simple("Lee"), ov: ov, sources: ["c1"]),
                    AttributeValue(id: "v3", content: .simple("Li"), ov: false, sources: ["c1"]),
                ]),
        ]
        return e
    }

    static func record(
        _ type: EventType, entity: Entity = entity(), seq: Int64 = 7, delta: String = "", uris: [String] = [],
        details: String = ""
    ) -> EventRecord {
        EventRecord(
            seq: seq, tenant: "t1",
            event: NewEvent(
                type: type, objectURI: entity.uri, objectVersion: 3, time: 99, snapshot: entity.storedBytes(),
                delta: Array(delta.utf8), uris: uris, details: Array(details.utf8)))
    }

    /// The events the stored path takes: every kind of entity event, stored and derived deltas, matches.
    static let storedRecords: [EventRecord] = {
        var relation = entity()
        relation.endpoints = RelationEndpoints(startId: "A", endId: "B")
        return [
            record(.entityCreated), record(.entityChanged), record(.entityRemoved), record(.entityCreated, entity: entity(ov: false)),
            record(.entityRemoved, entity: entity(ov: false)), record(.entityCreated, entity: relation),
            record(.entityChanged, seq: 8, delta: #"{"ovChanged":true,"delta":[]}"#),
            record(.entitiesMerged, delta: #"{"ovChanged":false,"delta":[]}"#, uris: ["entities/L1"]),
            record(.entityLostMerge, uris: ["entities/W", "entities/E1"]),
            record(.potentialMatchesFound, details: #"[{"uri":"entities/E2","matchRules":["x"]}]"#),
        ]
    }()

    func bytes(_ body: (inout JSONWriter) throws -> Void) rethrows -> String {
        var w = JSONWriter()
        w.beginArray()
        try body(&w)
        w.endArray()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test func eventsFromTheStoredBytesAreTheSameAsAfterDecoding() throws {
        var stored = StoredEntityRenderer()
        for record in Self.storedRecords {
            var fromStored = false
            let fast = bytes { w in fromStored = APIServer.renderEventFromStored(record, into: &w, stored: &stored) }
            #expect(fromStored, "\(record.event.type) is rendered from the stored bytes")
            let decoded = try bytes { w in try APIServer.renderEventDecoded(record, into: &w) }
            #expect(fast == decoded, "\(record.event.type):\n\(fast)\n\(decoded)")
            let chosen = try bytes { w in try APIServer.renderEvent(record, into: &w, stored: &stored) }
            #expect(chosen == decoded)
        }
        // Several in one array: the commas between them.
        let all = try bytes { w in for r in Self.storedRecords { try APIServer.renderEvent(r, into: &w, stored: &stored) } }
        let allDecoded = try bytes { w in for r in Self.storedRecords { try APIServer.renderEventDecoded(r, into: &w) } }
        #expect(all == allDecoded)
        #expect(try JSONParser.parse(all).arrayValue?.count == Self.storedRecords.count)
    }

    @Test func anEventTheStoredRendererDoesNotTakeIsDecodedAndWhatItWroteIsDropped() throws {
        // An escaped string: the stored renderer gives up after the header was written.
        let escaped = Self.record(.entityCreated, entity: Self.entity(first: "A \"quoted\" name"))
        var stored = StoredEntityRenderer()
        var probe = JSONWriter()
        #expect(!APIServer.renderEventFromStored(escaped, into: &probe, stored: &stored))
        #expect(!probe.bytes.isEmpty, "it had written the header")
        let records = [Self.storedRecords[0], escaped, Self.storedRecords[1]]
        let mixed = try bytes { w in for r in records { try APIServer.renderEvent(r, into: &w, stored: &stored) } }
        let decoded = try bytes { w in for r in records { try APIServer.renderEventDecoded(r, into: &w) } }
        #expect(mixed == decoded)
        #expect(mixed.contains(#"A \"quoted\" name"#))
    }
}
