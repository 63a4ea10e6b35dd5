import HeraldConfig
import HeraldJSON
import HeraldModel
import HeraldPayload
import Testing

struct PayloadRendererTests {
    static let type = "configuration/entityTypes/Individual"

    static func entity(first: String = "Ann", padding: Int = 0) -> Entity {
        var e = Entity(id: "E1", type: type, createdBy: "u", createdTime: 10, updatedTime: 20)
        e.crosswalks = [Crosswalk(id: "c1", type: "configuration/sources/CRM", value: "1", createDate: 1, updateDate: 2)]
        e.attributes = [
            AttributeEntry(name: "FirstName", values: [AttributeValue(id: "v1", content: .simple(first), ov: true, sources: ["c1"])]),
            AttributeEntry(
                name: "LastName",
                values: [
                    AttributeValue(id: "v2", content: .simple("Lee"), ov: true, sources: ["c1"]),
                    AttributeValue(id: "v3", content: .simple("Li" + String(repeating: "x", count: padding)), ov: false, sources: ["c1"]),
                ]),
        ]
        return e
    }

    static func record(_ type: EventType = .entityCreated, entity: Entity = entity(), uris: [String] = []) -> EventRecord {
        EventRecord(
            seq: 7, tenant: "t1",
            event: NewEvent(
                type: type, objectURI: entity.uri, objectVersion: 3, time: 99, snapshot: entity.storedBytes(), delta: [], uris: uris))
    }

    func renderer(_ configure: (inout DestinationConfiguration) -> Void = { _ in }, largeObjects: Bool = false, analyze: Bool = true, limit: Int = 0)
        -> PayloadRenderer
    {
        var d = DestinationConfiguration(id: "p/q", provider: "p", name: "q")
        configure(&d)
        var s = StreamingConfiguration()
        s.largeObjectsSupport = largeObjects
        s.analyzeOvChanges = analyze
        return PayloadRenderer(tenant: "t1", destination: d, streaming: s, maxMessageBytes: limit)
    }

    func body(_ outcome: RenderOutcome) throws -> JSONValue {
        guard case .message(let m) = outcome else { throw Failure("expected a message, got \(outcome)") }
        return try JSONParser.parse(m.body)
    }

    struct Failure: Error { var text: String; init(_ t: String) { text = t } }

    func render(_ r: PayloadRenderer, _ rec: EventRecord = record()) throws -> RenderOutcome {
        let e = try rec.event.entity()
        return r.render(rec, entity: e, delta: rec.event.delta(for: e))
    }

    @Test func snapshotCarriesTheObjectAndHeaders() throws {
        let outcome = try render(renderer())
        guard case .message(let m) = outcome else { Issue.record("no message"); return }
        let json = try JSONParser.parse(m.body)
        #expect(json["type"] == .string("ENTITY_CREATED"))
        #expect(json["object"]?["uri"] == .string("entities/E1"))
        #expect(json["ovChanged"] == .bool(true))
        #expect(json["deltas"] == nil)
        let headers = Dictionary(uniqueKeysWithValues: m.headers.map { ($0.name, $0.value) })
        #expect(headers["tenantId"] == "t1")
        #expect(headers["eventType"] == "ENTITY_CREATED")
        #expect(headers["sourceObjectUri"] == "entities/E1")
        #expect(headers["objectVersion"] == "3")
        #expect(headers["updatedTime"] == "99")
        #expect(headers["messageId"] == m.id)
        #expect(m.key == "entities/E1")
        #expect(m.id.hasPrefix("7-"))
    }

    @Test func messageIdsAreStableAndDifferPerDestination() throws {
        let a = renderer { $0.id = "a" }
        let b = renderer { $0.id = "b" }
        #expect(a.messageId(seq: 5) == a.messageId(seq: 5))
        #expect(a.messageId(seq: 5) != b.messageId(seq: 5))
    }

    @Test func deltasReplaceTheObjectAndSnapshotWithDeltaCarriesBoth() throws {
        let deltas = try body(render(renderer { $0.payloadType = .deltas }))
        #expect(deltas["object"]?.objectValue?.map(\.key) == ["uri", "type"], "DELTAS names the object without its content")
        #expect(deltas["object"]?["uri"] == .string("entities/E1"))
        #expect(deltas["object"]?["type"] == .string("configuration/entityTypes/Individual"))
        #expect(deltas["deltas"]?["ovChanged"] == .bool(true))
        let items = try #require(deltas["deltas"]?["delta"]?.arrayValue)
        #expect(items.allSatisfy { $0["type"] == .string("ATTRIBUTE_ADDED") || $0["type"] == .string("CROSSWALK_ADDED") })
        #expect(items.count == 4)
        let both = try body(render(renderer { $0.payloadType = .snapshotWithDelta }))
        #expect(both["object"] != nil)
        #expect(both["deltas"]?["delta"]?.arrayValue?.count == 4)
    }

