import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// The real `herald serve` with the built kafka plugin (libherald-sink-kafka.so) against the mock
/// cluster process, read back with kcat. A file destination on the same tenant renders the same
/// events, so what Kafka received can be compared with what Herald rendered.
@Suite(.serialized, .blocking, .timeLimit(.minutes(10)))
struct KafkaEndToEndTests {
    static let topic = "herald-events"
    static var library: String { BuildProducts.directory + "/libherald-sink-kafka.so" }

    // Teardown is SIGKILL: the graceful stop of `herald serve` currently waits for the queue
    // compactor's 60 s sleep, and the plugin's on_stop is covered by the producer tests and by
    // `herald plugins check` (no completion after stop).
    struct Setup {
        let dir: TemporaryDirectory
        let server: HeraldProcess
        let client: TestClient
        let fileOutput: String
    }

    /// Starts herald with a `kafka` provider (its config extended by `kafka`) and a `file` provider,
    /// one destination each on the same topic name.
    func start(_ cluster: MockKafkaCluster, kafka: String = "", destination: String = "") throws -> Setup {
        guard FileManager.default.fileExists(atPath: KafkaEndToEndTests.library) else {
            throw KafkaTestError(
                "\(KafkaEndToEndTests.library) is not built: swift build --product herald-sink-kafka (same scratch path as the tests)"
            )
        }
        let dir = TemporaryDirectory(prefix: "herald-kafka")
        let plugins = dir.file("plugins.d")
        StreamingTestSupport.installManifest(name: "kafka", library: KafkaEndToEndTests.library, in: plugins)
        StreamingTestSupport.installManifest(
            name: "file", library: BuildProducts.directory + "/libherald-sink-file.so", in: plugins)
        let output = dir.file("file.ndjson")
        let streaming = """
            {"streamingEnabled": true,
             "messaging": {
               "providers": {
                 "kafka": {"plugin": "kafka", "config": {"bootstrapServers": "\(cluster.bootstrap)"\(kafka)}},
                 "file": {"plugin": "file", "config": {"path": "\(output)"}}},
               "destinations": [
                 {"provider": "kafka", "name": "\(KafkaEndToEndTests.topic)"\(destination)},
                 {"provider": "file", "name": "\(KafkaEndToEndTests.topic)", "batch": {"lingerMs": 0}}]}}
            """
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        return Setup(dir: dir, server: server, client: TestClient(baseURL: server.baseURL), fileOutput: output)
    }

    static func seq(_ messageId: String?) -> Int64? {
        guard let id = messageId, let dash = id.firstIndex(of: "-") else { return nil }
        return Int64(id[..<dash])
    }

    func status(_ s: Setup, _ id: String = "kafka/\(KafkaEndToEndTests.topic)") -> JSONValue? {
        try? StreamingTestSupport.destinationStatus(s.client, id: id)
    }

    func drained(_ s: Setup, id: String = "kafka/\(KafkaEndToEndTests.topic)", cursor: Int64) -> Bool {
        guard let st = status(s, id) else { return false }
        return st["cursor"]?.int64Value == cursor && st["lagEvents"] == .number("0")
            && st["retryBacklog"] == .number("0")
            && st["inFlight"]?.int64Value ?? 0 == 0
    }

    func post(_ s: Setup, _ people: [String]) throws {
        let r = try s.client.post("/api/t1/entities", "[\(people.joined(separator: ","))]")
        guard r.status == 200 else { throw KafkaTestError("post failed: \(r.status) \(r.text)") }
    }

