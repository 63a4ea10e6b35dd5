import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// The REST API against the real `herald serve` binary, on each store backend (the scenarios are in
/// `EntityAPIScenario`, one server per test).
@Suite(.blocking, .timeLimit(.minutes(10)))
struct EntityAPITests {
    @Test(arguments: TestStoreBackend.allCases)
    func createUpdateUnchangedDeleteWithEventsAndVersions(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).createUpdateUnchangedDeleteWithEventsAndVersions()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func validItemsCommitWhenOthersInTheBatchFail(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).validItemsCommitWhenOthersInTheBatchFail()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func limitsAreItemErrors(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).limitsAreItemErrors()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func malformedRequestsGetClearErrorsAndLoseNothing(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).malformedRequestsGetClearErrorsAndLoseNothing()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func eventsArePagedBySequence(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).eventsArePagedBySequence()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func healthAndMetrics(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).healthAndMetrics()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func sigtermStopsGracefully(_ backend: TestStoreBackend) throws {
        try EntityAPIScenario(backend).sigtermStopsGracefully()
    }
}

/// A `herald serve` with the test tenant on a store of the given backend, its helpers, and the scenarios
/// `EntityAPITests` runs.
struct EntityAPIScenario {
    let dir = TemporaryDirectory()
    let server: HeraldProcess
    let client: TestClient

    init(_ backend: TestStoreBackend) throws {
        let store = try TestStore(backend, name: "entityapi")
        let config = TestConfiguration.write(in: dir.path, store: store)
        server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        client = TestClient(baseURL: server.baseURL)
    }

    func postOne(_ entity: String) throws -> JSONValue {
        let r = try client.post("/api/t1/entities", "[\(entity)]")
        #expect(r.status == 200, "\(r.text)")
        return r.json?.arrayValue?.first ?? .null
    }

    func createUpdateUnchangedDeleteWithEventsAndVersions() throws {
        let created = try postOne(TestConfiguration.person(id: "c1", first: "Jon", last: "Smith"))
        #expect(created["status"] == .string("created"))
        let uri = try #require(created["uri"]?.stringValue)

        let updated = try postOne(TestConfiguration.person(id: "c1", first: "John", last: "Smith"))
        #expect(updated["status"] == .string("updated"))
        #expect(updated["uri"]?.stringValue == uri)

        let unchanged = try postOne(TestConfiguration.person(id: "c1", first: "John", last: "Smith"))
        #expect(unchanged["status"] == .string("unchanged"))

        let get = try client.get("/api/t1/\(uri)")
        #expect(get.status == 200)
        #expect(get.json?["attributes"]?["FirstName"]?.arrayValue?.first?["value"] == .string("John"))

        let deleted = try client.request("DELETE", "/api/t1/\(uri)")
        #expect(deleted.status == 200)
        #expect(deleted.json?["objectVersion"] == .number("3"))
        #expect(try client.get("/api/t1/\(uri)").status == 404)
        #expect(try client.request("DELETE", "/api/t1/\(uri)").status == 404)

        let events = try client.events(tenant: "t1")
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["ENTITY_CREATED", "ENTITY_CHANGED", "ENTITY_REMOVED"])
        #expect(events.map { $0["objectVersion"]?.int64Value ?? 0 } == [1, 2, 3])
        #expect(events.allSatisfy { $0["objectUri"]?.stringValue == uri })
        let change = events[1]
        let deltaItem = change["deltas"]?["delta"]?.arrayValue?.first
        #expect(deltaItem?["type"] == .string("ATTRIBUTE_CHANGED"))
        #expect(deltaItem?["oldValue"]?["value"] == .string("Jon"))
        #expect(deltaItem?["newValue"]?["value"] == .string("John"))
        #expect(change["object"]?["attributes"]?["FirstName"]?.arrayValue?.first?["value"] == .string("John"))

