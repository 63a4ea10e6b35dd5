import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// The delivery engine with the real daemon and the C test sink (`Plugins/test-sink-c`). The tests of cursors,
/// retries and dead letters run on each store backend.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct DeliveryTests {
    static func seq(of line: JSONValue) -> Int64? {
        guard let id = line["id"]?.stringValue, let dash = id.firstIndex(of: "-") else { return nil }
        return Int64(id[..<dash])
    }

    func streaming(sink: String, destination: String = "", retry: String = #"{"initialDelayMs": 20, "maxDelayMs": 100, "maxAttempts": 6}"#) -> String {
        """
        {"streamingEnabled": true,
         "messaging": {
           "providers": {"sink": {"plugin": "test", "config": \(sink)}},
           "destinations": [{"provider": "sink", "name": "q1", "retry": \(retry),
                             "batch": {"maxMessages": 10, "lingerMs": 0}\(destination)}]}}
        """
    }

    @Test(arguments: TestStoreBackend.allCases)
    func everyEventArrivesAtLeastOnceAndPoisonGoesToTheDeadLetterQueue(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        let config = try StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            streaming: streaming(
                sink: #"{"output": "\#(output)", "retryEveryNth": 5, "throttleEveryNth": 7, "retryAfterMs": 30, "permanentMarker": "POISON"}"#),
            store: TestStore(backend, name: "atleastonce"))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 120, prefix: "a", name: { $0 % 40 == 3 ? "POISON\($0)" : "P\($0)" })

        let drained = StreamingTestSupport.eventually(timeout: 60) {
            guard let s = try? StreamingTestSupport.destinationStatus(client, id: "sink/q1") else { return false }
            return s["lagEvents"] == .number("0") && s["retryBacklog"] == .number("0") && s["deadLetterCount"] == .number("3")
        }
        let status = try StreamingTestSupport.destinationStatus(client, id: "sink/q1")
        #expect(drained, "destination did not drain: \(status?.serializedString() ?? "no status")\n\(server.log.suffix(2000))")
        #expect(status?["cursor"] == .number("120"))
        #expect((status?["retried"]?.int64Value ?? 0) > 0)
        #expect((status?["throttled"]?.int64Value ?? 0) > 0)

        let delivered = StreamingTestSupport.readLines(output)
        let seqs = Set(delivered.compactMap(DeliveryTests.seq))
        let poison: Set<Int64> = [4, 44, 84]  // items 3, 43, 83 are the 4th, 44th and 84th events
        #expect(seqs == Set(1...120).subtracting(poison), "missing: \(Set(1...120).subtracting(poison).subtracting(seqs).sorted())")
        #expect(delivered.contains { ($0["attempt"]?.int64Value ?? 0) > 1 }, "retried messages carry their attempt number")
        let first = try #require(delivered.first)
        for header in ["tenantId", "eventType", "sourceObjectUri", "objectVersion", "updatedTime", "messageId"] {
            #expect(first["headers"]?[header] != nil, "header \(header)")
        }
        #expect(first["key"]?.stringValue?.hasPrefix("entities/") == true)

        let dlq = try client.get("/api/t1/streaming/dlq?destination=sink/q1")
        let letters = try #require(dlq.json?["deadLetters"]?.arrayValue)
        #expect(Set(letters.compactMap { $0["seq"]?.int64Value }) == poison)
        for l in letters {
            #expect(l["status"] == .string("PERMANENT"))
            #expect(l["reason"]?.stringValue?.contains("permanent marker") == true)
            #expect(l["plugin"] == .string("test"))
            #expect(l["pluginVersion"] == .string("1.0.0"))
            #expect((l["attempts"]?.int64Value ?? 0) >= 1)
        }
        let shown = try client.get("/api/t1/streaming/dlq/\(letters[0]["id"]!.int64Value!)")
        #expect(shown.json?["body"]?.stringValue?.contains("POISON") == true)
    }

    /// A sink process that dies while writing its output (the crash and exit faults of `SinkIsolationTests`) can
    /// leave a torn last line; the next test sink instance ends it before appending, so its own first line stays
    /// whole. Before, that line ran into the torn one, and a message delivered OK was missing from the output.
    @Test func theTestSinkEndsATornLastLineBeforeAppending() throws {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        let torn = #"{"id":"99-torn","key":"entities/x","attempt":1,"body":"{\"type\":\"ENTITY_CRE"#
        try torn.write(toFile: output, atomically: true, encoding: .utf8)
        let config = try StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: streaming(sink: #"{"output": "\#(output)"}"#))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 5, prefix: "t")
        let all = Set(Int64(1)...5)
        let done = StreamingTestSupport.eventually(timeout: 30) {
            Set(StreamingTestSupport.readLines(output).compactMap(DeliveryTests.seq)) == all
        }
        #expect(done, "every message's line is whole: \(String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self).prefix(600))")
        let text = String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self)
        #expect(text.hasPrefix(torn + "\n"), "the torn line is ended, not extended")
    }

    @Test func aBatchThatNeverCompletesIsRetriedAndTheSinkReportedUnhealthy() throws {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            // In process: a child process that does not complete a batch is killed and restarted instead
            // (SinkIsolationTests), and this plugin would never complete the first batch of each new child.
            streaming: streaming(sink: #"{"output": "\#(output)", "neverCompleteBatch": 1}"#, destination: #", "sendTimeoutMs": 400"#)
                .replacingOccurrences(of: #""plugin": "test","#, with: #""plugin": "test", "isolation": "inProcess","#))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 8, prefix: "s")
        let sawUnhealthy = StreamingTestSupport.eventually(timeout: 20) {
            let s = try? StreamingTestSupport.destinationStatus(client, id: "sink/q1")
            return s?["healthy"] == .bool(false) && s?["reason"]?.stringValue?.contains("did not complete") == true
        }
        #expect(sawUnhealthy, "the instance is reported unhealthy with the reason")
        let delivered = StreamingTestSupport.eventually(timeout: 30) {
            Set(StreamingTestSupport.readLines(output).compactMap(DeliveryTests.seq)) == Set(1...8)
        }
        #expect(delivered, "the stuck batch's messages were retried and delivered: \(server.log.suffix(1500))")
        let status = try StreamingTestSupport.destinationStatus(client, id: "sink/q1")
        #expect((status?["retried"]?.int64Value ?? 0) >= 1)
        #expect(status?["cursor"] == .number("8"))
    }

    /// Posts 600 people to a sink that takes `completionDelayMs` per batch, waits until 50 arrived, stops the
    /// server with `stop` (kill -9 or SIGTERM), restarts it on the same data (the same `backend` store) and waits
    /// for all 600. Returns every delivered seq (duplicates included), the restarted server and its client.
    func interruptMidDelivery(
        completionDelayMs: Int, prefix: String, backend: TestStoreBackend = .sqlite,
        stop: (HeraldProcess, TemporaryDirectory) -> Void
    ) throws -> (seqs: [Int64], server: HeraldProcess, client: TestClient) {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        let config = try StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            streaming: streaming(sink: #"{"output": "\#(output)", "completionDelayMs": \#(completionDelayMs)}"#),
            store: TestStore(backend, name: "interrupt"))
        let first = try HeraldProcess(configPath: config, logPath: dir.file("serve1.log"))
        try StreamingTestSupport.postPeople(TestClient(baseURL: first.baseURL), count: 600, prefix: prefix)
        #expect(StreamingTestSupport.eventually(timeout: 30) { StreamingTestSupport.readLines(output).count >= 50 })
        stop(first, dir)
        #expect(StreamingTestSupport.readLines(output).count < 600, "the stop landed mid-delivery")

        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve2.log"))
        let done = StreamingTestSupport.eventually(timeout: 90) {
            Set(StreamingTestSupport.readLines(output).compactMap(DeliveryTests.seq)).count == 600
        }
        let seqs = StreamingTestSupport.readLines(output).compactMap(DeliveryTests.seq)
        #expect(done, "every event delivered after the restart (\(Set(seqs).count) of 600)")
        return (seqs, server, TestClient(baseURL: server.baseURL))
    }

    @Test(arguments: TestStoreBackend.allCases)
    func killDuringDeliveryLosesNothingAndDuplicatesStayBounded(_ backend: TestStoreBackend) throws {
        let (seqs, server, client) = try interruptMidDelivery(completionDelayMs: 15, prefix: "k", backend: backend) { server, _ in
            server.kill9()
        }
        defer { withExtendedLifetime(server) {} }
        let duplicates = seqs.count - Set(seqs).count
        // At most one window (maxMessages × maxInFlight, at least 256 events) was in flight when killed.
        #expect(duplicates <= 256, "\(duplicates) duplicates")
        let status = try StreamingTestSupport.destinationStatus(client, id: "sink/q1")
        #expect(status?["cursor"] == .number("600"))
    }

    /// A graceful stop (SIGTERM) cancels every destination's loop: the round in flight is still sent and
    /// recorded, so after a restart nothing is sent twice and nothing is missing.
    @Test(arguments: TestStoreBackend.allCases)
    func aGracefulStopMidDeliveryRecordsTheRoundInFlightAndSendsNothingTwice(_ backend: TestStoreBackend) throws {
        // PostgreSQL takes the 600 people more slowly, and a 40 ms sink would have delivered nearly all of them by
        // then: a slower sink keeps the stop in the middle of the delivery.
        let delay = backend == .postgres ? 200 : 40
        let (seqs, server, _) = try interruptMidDelivery(completionDelayMs: delay, prefix: "g", backend: backend) { server, dir in
            let started = ContinuousClock.now
            #expect(server.stop() == 0, "graceful exit")
            let stopTime = ContinuousClock.now - started
            // The longest wait is one round: a few batches of 10 at 40 (200) ms each (and the sink's stop).
            #expect(stopTime < .seconds(5), "stopping took \(stopTime)")
            let log = (try? String(contentsOfFile: dir.file("serve1.log"), encoding: .utf8)) ?? ""
            #expect(!log.contains("not recorded"), "a stop must not leave a sent round unrecorded")
        }
        defer { withExtendedLifetime(server) {} }
        #expect(seqs.count == Set(seqs).count, "\(seqs.count - Set(seqs).count) sent twice")
    }

    @Test(arguments: TestStoreBackend.allCases)
    func perEntityOrderingHoldsLaterMessagesBehindARetry(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        // Every 3rd message fails its first attempt; updates of one entity must still arrive in version order.
        let config = try StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            streaming: streaming(
                sink: #"{"output": "\#(output)", "retryEveryNth": 3}"#, destination: #", "ordering": "perEntity""#,
                retry: #"{"initialDelayMs": 30, "maxDelayMs": 60, "maxAttempts": 10}"#),
            store: TestStore(backend, name: "perentity"))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        for round in 0..<6 {
            let items = (0..<5).map { TestConfiguration.person(id: "o\($0)", first: "N\(round)") }
            #expect(try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]").status == 200)
        }
        let done = StreamingTestSupport.eventually(timeout: 30) {
            Set(StreamingTestSupport.readLines(output).compactMap(DeliveryTests.seq)).count == 30
        }
        #expect(done)
        var versions: [String: [Int64]] = [:]
        for line in StreamingTestSupport.readLines(output) {
            guard let key = line["key"]?.stringValue, let v = line["headers"]?["objectVersion"]?.stringValue.flatMap({ Int64($0) })
            else { continue }
            versions[key, default: []].append(v)
        }
        #expect(versions.count == 5)
        for (key, list) in versions {
            #expect(list == Array(1...6), "\(key) arrived as \(list)")
        }
    }
}
