import Foundation
import HeraldDelivery
import HeraldJSON
import HeraldTestSupport
import Testing

/// The operator console's read routes in process: the throughput history, recent errors in the status answer, and
/// the filter playground against the queue.
@Suite(.timeLimit(.minutes(3)))
struct ConsoleReadRouteTests {
    static func person(_ id: String, first: String) -> String {
        TestConfiguration.person(id: id, first: first, last: "Tester")
    }

    static func post(_ client: RouteClient, _ people: [String]) async throws {
        let r = try await client.send(
            .post, "/api/t1/entities", token: "t1-writer", body: "[\(people.joined(separator: ","))]")
        #expect(r.status == 200, "\(r.text)")
    }

    static func sum(_ points: [JSONValue], _ field: String) -> Int64 {
        points.reduce(0) { $0 + ($1[field]?.int64Value ?? 0) }
    }

    @Test func throughputCountsWhatThisNodesWorkersRecordedInBuckets() async throws {
        let harness = try await RouteHarness(activity: DeliveryActivity(bucketMs: 1000))
        let output = harness.output
        try await harness.test { client in
            try await Self.post(client, (1...5).map { Self.person("p\($0)", first: "P\($0)") })
            let counted = try await DeadLetterRouteTests.eventually {
                let r = try await client.send(.get, "/api/t1/streaming/throughput", token: "t1-reader")
                let points = r.json?["destinations"]?.arrayValue?.first?["points"]?.arrayValue ?? []
                return Self.sum(points, "sent") == 5
            }
            #expect(counted, "5 sent in the history; the sink has \(StreamingTestSupport.readLines(output).count)")
            let r = try await client.send(.get, "/api/t1/streaming/throughput", token: "t1-reader")
            #expect(r.status == 200)
            let json = try #require(r.json)
            #expect(json["intervalSeconds"] == .number("1"))
            let now = try #require(json["now"]?.int64Value)
            let destinations = json["destinations"]?.arrayValue ?? []
            #expect(destinations.compactMap { $0["id"]?.stringValue } == [RouteHarness.destination])
            let points = destinations.first?["points"]?.arrayValue ?? []
            #expect(points.count == 90, "15 minutes, at most the 90 buckets kept")
            let times = points.compactMap { $0["t"]?.int64Value }
            #expect(times.count == 90 && zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 1000 })
            #expect(times.last! <= now && now < times.last! + 1000, "the current bucket last")
            #expect(
                points.allSatisfy { p in ["sent", "retried", "throttled", "deadLettered"].allSatisfy { p[$0] != nil } })
            #expect(Self.sum(points, "retried") == 0 && Self.sum(points, "deadLettered") == 0)

            let minute = try await client.send(.get, "/api/t1/streaming/throughput?minutes=1", token: "t1-reader")
            #expect(minute.json?["destinations"]?.arrayValue?.first?["points"]?.arrayValue?.count == 60)
            for bad in ["0", "16", "x"] {
                let r = try await client.send(.get, "/api/t1/streaming/throughput?minutes=\(bad)", token: "t1-reader")
                #expect(r.status == 400 && r.errorCode == "INVALID_PARAMETER", "minutes=\(bad): \(r.status)")
            }
            // Another tenant sees only its own destinations (t2 streams nowhere).
            let t2 = try await client.send(.get, "/api/t2/streaming/throughput", token: "root-reader")
            #expect(t2.status == 200 && t2.json?["destinations"]?.arrayValue?.isEmpty == true, "\(t2.text)")
        }
        await harness.close()
    }

    @Test func statusListsEachDestinationsRecentErrorsNewestFirst() async throws {
        let extra = (
            providers: """
            "flaky": {"plugin": "test", "isolation": "inProcess",
                      "config": {"retryEveryNth": 1, "permanentMarker": "Poison"}},
            "broken": {"plugin": "test", "isolation": "inProcess", "config": {"failStart": true}}
            """,
            destinations: """
            {"provider": "flaky", "name": "q", "batch": {"lingerMs": 0}, "retry": {"initialDelayMs": 20, "maxAttempts": 5}},
            {"provider": "broken", "name": "q"}
            """
        )
        let harness = try await RouteHarness(extraDestinations: extra)
        try await harness.test { client in
            try await Self.post(client, [Self.person("a1", first: "Ada"), Self.person("a2", first: "Poison")])
            func destination(_ id: String) async throws -> JSONValue? {
                let r = try await client.send(.get, "/api/t1/streaming/status", token: "t1-reader")
                return r.json?["destinations"]?.arrayValue?.first { $0["id"]?.stringValue == id }
            }
            let settled = try await DeadLetterRouteTests.eventually {
                let d = try await destination("flaky/q")
                return d?["deadLettered"] == .number("1") && d?["sent"] == .number("1")
            }
            #expect(settled, "Ada delivered on the retry, Poison dead-lettered")
            let flaky = try #require(try await destination("flaky/q"))
            let errors = flaky["recentErrors"]?.arrayValue ?? []
            #expect(errors.compactMap { $0["code"]?.stringValue } == ["DEAD_LETTERED", "RETRY", "RETRY"], "\(errors)")
            #expect(errors.first?["message"]?.stringValue == "PERMANENT: body contains permanent marker")
            #expect(errors.last?["message"]?.stringValue == "injected retry")
            let seqs = errors.compactMap { $0["seq"]?.int64Value }
            #expect(seqs.count == 3 && seqs[0] == seqs[1] && seqs[2] < seqs[1], "the poison's retry came after Ada's")
            let times = errors.compactMap { $0["at"]?.int64Value }
            #expect(times == times.sorted(by: >), "newest first")

            let started = try await DeadLetterRouteTests.eventually {
                try await destination("broken/q")?["recentErrors"]?.arrayValue?.first?["code"]
                    == .string("SINK_START_FAILED")
            }
            let brokenStatus = try await destination("broken/q")
            #expect(started, "\(String(describing: brokenStatus))")
            let broken = brokenStatus?["recentErrors"]?.arrayValue?.first
            #expect(broken?["seq"] == nil && (broken?["message"]?.stringValue?.isEmpty == false))
            let files = try await destination(RouteHarness.destination)
            #expect(files?["recentErrors"] == .array([]))
        }
        await harness.close()
    }

    @Test func theFilterPlaygroundRunsACompiledFilterOverTheNewestEvents() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            try await Self.post(
                client,
                [Self.person("f1", first: "Ada"), Self.person("f2", first: "Grace"), Self.person("f3", first: "Alan")])
            func test(_ body: String) async throws -> RouteResponse {
                try await client.send(.post, "/api/t1/objectFilter/_test", token: "t1-reader", body: body)
            }
            let r = try await test(#"{"objectFilter": "startsWith(attributes.FirstName, 'A')", "last": 10}"#)
            #expect(r.status == 200, "\(r.text)")
            let json = try #require(r.json)
            #expect(json["valid"] == .bool(true))
            #expect(json["tested"] == .number("3") && json["passed"] == .number("2"), "\(r.text)")
            let events = json["events"]?.arrayValue ?? []
            let seqs = events.compactMap { $0["seq"]?.int64Value }
            #expect(seqs.count == 3 && seqs == seqs.sorted(), "ascending seq")
            #expect(events.map { $0["passes"] } == [.bool(true), .bool(false), .bool(true)])
            #expect(
                events.allSatisfy { $0["type"] == .string("ENTITY_CREATED") && $0["typeFilterPasses"] == .bool(true) })
            #expect(
                events.allSatisfy {
                    $0["objectUri"]?.stringValue?.hasPrefix("entities/") == true && $0["explanation"] != nil
                })
            #expect(events[1]["objectFilterPasses"] == .bool(false))
            #expect(events.allSatisfy { $0["valid"] == nil })

            // The newest N only; a type filter that leaves everything out; no object filter at all.
            let last = try await test(#"{"objectFilter": "startsWith(attributes.FirstName, 'A')", "last": 1}"#)
            #expect(last.json?["events"]?.arrayValue?.compactMap { $0["seq"]?.int64Value } == [seqs[2]])
            let typed = try await test(
                #"{"objectFilter": "exists(attributes.FirstName)", "typeFilter": ["ENTITY_REMOVED"], "ovOnly": true}"#)
            #expect(typed.json?["passed"] == .number("0") && typed.json?["tested"] == .number("3"), "\(typed.text)")
            #expect(typed.json?["events"]?.arrayValue?.allSatisfy { $0["typeFilterPasses"] == .bool(false) } == true)
            let none = try await test(#"{}"#)
            #expect(none.json?["passed"] == .number("3"))

            // An invalid filter: the same answer as /objectFilter/validate, and no event read.
            for filter in ["startsWith(attributes.FirstName", "equals(attributes.Nick, 'x')"] {
                let body = #"{"objectFilter": "\#(filter)"}"#
                let tested = try await test(body)
                let validated = try await client.send(
                    .post, "/api/t1/objectFilter/validate", token: "t1-reader",
                    body: #"{"objectFilter": "\#(filter)", "event": {}}"#)
                #expect(tested.status == 200 && tested.json?["valid"] == .bool(false), "\(tested.text)")
                #expect(tested.json == validated.json, "\(tested.text) vs \(validated.text)")
            }
            let unknownType = try await test(#"{"typeFilter": ["NOPE"]}"#)
            #expect(unknownType.json?["error"]?["message"]?.stringValue?.contains("known: ENTITY_CREATED") == true)

            // Bounds.
            for body in [#"{"last": 0}"#, #"{"last": 501}"#, #"{"last": "x"}"#, #"{"nope": 1}"#, "[]"] {
                let bad = try await test(body)
                #expect(bad.status == 400 && bad.errorCode == "INVALID_REQUEST", "\(body): \(bad.status) \(bad.text)")
            }
            let huge =
                String(repeating: "exists(attributes.FirstName) or ", count: 600) + "exists(attributes.FirstName)"
            let tooLong = try await test(#"{"objectFilter": "\#(huge)"}"#)
            #expect(tooLong.status == 400 && tooLong.errorMessage?.contains("at most 16384") == true, "\(tooLong.text)")
        }
        await harness.close()
    }
}