    @Test func payloadFieldsAndOvOnlyTrimTheObject() throws {
        let json = try body(
            render(renderer {
                $0.payloadFields = ["uri", "attributes.LastName"]
                $0.ovOnly = true
            }))
        let object = try #require(json["object"]?.objectValue)
        #expect(object.map(\.key) == ["uri", "attributes"])
        let last = json["object"]?["attributes"]?["LastName"]?.arrayValue ?? []
        #expect(last.compactMap { $0["value"]?.stringValue } == ["Lee"], "ovOnly drops the non-operational value")
        #expect(json["object"]?["attributes"]?["FirstName"] == nil)
    }

    @Test func mergeEventsCarryUris() throws {
        let json = try body(render(renderer(), PayloadRendererTests.record(.entitiesMerged, uris: ["entities/A", "entities/B"])))
        #expect(json["type"] == .string("ENTITIES_MERGED"))
        #expect(json["uris"] == .array([.string("entities/A"), .string("entities/B")]))
        #expect(json["updatedTime"] == .number("99"))
        #expect(json["object"] == nil)
    }

    @Test func ovChangedOnlyWithAnalyzeOvChanges() throws {
        let json = try body(render(renderer(analyze: false)))
        #expect(json["ovChanged"] == nil)
    }

    @Test func zipBase64DecodesToTheJSONBody() throws {
        let plain = renderer()
        let zipped = renderer { $0.format = .jsonZipBase64 }
        guard case .message(let p) = try render(plain), case .message(let z) = try render(zipped) else {
            Issue.record("no message")
            return
        }
        let decoded = try #require(Base64.decode(z.body))
        #expect(decoded.prefix(2) == [0x1F, 0x8B], "gzip magic")
        #expect(GzipCompressor.decompress(decoded) == p.body)
        // The compressor is reused: a second message decodes too.
        guard case .message(let z2) = try render(zipped) else { return }
        #expect(GzipCompressor.decompress(Base64.decode(z2.body) ?? []) == p.body)
    }

    @Test func oversizedMessagesAreFlaggedOrDeadLettered() throws {
        let big = PayloadRendererTests.record(entity: PayloadRendererTests.entity(padding: 5000))
        let refused = try render(renderer(limit: 2000), big)
        guard case .tooLarge(_, let size, let limit) = refused else { Issue.record("expected tooLarge"); return }
        #expect(size > 2000)
        #expect(limit == 2000)

        let flagged = try render(renderer(largeObjects: true, limit: 2000), big)
        guard case .message(let m) = flagged else { Issue.record("expected a message"); return }
        let json = try JSONParser.parse(m.body)
        #expect(json["exceededQueueSizeLimit"] == .bool(true))
        #expect(json["object"] == nil)
        #expect(json["ovChanged"] == .bool(true))
        #expect(m.headers.contains { $0.name == "sourceObjectUri" && $0.value == "entities/E1" })
    }

    @Test(arguments: [[UInt8](), [0], [1, 2], [1, 2, 3], Array("hello world, herald".utf8)])
    func base64RoundTrips(bytes: [UInt8]) {
        let encoded = Base64.encode(bytes)
        #expect(encoded.count % 4 == 0)
        #expect(Base64.decode(encoded) == bytes)
    }

    @Test func base64MatchesTheRFCVectors() {
        for (input, output) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            #expect(String(decoding: Base64.encode(Array(input.utf8)), as: UTF8.self) == output)
        }
    }
}

/// `renderFromStored` (no decoded entity) gives the message `render(_:entity:delta:)` gives, and declines what it
/// cannot render alone.
struct RenderFromStoredTests {
    typealias T = PayloadRendererTests

    func both(_ r: PayloadRenderer, _ rec: EventRecord) throws -> (fast: RenderOutcome?, decoded: RenderOutcome) {
        let fast = r.renderFromStored(rec)
        let e = try rec.event.entity()
        return (fast, r.render(rec, entity: e, delta: rec.event.delta(for: e)))
    }

    static func parts(_ o: RenderOutcome) -> (String, [String], [UInt8]) {
        switch o {
        case .message(let m): return ("message", m.headers.map { "\($0.name)=\($0.value)" }, m.body)
        case .tooLarge(let m, let size, let limit): return ("tooLarge \(size) \(limit)", m.headers.map { "\($0.name)=\($0.value)" }, m.body)
        }
    }

