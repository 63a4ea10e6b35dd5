import Foundation
import HeraldJSON
import HeraldPayload
import HeraldTestSupport
import Testing

/// Streaming semantics end to end: the real daemon, the file sink, and what each destination receives. The tests
/// that go through the store's queue, cursors and dead letters run on each store backend.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct StreamingTests {
    struct Message {
        var headers: [String: String]
        var key: String
        var body: JSONValue
        var rawBody: String
    }

    static func messages(_ path: String, destination: String? = nil) -> [Message] {
        StreamingTestSupport.readLines(path).compactMap { line in
            var headers: [String: String] = [:]
            for m in line["headers"]?.objectValue ?? [] { headers[m.key] = m.value.stringValue }
            if let destination, !(headers["messageId"] ?? "").hasSuffix("-" + StreamingTestSupport.idSuffix(destination)) { return nil }
            let raw = line["body"]?.stringValue ?? ""
            return Message(
                headers: headers, key: line["key"]?.stringValue ?? "", body: (try? JSONParser.parse(raw)) ?? .null, rawBody: raw)
        }
    }

    func start(_ dir: TemporaryDirectory, store: TestStore? = nil, streaming: String) throws -> (HeraldProcess, TestClient) {
        try StreamingTestSupport.start(dir, streaming: streaming, store: store)
    }

    func drained(_ client: TestClient, _ ids: [String]) -> Bool {
        StreamingTestSupport.eventually(timeout: 30) {
            ids.allSatisfy { id in
                let s = try? StreamingTestSupport.destinationStatus(client, id: id)
                return s?["lagEvents"] == .number("0") && s?["retryBacklog"] == .number("0")
            }
        }
    }

    @Test(arguments: TestStoreBackend.allCases)
    func twoDestinationsOnOneQueueReceiveExactlyWhatTheyAskFor(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let out = dir.file("q.ndjson")
        let (server, client) = try start(
            dir, store: TestStore(backend, name: "twodestinations"),
            streaming: """
                {"analyzeOvChanges": true, "messaging": {
                  "providers": {"files": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [
                    {"provider": "files", "name": "events", "typeFilter": ["ENTITY_CREATED"], "batch": {"lingerMs": 0}},
                    {"provider": "files", "name": "events", "typeFilter": ["ENTITY_CHANGED", "ENTITY_REMOVED"],
                     "objectFilter": "equals(attributes.LastName, 'smith') or missing(attributes.LastName)", "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        #expect(try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "Ann", last: "Smith")), \(TestConfiguration.person(id: "2", first: "Bob", last: "Jones"))]").status == 200)
        #expect(try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "Anne", last: "Smith")), \(TestConfiguration.person(id: "2", first: "Rob", last: "Jones"))]").status == 200)
        #expect(drained(client, ["files/events", "files/events#2"]))
        let created = StreamingTests.messages(out, destination: "files/events")
        let changes = StreamingTests.messages(out, destination: "files/events#2")
        #expect(created.count == 2)
        #expect(created.allSatisfy { $0.headers["eventType"] == "ENTITY_CREATED" && $0.body["type"] == .string("ENTITY_CREATED") })
        #expect(changes.count == 1, "only Smith's change passes the object filter")
        let change = try #require(changes.first)
        #expect(change.body["type"] == .string("ENTITY_CHANGED"))
        #expect(change.body["object"]?["attributes"]?["FirstName"]?.arrayValue?.first?["value"] == .string("Anne"))
        #expect(change.body["ovChanged"] == .bool(true))
        for m in created + changes {
            for header in ["tenantId", "eventType", "sourceObjectUri", "objectVersion", "updatedTime", "messageId"] {
                #expect(m.headers[header] != nil, "header \(header)")
            }
            #expect(m.headers["tenantId"] == "t1")
            #expect(m.key == m.headers["sourceObjectUri"])
        }
        #expect(change.headers["objectVersion"] == "2")
    }

    /// A destination whose object filter names a few attributes tests each event on an entity decoded only that far
    /// (`ObjectFilter.decodeScope`), then renders the ones that pass from the whole stored entity: its messages are
    /// the bytes an unfiltered destination with the same payload receives, for every payload type, and it receives
    /// exactly the events the filter passes.
    @Test func aFilterOnAFewAttributesSendsTheWholeMessage() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("f.ndjson")
        var destinations: [String] = []
        for payload in ["SNAPSHOT", "SNAPSHOT_WITH_DELTA", "DELTAS"] {
            destinations.append(#"{"provider": "files", "name": "all-\#(payload)", "payloadType": "\#(payload)", "batch": {"lingerMs": 0}}"#)
            destinations.append(
                #"{"provider": "files", "name": "smiths-\#(payload)", "payloadType": "\#(payload)", "batch": {"lingerMs": 0}, "objectFilter": "equals(attributes.LastName, 'smith')"}"#)
        }
        // A sub-attribute selection is rendered from the decoded entity.
        destinations.append(
            #"{"provider": "files", "name": "cities", "payloadFields": ["uri", "attributes.Address.City"], "batch": {"lingerMs": 0}}"#)
        let (server, client) = try start(
            dir,
            streaming: """
                {"analyzeOvChanges": true, "messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [\(destinations.joined(separator: ","))]}}
                """)
        defer { withExtendedLifetime(server) {} }
        let people = [
            TestConfiguration.person(id: "1", first: "Ann", last: "Smith", email: "ann@x.com"),
            TestConfiguration.person(id: "2", first: "Bob", last: "Jones", email: "bob@x.com"),
            TestConfiguration.person(source: "ERP", id: "3", first: "Cy", last: "smith"),
        ]
        #expect(try client.post("/api/t1/entities", "[\(people.joined(separator: ","))]").status == 200)
        #expect(
            try client.post(
                "/api/t1/entities",
                "[\(TestConfiguration.person(id: "1", first: "Anne", last: "Smith", email: "anne@x.com")), \(TestConfiguration.person(id: "2", first: "Rob", last: "Smith"))]"
            ).status == 200)
        let uri = try #require(
            client.post("/api/t1/entities", "[\(TestConfiguration.person(source: "ERP", id: "3", first: "Cyril", last: "smith"))]")
                .json?.arrayValue?.first?["uri"]?.stringValue)
        #expect(try client.request("DELETE", "/api/t1/\(uri)").status == 200)
        let ids = ["SNAPSHOT", "SNAPSHOT_WITH_DELTA", "DELTAS"].flatMap { ["files/all-\($0)", "files/smiths-\($0)"] }
        #expect(drained(client, ids + ["files/cities"]))
        func key(_ m: Message) -> String {
            m.headers["sourceObjectUri", default: ""] + "@" + m.headers["objectVersion", default: ""] + " " + m.headers["eventType", default: ""]
        }
        // The events whose entity is a Smith, from the unfiltered snapshots: Bob is created a Jones and becomes a Smith;
        // Cy's removal carries Cy.
        let snapshots = StreamingTests.messages(out, destination: "files/all-SNAPSHOT")
        let smithKeys = snapshots.filter {
            $0.body["object"]?["attributes"]?["LastName"]?.arrayValue?.first?["value"]?.stringValue?.lowercased() == "smith"
        }.map(key).sorted()
        #expect(snapshots.count == 7, "3 creations, 3 changes, 1 removal")
        #expect(smithKeys.count == 6)
        for payload in ["SNAPSHOT", "SNAPSHOT_WITH_DELTA", "DELTAS"] {
            let all = StreamingTests.messages(out, destination: "files/all-\(payload)")
            let smiths = StreamingTests.messages(out, destination: "files/smiths-\(payload)")
            #expect(smiths.map(key).sorted() == smithKeys, "\(payload): exactly the Smiths' events")
            var bodies: [String: String] = [:]
            for m in all { bodies[key(m)] = m.rawBody }
            for m in smiths {
                #expect(bodies[key(m)] == m.rawBody, "\(payload) \(key(m)): the same bytes as the unfiltered destination")
            }
            if payload != "DELTAS" {
                // The whole entity, not the filter's part of it.
                #expect(smiths.allSatisfy { $0.body["object"]?["attributes"]?["FirstName"] != nil && $0.body["object"]?["crosswalks"] != nil })
            }
        }
        // How the daemon made them (the status' `renders`): every one from the stored bytes, the filtered destinations'
        // after decoding only the filter's attribute, the creations' and the removal's deltas derived from the stored
        // bytes too. The sub-attribute selection is the control: each of its messages decoded the entity.
        for id in ids {
            let renders = try StreamingTestSupport.destinationStatus(client, id: id)?["renders"]
            #expect(renders?["afterDecoding"] == .number("0"), "\(id): \(String(describing: renders))")
            #expect(renders?["fromStoredBytes"] == .number(id.contains("smiths") ? "6" : "7"), "\(id): \(String(describing: renders))")
        }
        let cities = try StreamingTestSupport.destinationStatus(client, id: "files/cities")?["renders"]
        #expect(cities?["afterDecoding"] == .number("7") && cities?["fromStoredBytes"] == .number("0"), "\(String(describing: cities))")
        // The same figures as gauges in /metrics.
        let metrics = try client.get("/metrics").text
        func gauge(_ name: String, _ destination: String) -> Double? {
            TenantIsolationTests.metric(metrics, "herald_destination_" + name, tenant: "t1", destination: destination)
        }
        #expect(gauge("renders_from_stored_bytes", "files/all-DELTAS") == 7 && gauge("renders_after_decoding", "files/all-DELTAS") == 0)
        #expect(gauge("renders_after_decoding", "files/cities") == 7 && gauge("renders_from_stored_bytes", "files/cities") == 0)
    }

    @Test(arguments: TestStoreBackend.allCases)
    func changesFilterWithDeltasSendsOnlyChangesOfOneAttribute(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let out = dir.file("d.ndjson")
        let (server, client) = try start(
            dir, store: TestStore(backend, name: "changesfilter"),
            streaming: """
                {"messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [{"provider": "files", "name": "email-changes", "payloadType": "DELTAS",
                                    "objectFilter": "changes(attributes.Email)", "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "Ann", email: "a@x.com"))]")
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "Anna", email: "a@x.com"))]")
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "Anna", email: "anna@x.com"))]")
        #expect(drained(client, ["files/email-changes"]))
        let received = StreamingTests.messages(out)
        // The creation adds Email (it changes); the first name change does not touch Email; the third does.
        #expect(received.map { $0.headers["objectVersion"] } == ["1", "3"])
        for m in received {
            #expect(m.body["object"]?.objectValue?.map(\.key) == ["uri", "type"], "DELTAS names the object, without its content")
            #expect(m.body["object"]?["uri"]?.stringValue == m.headers["sourceObjectUri"])
            #expect(m.body["object"]?["type"] == .string("configuration/entityTypes/Individual"))
            let items = m.body["deltas"]?["delta"]?.arrayValue ?? []
            #expect(items.contains { $0["attributeType"]?.stringValue?.hasSuffix("/attributes/Email") == true })
        }
        let last = try #require(received.last?.body["deltas"]?["delta"]?.arrayValue)
        let emailChange = last.first { $0["attributeType"]?.stringValue?.hasSuffix("/Email") == true }
        #expect(emailChange?["type"] == .string("ATTRIBUTE_CHANGED"))
        #expect(emailChange?["oldValue"]?["value"] == .string("a@x.com"))
        #expect(emailChange?["newValue"]?["value"] == .string("anna@x.com"))
    }

    @Test func selectedFieldsOvOnlyAndZipBase64() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("f.ndjson")
        let (server, client) = try start(
            dir,
            streaming: """
                {"messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [
                    {"provider": "files", "name": "full", "batch": {"lingerMs": 0}},
                    {"provider": "files", "name": "zipped", "format": "JSON_ZIP_BASE64", "batch": {"lingerMs": 0}},
                    {"provider": "files", "name": "slim", "payloadFields": ["uri", "type", "updatedTime", "attributes.FirstName", "crosswalks"],
                     "ovOnly": true, "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        // Two sources give two first names; LUD makes the later one operational.
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "Ann", last: "Lee"))]")
        let both = """
            [{"type": "configuration/entityTypes/Individual", "attributes": {"FirstName": ["Anne"]},
              "crosswalks": [{"type": "configuration/sources/ERP", "value": "9"}, {"type": "configuration/sources/CRM", "value": "1"}]}]
            """
        _ = try client.post("/api/t1/entities", both)
        #expect(drained(client, ["files/full", "files/zipped", "files/slim"]))
        let full = StreamingTests.messages(out, destination: "files/full")
        let zipped = StreamingTests.messages(out, destination: "files/zipped")
        let slim = StreamingTests.messages(out, destination: "files/slim")
        #expect(full.count == 2 && zipped.count == 2 && slim.count == 2)
        for (z, f) in zip(zipped, full) {
            let bytes = try #require(Base64.decode(Array(z.rawBody.utf8)))
            #expect(bytes.prefix(2) == [0x1F, 0x8B], "gzip")
            let unzipped = try #require(GzipCompressor.decompress(bytes))
            #expect(String(decoding: unzipped, as: UTF8.self) == f.rawBody, "the same body as the JSON destination")
        }
        let object = try #require(slim.last?.body["object"])
        #expect(object.objectValue?.map(\.key) == ["uri", "type", "updatedTime", "attributes", "crosswalks"])
        #expect(object["attributes"]?.objectValue?.map(\.key) == ["FirstName"])
        #expect(object["attributes"]?["FirstName"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == ["Anne"])
        #expect(full.last?.body["object"]?["attributes"]?["FirstName"]?.arrayValue?.count == 2, "the full snapshot has both")
    }

    @Test(arguments: [false, true], TestStoreBackend.allCases)
    func oversizedEntitiesAreDeadLetteredOrFlagged(largeObjects: Bool, backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let out = dir.file("o.ndjson")
        let (server, client) = try start(
            dir, store: TestStore(backend, name: "oversized"),
            streaming: """
                {"largeObjectsSupport": \(largeObjects), "messaging": {
                  "providers": {"files": {"plugin": "file", "config": {"path": "\(out)", "maxMessageBytes": 1400}}},
                  "destinations": [{"provider": "files", "name": "small", "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        let big = (0..<5).map { "\"e\($0)-\(String(repeating: "x", count: 40))@example.com\"" }.joined(separator: ",")
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "small", first: "Ann"))]")
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "big", first: "Bo", extra: "\"Email\": [\(big)]"))]")
        #expect(drained(client, ["files/small"]))
        let received = StreamingTests.messages(out)
        let letters = try client.get("/api/t1/streaming/dlq").json?["deadLetters"]?.arrayValue ?? []
        if largeObjects {
            #expect(received.count == 2)
            let flagged = try #require(received.last)
            #expect(flagged.body["exceededQueueSizeLimit"] == .bool(true))
            #expect(flagged.body["object"] == nil)
            #expect(flagged.body["type"] == .string("ENTITY_CREATED"))
            #expect(flagged.body["ovChanged"] != nil)
            #expect(flagged.headers["sourceObjectUri"]?.hasPrefix("entities/") == true)
            #expect(letters.isEmpty)
        } else {
            #expect(received.count == 1)
            let letter = try #require(letters.first)
            #expect(letter["status"] == .string("TOO_LARGE"))
            let reason = letter["reason"]?.stringValue ?? ""
            #expect(reason.contains("the limit of file is 1400"), "\(reason)")
        }
    }

    @Test func validateEndpointAndFilterTestCommandExplainTheResult() throws {
        let dir = TemporaryDirectory()
        let (server, client) = try start(dir, streaming: #"{"messaging": {"providers": {}, "destinations": []}}"#)
        defer { withExtendedLifetime(server) {} }
        let posted = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "John", last: "Smith"))]")
        let uri = try #require(posted.json?.arrayValue?.first?["uri"]?.stringValue)

        let ok = try client.post(
            "/api/t1/objectFilter/validate",
            #"{"objectFilter": "equals(attributes.FirstName, 'JOHN') and not exists(attributes.Email)", "typeFilter": ["ENTITY_CHANGED"], "sourceObjectUri": "\#(uri)"}"#)
        #expect(ok.status == 200)
        #expect(ok.json?["valid"] == .bool(true))
        #expect(ok.json?["passes"] == .bool(true))
        #expect(ok.json?["explanation"]?["children"]?.arrayValue?.count == 2)

        let wrongType = try client.post(
            "/api/t1/objectFilter/validate", #"{"objectFilter": "exists(attributes.FirstName)", "typeFilter": ["ENTITY_REMOVED"], "sourceObjectUri": "\#(uri)"}"#)
        #expect(wrongType.json?["passes"] == .bool(false))
        #expect(wrongType.json?["typeFilterPasses"] == .bool(false))
        #expect(wrongType.json?["objectFilterPasses"] == .bool(true))

        let invalid = try client.post("/api/t1/objectFilter/validate", #"{"objectFilter": "equals(attributes.FirstName", "sourceObjectUri": "\#(uri)"}"#)
        #expect(invalid.json?["valid"] == .bool(false))
        #expect(invalid.json?["error"]?["position"] != nil)

        let entity = try client.get("/api/t1/\(uri)").text
        try #"{"type": "ENTITY_CHANGED", "object": \#(entity)}"#.write(toFile: dir.file("event.json"), atomically: true, encoding: .utf8)
        let match = try runCommand(BuildProducts.herald, ["filter", "test", "--filter", "startsWith(attributes.LastName, 'smi')", "--event", dir.file("event.json")])
        #expect(match.status == 0)
        #expect(match.stdout.contains("match"))
        let noMatch = try runCommand(BuildProducts.herald, ["filter", "test", "--filter", "equals(attributes.LastName, 'jones')", "--event", dir.file("event.json")])
        #expect(noMatch.status == 1)
        #expect(noMatch.stdout.contains("no match"))
        let bad = try runCommand(BuildProducts.herald, ["filter", "test", "--filter", "equalz(attributes.LastName, 'x')", "--event", dir.file("event.json")])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("did you mean 'equals'"), "\(bad.stderr)")
    }
}