    @Test func everyEventArrivesWithHeraldsBodyKeyAndHeadersInPerEntityOrder() throws {
        let cluster = try MockKafkaCluster(topics: [KafkaEndToEndTests.topic: 4])
        let s = try start(cluster, destination: #", "batch": {"maxMessages": 25, "maxInFlight": 1, "lingerMs": 5}"#)
        defer { s.server.kill9() }
        // 6 versions of each of 15 entities. Slow produce round trips keep the first batch in flight
        // while the later rounds are posted, so later batches hold several versions of one entity.
        try cluster.command("rtt 1 150")
        for round in 0..<6 {
            try post(s, (0..<15).map { TestConfiguration.person(id: "e\($0)", first: "N\(round)", last: "L\($0)") })
            if round == 2 {
                // Transient broker errors mid-stream: librdkafka retries, idempotence keeps order and avoids duplicates.
                try cluster.command("error Produce 4 NOT_ENOUGH_REPLICAS NOT_LEADER_FOR_PARTITION")
            }
        }
        let events = try s.client.events(tenant: "t1")
        #expect(events.count == 90)
        let done = StreamingTestSupport.eventually(timeout: 60) {
            drained(s, cursor: 90) && drained(s, id: "file/\(KafkaEndToEndTests.topic)", cursor: 90)
        }
        #expect(done, "not drained: \(status(s)?.serializedString() ?? "no status")\n\(s.server.log.suffix(1500))")

        let records = try KafkaConsumer.consume(
            bootstrap: cluster.bootstrap, topic: KafkaEndToEndTests.topic, atLeast: 90)
        #expect(records.count == 90, "exactly one copy of each event (idempotent producer)")
        let fileLines = StreamingTestSupport.readLines(s.fileOutput)
        var rendered: [Int64: JSONValue] = [:]
        for line in fileLines {
            if let seq = KafkaEndToEndTests.seq(line["headers"]?["messageId"]?.stringValue) { rendered[seq] = line }
        }
        #expect(rendered.count == 90)
        var uriOfSeq: [Int64: String] = [:]
        for e in events {
            if let seq = e["seq"]?.int64Value, let uri = e["objectUri"]?.stringValue { uriOfSeq[seq] = uri }
        }

        var seen = Set<Int64>()
        var versions: [String: [Int]] = [:]
        var partitions: [String: Set<Int>] = [:]
        for r in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            let seq = try #require(KafkaEndToEndTests.seq(r.header("messageId")), "messageId header on every message")
            seen.insert(seq)
            #expect(r.key == uriOfSeq[seq], "key is the entity URI")
            #expect(r.header("sourceObjectUri") == r.key)
            for name in ["tenantId", "eventType", "sourceObjectUri", "objectVersion", "updatedTime", "messageId"] {
                #expect(r.header(name) != nil, "header \(name)")
            }
            #expect(r.header("tenantId") == "t1")
            let file = try #require(rendered[seq])
            #expect(r.payload == file["body"]?.stringValue, "the body Herald rendered, byte for byte (seq \(seq))")
            #expect(r.header("eventType") == file["headers"]?["eventType"]?.stringValue)
            #expect(r.header("objectVersion") == file["headers"]?["objectVersion"]?.stringValue)
            versions[r.key, default: []].append(Int(r.header("objectVersion") ?? "") ?? -1)
            partitions[r.key, default: []].insert(r.partition)
        }
        #expect(seen == Set(1...90))
        #expect(versions.count == 15)
        for (key, list) in versions {
            #expect(list == Array(1...6), "\(key) in partition order: \(list)")
        }
        #expect(partitions.values.allSatisfy { $0.count == 1 })
        #expect(status(s)?["healthy"] == .bool(true))
    }

