import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Streaming behaviour a user of the platform relies on: lag that alerts can use, empty lists, what message
/// bodies say. The tests that go through the store's retry schedule and dead letters run on each store backend.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct StreamingSemanticsTests {
    func start(_ dir: TemporaryDirectory, store: TestStore? = nil, streaming: String) throws -> (HeraldProcess, TestClient) {
        try StreamingTestSupport.start(dir, streaming: streaming, store: store)
    }

    /// During an outage every message waits in the retry schedule while the cursor moves on: lag must show it.
    @Test(arguments: TestStoreBackend.allCases)
    func lagCountsTheRetrySchedule(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let (server, client) = try start(
            dir, store: TestStore(backend, name: "lag"),
            streaming: """
                {"messaging": {"providers": {"q": {"plugin": "test", "config": {"retryEveryNth": 1}}},
                  "destinations": [{"provider": "q", "name": "down", "retry": {"initialDelayMs": 600000, "maxDelayMs": 600000},
                                    "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        try StreamingTestSupport.postPeople(client, count: 30, prefix: "o")
        let parked = StreamingTestSupport.eventually {
            let s = try? StreamingTestSupport.destinationStatus(client, id: "q/down")
            return s?["cursor"] == .number("30") && s?["retryBacklog"] == .number("30")
        }
        #expect(parked, "every message should wait in the retry schedule")
        Thread.sleep(forTimeInterval: 1.1)
        // Full jitter draws each delay from 0 to 10 minutes: a message or two may have had its (successful)
        // second attempt by now, so lag is compared with the schedule in the same status.
        let status = try #require(try StreamingTestSupport.destinationStatus(client, id: "q/down"))
        let scheduled = status["retryBacklog"]?.doubleValue ?? 0
        #expect(scheduled >= 25, "\(status.serializedString())")
        #expect(status["lagEvents"]?.doubleValue == scheduled, "\(status.serializedString())")
        #expect((status["lagSeconds"]?.doubleValue ?? 0) >= 1, "\(status.serializedString())")
        let metrics = try client.get("/metrics").text
        let lag = TenantIsolationTests.metric(metrics, "herald_destination_lag_events", tenant: "t1", destination: "q/down") ?? 0
        #expect(lag >= 25 && lag <= 30, "herald_destination_lag_events \(lag)")
    }
}

extension StreamingSemanticsTests {
    /// A manual merge of two entities created earlier: the loser's message names the winner first and is dated
    /// at the merge, not at the loser's creation.
    @Test func entityLostMergeNamesTheWinnerAndIsDatedAtTheMerge() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("lost.ndjson")
        let (server, client) = try start(
            dir,
            streaming: """
                {"messaging": {"providers": {"f": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [{"provider": "f", "name": "lost", "typeFilter": ["ENTITY_LOST_MERGE"], "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        let first = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "w", first: "Win"))]")
        let winner = try #require(first.json?.arrayValue?.first?["uri"]?.stringValue)
        Thread.sleep(forTimeInterval: 0.05)
        let second = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "l", first: "Lose"))]")
        let loser = try #require(second.json?.arrayValue?.first?["uri"]?.stringValue)
        Thread.sleep(forTimeInterval: 0.05)
        let merged = try client.post("/api/t1/\(winner)/_sameAs?uri=\(loser)", "")
        #expect(merged.status == 200, "\(merged.text)")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 1 })
        let body = try JSONParser.parse(StreamingTestSupport.readLines(out).first?["body"]?.stringValue ?? "")
        #expect(body["uris"]?.arrayValue?.compactMap(\.stringValue) == [winner, loser])
        let created = body["object"]?["createdTime"]?.int64Value ?? 0
        let updated = body["object"]?["updatedTime"]?.int64Value ?? 0
        #expect(updated > created, "updatedTime \(updated) must be the merge's, after the creation \(created)")
        let events = try client.events(tenant: "t1")
        #expect(events.last?["type"] == .string("ENTITY_LOST_MERGE"))
        #expect(events.last?["time"]?.int64Value == updated)
    }

    /// DELTAS bodies say which object changed: `object` holds its `uri` and `type` only.
    @Test func deltasBodiesNameTheObject() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("d.ndjson")
        let (server, client) = try start(
            dir,
            streaming: """
                {"messaging": {"providers": {"f": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [{"provider": "f", "name": "d", "payloadType": "DELTAS", "typeFilter": [], "payloadFields": [],
                                    "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        let r = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "d", first: "Dee"))]")
        let uri = try #require(r.json?.arrayValue?.first?["uri"]?.stringValue)
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "d", first: "Dee", last: "Dot"))]")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 2 }, "typeFilter [] sends every type")
        for line in StreamingTestSupport.readLines(out) {
            let body = try JSONParser.parse(line["body"]?.stringValue ?? "")
            #expect(body["object"]?["uri"] == .string(uri))
            #expect(body["object"]?["type"] == .string("configuration/entityTypes/Individual"))
            #expect(body["object"]?["attributes"] == nil)
            #expect(body["deltas"]?["delta"]?.arrayValue?.isEmpty == false)
        }
    }
}

extension StreamingSemanticsTests {
    /// A replayed message is not a first attempt: the plugin's attempt number continues from the dead letter's
    /// attempts, and the replay gets a fresh retry budget.
    @Test(arguments: TestStoreBackend.allCases)
    func replayedMessagesContinueTheirAttemptCount(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let out = dir.file("r.ndjson")
        let (server, client) = try start(
            dir, store: TestStore(backend, name: "replay"),
            streaming: """
                {"messaging": {"providers": {"q": {"plugin": "test", "config": {"output": "\(out)", "retryEveryNth": 1}}},
                  "destinations": [{"provider": "q", "name": "once", "retry": {"maxAttempts": 1}, "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        try StreamingTestSupport.postPeople(client, count: 5, prefix: "r")
        // Every first attempt is RETRY and one attempt is allowed: all five are dead letters after attempt 1.
        #expect(StreamingTestSupport.eventually {
            (try? StreamingTestSupport.destinationStatus(client, id: "q/once"))?["deadLetterCount"] == .number("5")
        })
        let letters = try client.get("/api/t1/streaming/dlq").json?["deadLetters"]?.arrayValue ?? []
        #expect(letters.allSatisfy { $0["attempts"] == .number("1") })
        #expect(try client.post("/api/t1/streaming/dlq/_replay?all=true", "").json?["replayed"] == .number("5"))
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 5 }, "the replay is attempt 2, which the sink accepts")
        #expect(StreamingTestSupport.readLines(out).allSatisfy { $0["attempt"] == .number("2") })
        #expect(try StreamingTestSupport.destinationStatus(client, id: "q/once")?["deadLetterCount"] == .number("0"))
    }
}

extension StreamingSemanticsTests {
    /// A relative path in a plugin's configuration is relative to the configuration file's folder, like the
    /// file's own paths, whatever the daemon's working directory.
    @Test func relativePluginPathsResolveAgainstTheConfigurationsFolder() throws {
        let dir = TemporaryDirectory()
        let (server, client) = try start(
            dir,
            streaming: """
                {"messaging": {"providers": {"f": {"plugin": "file", "config": {"path": "out/{destination}.ndjson"}}},
                  "destinations": [{"provider": "f", "name": "rel", "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        #expect(FileManager.default.currentDirectoryPath != dir.path)
        try StreamingTestSupport.postPeople(client, count: 3, prefix: "p")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(dir.file("out/rel.ndjson")).count == 3 })
    }
}

extension StreamingSemanticsTests {
    /// A sink that declares HERALD_SINK_LIMIT_KEY_ORDER gets per-entity order without `ordering: perEntity`:
    /// a retried message holds back the later versions of its entity.
    @Test(arguments: TestStoreBackend.allCases)
    func aSinkThatNeedsKeyOrderGetsItWithoutConfiguration(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let out = dir.file("o.ndjson")
        let (server, client) = try start(
            dir, store: TestStore(backend, name: "keyorder"),
            streaming: """
                {"messaging": {"providers": {"q": {"plugin": "test", "config": {"output": "\(out)", "keyOrder": true, "retryEveryNth": 3}}},
                  "destinations": [{"provider": "q", "name": "fifo", "retry": {"initialDelayMs": 30, "maxDelayMs": 60},
                                    "batch": {"maxMessages": 5, "maxInFlight": 4, "lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        let items = (1...6).flatMap { round in (0..<5).map { TestConfiguration.person(id: "k\($0)", first: "V\(round)") } }
        #expect(try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]").status == 200)
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count >= 30 })
        #expect(try StreamingTestSupport.destinationStatus(client, id: "q/fifo")?["ordering"] == .string("perEntity"))
        var versions: [String: [Int]] = [:]
        for line in StreamingTestSupport.readLines(out) {
            let v = Int(line["headers"]?["objectVersion"]?.stringValue ?? "") ?? 0
            versions[line["key"]?.stringValue ?? "", default: []].append(v)
        }
        #expect(versions.count == 5)
        #expect(versions.values.allSatisfy { $0 == Array(1...6) }, "each entity's versions in order: \(versions)")
    }
}

extension StreamingSemanticsTests {
    /// The validate API checks the attributes a filter names against the tenant's data model, as the
    /// configuration loader does, and before it reads the event.
    @Test func validateChecksTheDataModelBeforeTheEvent() throws {
        let dir = TemporaryDirectory()
        let (server, client) = try start(dir, streaming: "{}")
        defer { withExtendedLifetime(server) {} }
        let r = try client.post(
            "/api/t1/objectFilter/validate", #"{"objectFilter": "equals(attributes.Nope, 'x')", "event": {"not": "an event"}}"#)
        #expect(r.status == 200)
        #expect(r.json?["valid"] == .bool(false), "\(r.text)")
        #expect(r.json?["error"]?["position"] == .number("7"))
        #expect(r.json?["error"]?["message"]?.stringValue?.contains("no entity type of this tenant has an attribute 'Nope'") == true, "\(r.text)")
        // The same text in a destination is refused by config check with the same reason.
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            streaming: #"{"messaging": {"providers": {"f": {"plugin": "file", "config": {"path": "/tmp/x"}}}, "destinations": [{"provider": "f", "name": "n", "objectFilter": "equals(attributes.Nope, 'x')"}]}}"#)
        let check = try runCommand(BuildProducts.herald, ["config", "check", config])
        #expect(check.status == 1)
        #expect(check.stderr.contains("at position 7: unknown field 'attributes.Nope': no entity type of this tenant has an attribute 'Nope'"), "\(check.stderr)")
    }

    /// `herald filter test` on an ENTITY_CREATED body exactly as a sink wrote it agrees with the live destination:
    /// both derive the creation's delta (everything added), so `changes(attributes.Email)` matches.
    @Test func filterTestAgreesWithALiveDestinationOnACreation() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("live.ndjson")
        let (server, client) = try start(
            dir,
            streaming: """
                {"messaging": {"providers": {"f": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [{"provider": "f", "name": "live", "objectFilter": "changes(attributes.Email)", "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        _ = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "e", first: "Eve", email: "eve@example.com"))]")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 1 }, "the live destination sent it")
        let body = try #require(StreamingTestSupport.readLines(out).first?["body"]?.stringValue)
        try body.write(toFile: dir.file("created.json"), atomically: true, encoding: .utf8)
        let test = try runCommand(
            BuildProducts.herald, ["filter", "test", "--filter", "changes(attributes.Email)", "--event", dir.file("created.json")])
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.stdout.hasSuffix("match\n") && !test.stdout.contains("no match"))
    }

    /// A hand-written event (no URIs, no `ov`, bare values) is read; the filter's own errors come first; a filter
    /// may start with '-'.
    @Test func filterTestReadsHandWrittenEventsAndReportsFilterErrorsFirst() throws {
        let dir = TemporaryDirectory()
        try #"{"type": "ENTITY_CHANGED", "object": {"type": "configuration/entityTypes/Individual", "attributes": {"FirstName": ["Ann"], "LastName": [{"value": "Lee"}]}}}"#
            .write(toFile: dir.file("hand.json"), atomically: true, encoding: .utf8)
        let match = try runCommand(
            BuildProducts.herald,
            ["filter", "test", "--filter", "equals(attributes.FirstName, 'Ann') and equals(attributes.LastName, 'Lee')", "--event", dir.file("hand.json")])
        #expect(match.status == 0, "\(match.stdout)\(match.stderr)")
        try "not json".write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
        let bad = try runCommand(BuildProducts.herald, ["filter", "test", "--filter", "equalz(x)", "--event", dir.file("bad.json")])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("did you mean 'equals'"), "the filter's error, not the file's: \(bad.stderr)")
        let dash = try runCommand(BuildProducts.herald, ["filter", "test", "--filter", "-x", "--event", dir.file("hand.json")])
        #expect(dash.status == 2)
        #expect(!dash.stderr.contains("Missing value for '--filter"), "\(dash.stderr)")
        let blank = try runCommand(BuildProducts.herald, ["filter", "test", "--filter", "  ", "--event", dir.file("hand.json")])
        #expect(blank.status == 0, "a blank filter is no filter: everything passes")
    }
}