@Suite(.blocking, .timeLimit(.minutes(10)))
struct QueueCompactionTests {
    @Test(arguments: TestStoreBackend.allCases)
    func eventsEveryDestinationPassedAreCompactedOthersStay(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let store = try TestStore(backend, name: "compaction")
        let out = dir.file("c.ndjson")
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        func config(enabledSecond: Bool) -> String {
            TestConfiguration.write(
                in: dir.path, tenants: StreamingTestSupport.tenant(
                    streaming: """
                        {"messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(out)"}}},
                          "destinations": [{"provider": "files", "name": "a", "batch": {"lingerMs": 0}},
                                           {"provider": "files", "name": "b", "enabled": \(enabledSecond), "batch": {"lingerMs": 0}}]}}
                        """),
                extra: "\"pluginDirectories\": [\"\(plugins)\"],", store: store,
                storeKeys: "\"queueRetentionHours\": 0, \"compactionIntervalSeconds\": 1")
        }
        let path = config(enabledSecond: false)
        let server = try HeraldProcess(configPath: path, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 20, prefix: "c")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 20 })
        // Destination b is disabled at cursor 0: nothing may be deleted yet.
        Thread.sleep(forTimeInterval: 2.5)
        #expect(try client.events(tenant: "t1").count == 20, "a destination that has not read the events holds them")
        // Enable b: once it has read everything, the queue is compacted.
        _ = config(enabledSecond: true)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(StreamingTestSupport.eventually(timeout: 20) { StreamingTestSupport.readLines(out).count == 40 })
        #expect(StreamingTestSupport.eventually(timeout: 20) { (try? client.events(tenant: "t1").count) == 0 }, "compacted")
        // New events still flow and get new, higher sequence numbers.
        try StreamingTestSupport.postPeople(client, count: 1, prefix: "late")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 42 })
        let status = try StreamingTestSupport.destinationStatus(client, id: "files/a")
        #expect(status?["cursor"] == .number("21"))
    }
}