        // After removal the crosswalk is free again: posting it creates a new entity.
        let again = try postOne(TestConfiguration.person(id: "c1", first: "John"))
        #expect(again["status"] == .string("created"))
        #expect(again["uri"]?.stringValue != uri)
    }

    func validItemsCommitWhenOthersInTheBatchFail() throws {
        let body = """
            [\(TestConfiguration.person(id: "p1", first: "Ann")),
             \(TestConfiguration.person(id: "p2", first: "Bob", extra: "\"Nickname\": [\"B\"]")),
             {"type": "configuration/entityTypes/Individual", "attributes": {"Age": ["ten"]}, "crosswalks": [{"type": "configuration/sources/CRM", "value": "p3"}]},
             \(TestConfiguration.person(id: "p4", first: "Dee"))]
            """
        let r = try client.post("/api/t1/entities", body)
        #expect(r.status == 200)
        let results = try #require(r.json?.arrayValue)
        #expect(results.count == 4)
        #expect(results.map { $0["successful"]?.boolValue } == [true, false, false, true])
        #expect(results.map { $0["index"]?.int64Value } == [0, 1, 2, 3])
        #expect(results[1]["errors"]?["errorCode"] == .string("UNKNOWN_ATTRIBUTE"))
        #expect(results[1]["errors"]?["path"] == .string("[1].attributes.Nickname"))
        #expect(results[2]["errors"]?["errorCode"] == .string("INVALID_ATTRIBUTE_VALUE"))
        #expect(results[2]["errors"]?["path"] == .string("[2].attributes.Age[0]"))
        let events = try client.events(tenant: "t1")
        #expect(events.count == 2, "only the two valid items produced events")

        // A failed item changes nothing: p1 posted again with a bad value stays as it was.
        let bad = try postOne(TestConfiguration.person(id: "p1", first: "Ann", extra: "\"BirthDate\": [\"31/12/1999\"]"))
        #expect(bad["successful"] == .bool(false))
        #expect(try client.events(tenant: "t1").count == 2)
    }

    func limitsAreItemErrors() throws {
        let big = String(repeating: "x", count: 65)
        let r = try postOne(TestConfiguration.person(id: "L1", first: big))
        #expect(r["errors"]?["errorCode"] == .string("LIMIT_EXCEEDED"))
        #expect(r["errors"]?["path"] == .string("[0].attributes.FirstName[0].value"))
        let many = try postOne(
            TestConfiguration.person(id: "L2", extra: "\"Email\": [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]"))
        #expect(many["errors"]?["errorCode"] == .string("LIMIT_EXCEEDED"))
    }

    func malformedRequestsGetClearErrorsAndLoseNothing() throws {
        _ = try postOne(TestConfiguration.person(id: "keep", first: "Kept"))

        let broken = try client.post("/api/t1/entities", "[{\"type\": \"x\",\n \"attributes\": {]")
        #expect(broken.status == 400)
        #expect(broken.json?["errorCode"] == .string("MALFORMED_JSON"))
        #expect(broken.json?["offset"] == .number("31"))
        #expect(broken.json?["line"] == .number("2"))

        let notArray = try client.post("/api/t1/entities", "{}")
        #expect(notArray.status == 400)
        #expect(notArray.json?["errorCode"] == .string("INVALID_REQUEST"))

        let tenant = try client.post("/api/nope/entities", "[]")
        #expect(tenant.status == 404)
        #expect(tenant.json?["errorCode"] == .string("UNKNOWN_TENANT"))

        let huge = "[" + String(repeating: "1,", count: 600_000) + "1]"
        let tooLarge = try client.post("/api/t1/entities", huge)
        #expect(tooLarge.status == 413)
        #expect(tooLarge.json?["errorCode"] == .string("REQUEST_TOO_LARGE"))

        let param = try client.get("/api/t1/events?limit=abc")
        #expect(param.status == 400)
        #expect(param.json?["errorCode"] == .string("INVALID_PARAMETER"))

        let missing = try client.get("/api/t1/entities/doesnotexist")
        #expect(missing.status == 404)
        #expect(missing.json?["errorCode"] == .string("ENTITY_NOT_FOUND"))

        // The server still works and the earlier entity is intact.
        let events = try client.events(tenant: "t1")
        #expect(events.count == 1)
        let uri = try #require(events.first?["objectUri"]?.stringValue)
        #expect(try client.get("/api/t1/\(uri)").json?["attributes"]?["FirstName"]?.arrayValue?.first?["value"] == .string("Kept"))
    }

    func eventsArePagedBySequence() throws {
        var body: [String] = []
        for i in 0..<25 { body.append(TestConfiguration.person(id: "s\(i)", first: "N\(i)")) }
        #expect(try client.post("/api/t1/entities", "[\(body.joined(separator: ","))]").status == 200)
        let page1 = try client.get("/api/t1/events?limit=10")
        let events1 = try #require(page1.json?["events"]?.arrayValue)
        #expect(events1.count == 10)
        let next = try #require(page1.json?["next"]?.int64Value)
        let page2 = try client.get("/api/t1/events?after=\(next)&limit=100")
        let events2 = try #require(page2.json?["events"]?.arrayValue)
        #expect(events2.count == 15)
        #expect(events2.first?["seq"]?.int64Value ?? 0 > next)
        let all = (events1 + events2).map { $0["seq"]!.int64Value! }
        #expect(all == all.sorted())
        #expect(Set(all).count == 25)
    }

    func healthAndMetrics() throws {
        _ = try postOne(TestConfiguration.person(id: "m1", first: "M"))
        let health = try client.get("/health")
        #expect(health.status == 200)
        #expect(health.json?["status"] == .string("UP"))
        let metrics = try client.get("/metrics")
        #expect(metrics.status == 200)
        // Every metric carries this node's id (`--port 0`: host:0-pid…).
        func line(_ prefix: String) -> String? {
            metrics.text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
        }
        let written = line(#"herald_entities_written_total{tenant="t1",outcome="created",node=""#)
        #expect(written?.hasSuffix("} 1") == true, "\(metrics.text.prefix(2000))")
        #expect(line(#"herald_queue_events{tenant="t1",node=""#)?.contains("} 1") == true)
        #expect(line(#"herald_http_requests_total{"#)?.contains(#"node=""#) == true)
    }

    func sigtermStopsGracefully() throws {
        _ = try postOne(TestConfiguration.person(id: "g1", first: "G"))
        #expect(server.stop() == 0)
        #expect(server.log.contains("herald stopped"))
    }
}