    @Test func snapshotsAreTheSameMessageAsFromTheDecodedEntity() throws {
        var relation = T.entity()
        relation.endpoints = RelationEndpoints(startId: "A", endId: "B")
        var noOV = T.entity()
        for i in noOV.attributes.indices { for j in noOV.attributes[i].values.indices { noOV.attributes[i].values[j].ov = false } }
        let records: [EventRecord] = [
            T.record(.entityCreated), T.record(.entityChanged), T.record(.entityRemoved), T.record(.entityCreated, entity: noOV),
            T.record(.entityRemoved, entity: noOV), T.record(.entityLostMerge, uris: ["entities/W", "entities/E1"]),
            T.record(.entityCreated, entity: relation),
            EventRecord(
                seq: 8, tenant: "t1",
                event: NewEvent(
                    type: .entityChanged, objectURI: "entities/E1", objectVersion: 4, time: 100, snapshot: T.entity().storedBytes(),
                    delta: Array(#"{"ovChanged":true,"delta":[]}"#.utf8))),
            EventRecord(
                seq: 9, tenant: "t1",
                event: NewEvent(
                    type: .potentialMatchesFound, objectURI: "entities/E1", objectVersion: 4, time: 100,
                    snapshot: T.entity().storedBytes(), delta: [], details: Array(#"[{"uri":"entities/E2","matchRules":["x"]}]"#.utf8))),
        ]
        var renderers: [PayloadRenderer] = []
        for format in MessageFormat.allCases {
            for analyze in [true, false] {
                renderers.append(T().renderer({ $0.format = format }, analyze: analyze))
            }
        }
        renderers.append(T().renderer { $0.payloadFields = ["uri", "attributes.LastName", "crosswalks"] })
        renderers.append(T().renderer { $0.ovOnly = true })
        renderers.append(T().renderer(largeObjects: true, limit: 300))
        renderers.append(T().renderer(largeObjects: false, limit: 300))
        for payloadType in [PayloadType.deltas, .snapshotWithDelta] {
            for format in MessageFormat.allCases {
                renderers.append(T().renderer {
                    $0.payloadType = payloadType
                    $0.format = format
                })
            }
        }
        var compared = 0
        var deltasCompared = 0
        var derivedCompared = 0
        for r in renderers {
            for rec in records {
                let (fast, decoded) = try both(r, rec)
                compared += 1
                if r.destination.payloadType != .snapshot { deltasCompared += 1 }
                // A creation's or removal's delta, derived from the stored bytes.
                if r.destination.payloadType != .snapshot && rec.event.delta.isEmpty
                    && (rec.type == .entityCreated || rec.type == .entityRemoved)
                {
                    derivedCompared += 1
                }
                let f = try #require(fast, "\(r.destination.payloadType) of \(rec.type) is rendered from the stored bytes")
                let a = Self.parts(f)
                let b = Self.parts(decoded)
                #expect(
                    a.0 == b.0 && a.1 == b.1 && a.2 == b.2,
                    "\(rec.type) \(r.destination.payloadType) \(r.destination.format): \(String(decoding: a.2, as: UTF8.self))")
            }
        }
        #expect(
            compared >= 100 && deltasCompared >= 36 && derivedCompared >= 20,
            "\(compared) messages compared, \(deltasCompared) with deltas, \(derivedCompared) derived")
    }

    @Test func subAttributesMergeEventsAndEscapedStringsAreLeftToTheDecodedPath() throws {
        #expect(T().renderer { $0.payloadFields = ["uri", "attributes.Address.City"] }.renderFromStored(T.record()) == nil)
        // A crosswalk type that is not ASCII: its source name is left to the decoded path's Character search.
        var accented = T.entity()
        accented.crosswalks[0].type = "configuration/sources/Caf\u{E9}"
        for payloadType in [PayloadType.deltas, .snapshotWithDelta] {
            let r = T().renderer { $0.payloadType = payloadType }
            #expect(r.renderFromStored(T.record(.entityCreated, entity: accented)) == nil)
            #expect(r.renderFromStored(T.record(.entityCreated)) != nil)
        }
        #expect(T().renderer().renderFromStored(T.record(.entityCreated, entity: accented)) != nil)
        let whole = T().renderer()
        #expect(whole.renderFromStored(T.record(.entitiesMerged, uris: ["entities/A", "entities/B"])) == nil)
        #expect(whole.renderFromStored(T.record(entity: T.entity(first: "say \"hi\""))) == nil)
        #expect(whole.renderFromStored(T.record()) != nil)
    }
}