    @Test func aBrokerTakenDownMidStreamLosesNothing() throws {
        let cluster = try MockKafkaCluster(topics: [KafkaEndToEndTests.topic: 2])
        let s = try start(
            cluster, kafka: #", "deliveryTimeoutMs": 2000"#,
            destination:
                #", "sendTimeoutMs": 10000, "retry": {"initialDelayMs": 100, "maxDelayMs": 500, "maxAttempts": 1000}, "batch": {"maxMessages": 20, "lingerMs": 5}"#
        )
        defer { s.server.kill9() }
        try StreamingTestSupport.postPeople(s.client, count: 40, prefix: "d", batch: 10)
        #expect(StreamingTestSupport.eventually(timeout: 30) { drained(s, cursor: 40) })

        try cluster.command("down 1")
        try StreamingTestSupport.postPeople(s.client, count: 60, prefix: "d", name: { "Q\($0)" }, batch: 10)
        let sawUnhealthy = StreamingTestSupport.eventually(timeout: 20) {
            let st = status(s)
            return st?["healthy"] == .bool(false) && !(st?["reason"]?.stringValue ?? "").isEmpty
        }
        #expect(sawUnhealthy, "the outage shows in the destination status: \(status(s)?.serializedString() ?? "")")
        // Long enough for messages to time out in librdkafka (deliveryTimeoutMs 2000) and go to Herald's retry schedule.
        let sawRetries = StreamingTestSupport.eventually(timeout: 20) { (status(s)?["retried"]?.int64Value ?? 0) > 0 }
        #expect(sawRetries)
        try cluster.command("up 1")

        let done = StreamingTestSupport.eventually(timeout: 60) { drained(s, cursor: 100) }
        #expect(
            done, "not drained after recovery: \(status(s)?.serializedString() ?? "")\n\(s.server.log.suffix(1500))")
        #expect(StreamingTestSupport.eventually(timeout: 10) { status(s)?["healthy"] == .bool(true) }, "healthy again")
        let records = try KafkaConsumer.consume(
            bootstrap: cluster.bootstrap, topic: KafkaEndToEndTests.topic, atLeast: 100)
        let seqs = Set(records.compactMap { KafkaEndToEndTests.seq($0.header("messageId")) })
        #expect(seqs == Set(1...100), "missing: \(Set(1...100).subtracting(seqs).sorted())")
        #expect(status(s)?["deadLetterCount"] == .number("0"))
    }

    @Test func injectedErrorsEndDeliveredOrDeadLetteredAsTooLargeOrPermanent() throws {
        let cluster = try MockKafkaCluster(topics: [KafkaEndToEndTests.topic: 1])
        let s = try start(
            cluster, kafka: #", "messageMaxBytes": 2000"#,
            destination:
                #", "retry": {"initialDelayMs": 50, "maxDelayMs": 100, "maxAttempts": 3}, "batch": {"lingerMs": 0}"#)
        defer { s.server.kill9() }
        func dlq() -> [JSONValue] {
            (try? s.client.get("/api/t1/streaming/dlq?destination=kafka/\(KafkaEndToEndTests.topic)"))?.json?[
                "deadLetters"]?.arrayValue ?? []
        }
        func letter(_ seq: Int64) -> JSONValue? { dlq().first { $0["seq"]?.int64Value == seq } }

        try post(s, [TestConfiguration.person(id: "x0", first: "Warm")])
        #expect(StreamingTestSupport.eventually(timeout: 30) { drained(s, cursor: 1) })

        // The broker refuses the record as too large (e.g. the topic's max.message.bytes is smaller).
        try cluster.command("error Produce 1 MSG_SIZE_TOO_LARGE")
        try post(s, [TestConfiguration.person(id: "x1", first: "Refused")])
        #expect(StreamingTestSupport.eventually(timeout: 30) { letter(2) != nil })
        #expect(letter(2)?["status"] == .string("TOO_LARGE"))
        #expect(
            letter(2)?["reason"]?.stringValue?.contains("MSG_SIZE_TOO_LARGE") == true,
            "\(letter(2)?.serializedString() ?? "")")

        // A non-retriable broker error: dead-lettered at once with librdkafka's error name.
        try cluster.command("error Produce 1 INVALID_RECORD")
        try post(s, [TestConfiguration.person(id: "x2", first: "Denied")])
        #expect(StreamingTestSupport.eventually(timeout: 30) { letter(3) != nil })
        #expect(letter(3)?["status"] == .string("PERMANENT"))
        #expect(
            letter(3)?["reason"]?.stringValue?.contains("INVALID_RECORD") == true,
            "\(letter(3)?.serializedString() ?? "")")
        #expect(letter(3)?["attempts"] == .number("1"))

        // Transient errors: retried (by librdkafka) and delivered.
        try cluster.command("error Produce 3 NOT_ENOUGH_REPLICAS")
        try post(s, [TestConfiguration.person(id: "x3", first: "Delivered")])
        #expect(StreamingTestSupport.eventually(timeout: 30) { drained(s, cursor: 4) })
        #expect(letter(4) == nil)

        // Over the plugin's declared limit (message.max.bytes 2000 less 512): Herald dead-letters it as TOO_LARGE.
        let long = (0..<5).map { #"{"value": "\#(String(repeating: "w\($0)", count: 30))"}"# }.joined(separator: ", ")
        try post(
            s,
            [
                TestConfiguration.person(
                    id: "x4", first: "Big", extra: #""LastName": [\#(long)], "Email": [{"value": "big@example.com"}]"#)
            ])
        #expect(StreamingTestSupport.eventually(timeout: 30) { letter(5) != nil })
        #expect(letter(5)?["status"] == .string("TOO_LARGE"))
        #expect(letter(5)?["reason"]?.stringValue?.contains("1488") == true, "\(letter(5)?.serializedString() ?? "")")

        #expect(StreamingTestSupport.eventually(timeout: 30) { drained(s, cursor: 5) })
        #expect(dlq().count == 3)
        let records = try KafkaConsumer.consume(
            bootstrap: cluster.bootstrap, topic: KafkaEndToEndTests.topic, atLeast: 2)
        let firstNames = records.compactMap { r -> String? in
            guard let body = try? JSONParser.parse(r.payload) else { return nil }
            return body["object"]?["attributes"]?["FirstName"]?.arrayValue?.first?["value"]?.stringValue
        }
        #expect(firstNames == ["Warm", "Delivered"], "only the delivered events are in the topic: \(firstNames)")
    }

    @Test func pluginsCheckPassesAgainstTheMockCluster() throws {
        let cluster = try MockKafkaCluster()
        let r = try runCommand(
            BuildProducts.herald,
            [
                "plugins", "check", KafkaEndToEndTests.library, "--config",
                #"{"bootstrapServers": "\#(cluster.bootstrap)"}"#,
            ])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("checks passed"))
        #expect(r.stdout.contains("PASS  message over the size limit"))
        #expect(r.stdout.contains("PASS  completion from another thread"))
        #expect(!r.stdout.contains("FAIL"))
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "herald-check", atLeast: 52)
        #expect(records.count >= 52, "the check's batches reached the topic (auto-created)")
    }
}
