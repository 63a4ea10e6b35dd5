import Foundation
import HeraldKafkaSinkCore
import HeraldSinkSDK
import HeraldTestSupport
import Synchronization
import Testing

/// The producer against librdkafka's mock cluster (a separate process on 127.0.0.1), read back with kcat.
@Suite(.serialized, .blocking, .timeLimit(.minutes(10)))
struct KafkaProducerTests {
    func harness(_ cluster: MockKafkaCluster, _ extra: String = "") throws -> ProducerHarness {
        try ProducerHarness(KafkaConfig.parse(#"{"bootstrapServers": "\#(cluster.bootstrap)"\#(extra)}"#))
    }

    @Test func deliversKeysHeadersAndBodiesAndCompletesEachBatchOnceFromThePollThread() throws {
        let cluster = try MockKafkaCluster(topics: ["orders": 3])
        let h = try harness(cluster, #", "lingerMs": 2"#)
        defer { h.producer.close() }
        var messages: [ProducerHarness.Message] = []
        var version: [String: Int] = [:]
        for i in 0..<200 {
            let key = "entities/k\(i % 20)"
            version[key, default: 0] += 1
            messages.append(
                .init(
                    key: key, value: #"{"type":"ENTITY_CHANGED","n":\#(i),"v":\#(version[key]!)}"#,
                    headers: [
                        ("eventType", "ENTITY_CHANGED"), ("objectVersion", String(version[key]!)), ("tenantId", "t1"),
                    ]))
        }
        let results = try h.send(topic: "orders", Array(messages[0..<120]))
        let results2 = try h.send(topic: "orders", Array(messages[120...]))
        #expect(results.count == 120 && results2.count == 80)
        #expect(
            (results + results2).allSatisfy { $0.status == .ok },
            "\((results + results2).first { $0.status != .ok }?.error ?? "")")
        let observed = h.observed.withLock { $0 }
        #expect(observed.completions.values.allSatisfy { $0 == 1 } && observed.completions.count == 2)
        #expect(
            !observed.completionThreads.contains(UInt(pthread_self())),
            "completed from the poll thread, not the caller's")
        #expect(observed.counters["messages_delivered"] == 200)

        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "orders", atLeast: 200)
        #expect(records.count == 200)
        let sent = Dictionary(uniqueKeysWithValues: messages.map { (String(decoding: $0.value, as: UTF8.self), $0) })
        var partitionsOfKey: [String: Set<Int>] = [:]
        var versionsOfKey: [String: [Int]] = [:]
        for r in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            let original = try #require(sent[r.payload], "an unexpected payload \(r.payload)")
            #expect(r.key == original.key)
            #expect(r.header("eventType") == "ENTITY_CHANGED")
            #expect(r.header("tenantId") == "t1")
            #expect(r.header("objectVersion") == original.headers[1].value)
            partitionsOfKey[r.key, default: []].insert(r.partition)
            versionsOfKey[r.key, default: []].append(Int(r.header("objectVersion") ?? "") ?? -1)
        }
        #expect(partitionsOfKey.values.allSatisfy { $0.count == 1 }, "a key always lands on one partition")
        #expect(Set(partitionsOfKey.values.map { $0.first! }).count > 1, "keys spread over partitions")
        for (key, versions) in versionsOfKey {
            #expect(versions == Array(1...10), "\(key) in partition order: \(versions)")
        }
    }

    /// Kafka's Java client: murmur2 (seed 0x9747b28c) of the key bytes, made positive, modulo partitions.
    static func javaPartition(_ key: String, partitions: Int) -> Int {
        let data = Array(key.utf8)
        let m: UInt32 = 0x5bd1_e995
        var h: UInt32 = 0x9747_b28c ^ UInt32(data.count)
        for i in 0..<(data.count / 4) {
            let j = i * 4
            var k = UInt32(data[j]) | UInt32(data[j + 1]) << 8 | UInt32(data[j + 2]) << 16 | UInt32(data[j + 3]) << 24
            k &*= m
            k ^= k >> 24
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = data.count & ~3
        switch data.count % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h &*= m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h &*= m
        case 1:
            h ^= UInt32(data[tail])
            h &*= m
        default: break
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int(h & 0x7fff_ffff) % partitions
    }

    @Test func murmur2RandomPlacesKeysWhereJavaClientsDoUnlikeTheDefault() throws {
        let cluster = try MockKafkaCluster(topics: ["java": 7, "crc": 7])
        let murmur = try harness(cluster, #", "partitioner": "murmur2_random""#)
        let standard = try harness(cluster)
        defer {
            murmur.producer.close()
            standard.producer.close()
        }
        let keys = (0..<40).map { "entities/\(String($0 * 7919, radix: 36))" }
        let messages = keys.map { ProducerHarness.Message(key: $0, value: "v-\($0)") }
        #expect(try murmur.send(topic: "java", messages).allSatisfy { $0.status == .ok })
        #expect(try standard.send(topic: "crc", messages).allSatisfy { $0.status == .ok })
        let java = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "java", atLeast: 40)
        let crc = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "crc", atLeast: 40)
        #expect(java.count == 40 && crc.count == 40)
        for r in java {
            #expect(r.partition == KafkaProducerTests.javaPartition(r.key, partitions: 7), "\(r.key)")
        }
        let differ = crc.filter { $0.partition != KafkaProducerTests.javaPartition($0.key, partitions: 7) }
        #expect(!differ.isEmpty, "librdkafka's default (CRC32) places some keys elsewhere than Java's murmur2")
    }

    @Test func transientBrokerErrorsAreRetriedInsideLibrdkafkaWithoutDuplicates() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1])
        let h = try harness(cluster)
        defer { h.producer.close() }
        // Warm up (metadata, producer id) so that the injected errors hit Produce requests with our messages.
        #expect(try h.send(topic: "t", [.init(key: "entities/w", value: "warm")]).first?.status == .ok)
        try cluster.command("error Produce 3 NOT_ENOUGH_REPLICAS NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT")
        let messages = (0..<5).map { ProducerHarness.Message(key: "entities/a", value: "m\($0)") }
        let results = try h.send(topic: "t", messages)
        #expect(results.allSatisfy { $0.status == .ok }, "\(results.map { $0.error ?? "ok" })")
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "t", atLeast: 6)
        #expect(
            records.map(\.payload) == ["warm", "m0", "m1", "m2", "m3", "m4"], "no duplicates, order kept (idempotence)")
    }

    @Test func errorsMapToRetryPermanentAndTooLarge() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1, "denied": 1])
        // Without librdkafka's own retries, a transient error reaches the delivery report.
        let h = try harness(cluster, #", "idempotence": false, "properties": {"retries": 0}"#)
        defer { h.producer.close() }
        #expect(try h.send(topic: "t", [.init(key: "entities/w", value: "warm")]).first?.status == .ok)

        try cluster.command("error Produce 1 NOT_ENOUGH_REPLICAS")
        let transient = try h.send(topic: "t", [.init(key: "entities/a", value: "a")])
        #expect(transient.first?.status == .retry)
        #expect(transient.first?.error?.contains("NOT_ENOUGH_REPLICAS") == true, "\(transient.first?.error ?? "")")

        try cluster.command("error Produce 1 INVALID_RECORD")
        let invalid = try h.send(topic: "t", [.init(key: "entities/c", value: "c")])
        #expect(invalid.first?.status == .permanent)
        #expect(invalid.first?.error?.contains("INVALID_RECORD") == true, "\(invalid.first?.error ?? "")")

        try cluster.command("error Produce 1 MSG_SIZE_TOO_LARGE")
        let large = try h.send(topic: "t", [.init(key: "entities/d", value: "d")])
        #expect(large.first?.status == .tooLarge)
        #expect(large.first?.error?.contains("MSG_SIZE_TOO_LARGE") == true, "\(large.first?.error ?? "")")

        try cluster.command("error Produce 1 THROTTLING_QUOTA_EXCEEDED")
        let throttled = try h.send(topic: "t", [.init(key: "entities/e", value: "e")])
        #expect(throttled.first?.status == .throttled, "\(throttled.first?.error ?? "")")
        #expect((throttled.first?.retryAfterMs ?? 0) > 0)

        // Authorization: librdkafka also remembers the topic's error until its next metadata refresh,
        // so every message to that topic is PERMANENT meanwhile (another topic here).
        #expect(try h.send(topic: "denied", [.init(key: "entities/w", value: "warm")]).first?.status == .ok)
        try cluster.command("error Produce 1 TOPIC_AUTHORIZATION_FAILED")
        let denied = try h.send(topic: "denied", [.init(key: "entities/b", value: "b")])
        #expect(denied.first?.status == .permanent)
        #expect(denied.first?.error?.contains("TOPIC_AUTHORIZATION_FAILED") == true, "\(denied.first?.error ?? "")")

        let after = try h.send(topic: "t", [.init(key: "entities/f", value: "f")])
        #expect(after.first?.status == .ok, "the producer keeps working after failures: \(after.first?.error ?? "")")
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "t", atLeast: 2)
        #expect(records.map(\.payload) == ["warm", "f"], "failed messages were not written")
    }

    @Test func messagesOverTheLimitAreTooLargeOneByOneAndTheRestOfTheBatchIsSent() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1])
        let h = try harness(cluster, #", "messageMaxBytes": 10000"#)
        defer { h.producer.close() }
        #expect(h.producer.maxMessageBytes == 10_000 - KafkaConfig.keyAndFramingReserve)
        let small = ProducerHarness.Message(key: "entities/s", value: "small", headers: [("h", "1")])
        // Over the declared limit (body + headers): refused by the sink before librdkafka.
        let overDeclared = ProducerHarness.Message(key: "entities/x", bytes: Array(repeating: 0x61, count: 9_600))
        // Under the declared limit but a huge key pushes the record over message.max.bytes: librdkafka's own check.
        let overWire = ProducerHarness.Message(
            key: String(repeating: "k", count: 2_000), bytes: Array(repeating: 0x62, count: 9_000))
        let results = try h.send(topic: "t", [small, overDeclared, small, overWire, small])
        #expect(results.map(\.status) == [.ok, .tooLarge, .ok, .tooLarge, .ok])
        #expect(results[1].error?.contains("limit is 9488") == true, "\(results[1].error ?? "")")
        #expect(results[3].error?.contains("MSG_SIZE_TOO_LARGE") == true, "\(results[3].error ?? "")")
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "t", atLeast: 3)
        #expect(records.count == 3 && records.allSatisfy { $0.payload == "small" })
    }

    @Test func aFullLocalQueueIsBackPressureNotLoss() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 2])
        try cluster.command("rtt 1 20")
        let h = try harness(cluster, #", "properties": {"queue.buffering.max.messages": 10}"#)
        defer { h.producer.close() }
        let messages = (0..<300).map { ProducerHarness.Message(key: "entities/q\($0 % 13)", value: "q\($0)") }
        let results = try h.send(topic: "t", messages, timeout: 60)
        #expect(results.allSatisfy { $0.status == .ok }, "\(results.first { $0.status != .ok }?.error ?? "")")
        #expect((h.observed.withLock { $0.counters["queue_full_waits"] } ?? 0) > 0, "the queue did fill up")
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "t", atLeast: 300)
        #expect(Set(records.map(\.payload)) == Set(messages.map { String(decoding: $0.value, as: UTF8.self) }))
    }

    @Test func aBrokerOutageIsUnhealthyUntilDeliveryResumes() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1])
        let h = try harness(cluster)
        defer { h.producer.close() }
        #expect(try h.send(topic: "t", [.init(key: "entities/a", value: "before")]).first?.status == .ok)
        try cluster.command("down 1")
        let pending = Locked<[SinkResult]?>(nil)
        h.sendAsync(topic: "t", [.init(key: "entities/a", value: "during")]) { r in pending.withLock { $0 = r } }
        let sawDown = StreamingTestSupport.eventually(timeout: 20) {
            h.observed.withLock { $0.health.contains { !$0.0 && $0.1.contains("ALL_BROKERS_DOWN") } }
        }
        #expect(sawDown, "health: \(h.observed.withLock { $0.health })")
        #expect(pending.withLock { $0 } == nil, "a message waits while the broker is down")
        try cluster.command("up 1")
        #expect(StreamingTestSupport.eventually(timeout: 20) { pending.withLock { $0 } != nil })
        #expect(pending.withLock { $0 }?.first?.status == .ok)
        let health = h.observed.withLock { $0.health }
        #expect(health.last?.0 == true, "healthy again after a delivery: \(health)")
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "t", atLeast: 2)
        #expect(records.map(\.payload) == ["before", "during"])
    }

    @Test func messagesThatTimeOutAreRetry() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1])
        let h = try harness(cluster, #", "deliveryTimeoutMs": 1500"#)
        defer { h.producer.close() }
        #expect(try h.send(topic: "t", [.init(key: "entities/a", value: "warm")]).first?.status == .ok)
        try cluster.command("down 1")
        let started = Date()
        let results = try h.send(
            topic: "t", [.init(key: "entities/a", value: "x"), .init(key: "entities/b", value: "y")], timeout: 20)
        #expect(results.allSatisfy { $0.status == .retry })
        #expect(results.first?.error?.contains("MSG_TIMED_OUT") == true, "\(results.first?.error ?? "")")
        #expect(Date().timeIntervalSince(started) < 10)
        try cluster.command("up 1")
    }

    @Test func stopCompletesEveryPendingBatchBeforeReturningAndNothingAfterwards() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1])
        let h = try harness(cluster)
        #expect(try h.send(topic: "t", [.init(key: "entities/a", value: "warm")]).first?.status == .ok)
        try cluster.command("down 1")
        let got = Locked<[[SinkResult]]>([])
        for b in 0..<3 {
            h.sendAsync(topic: "t", (0..<4).map { .init(key: "entities/s\($0)", value: "b\(b)-\($0)") }) { r in
                got.withLock { $0.append(r) }
            }
        }
        #expect(h.producer.pendingBatches == 3)
        let started = Date()
        h.producer.stop(deadlineMs: 500)
        let elapsed = Date().timeIntervalSince(started)
        let atReturn = got.withLock { $0 }
        #expect(atReturn.count == 3, "every pending batch completed before stop returned")
        #expect(atReturn.allSatisfy { $0.count == 4 && $0.allSatisfy { $0.status == .retry } })
        #expect(elapsed < 3, "stop kept to its deadline (\(elapsed) s)")
        // After stop: new batches are refused at once (RETRY), old ones are never completed again.
        let late = try h.send(topic: "t", [.init(key: "entities/z", value: "late")])
        #expect(late.first?.status == .retry)
        try cluster.command("up 1")
        Thread.sleep(forTimeInterval: 1)
        h.producer.close()
        let counts = h.observed.withLock { $0.completions }
        #expect(counts.values.allSatisfy { $0 == 1 }, "exactly one completion per batch: \(counts)")
        #expect(got.withLock { $0.count } == 3)
    }

    @Test func aFatalErrorReplacesTheProducer() throws {
        let cluster = try MockKafkaCluster(topics: ["t": 1])
        let config = try KafkaConfig.parse(#"{"bootstrapServers": "\#(cluster.bootstrap)"}"#)
        let logs = Locked<[String]>([])
        let health = Locked<[Bool]>([])
        let events = KafkaProducerEvents(health: { h, _ in health.withLock { $0.append(h) } })
        let holder = try ReplaceableProducer(
            make: { try KafkaProducer(config: config, events: events) },
            log: { _, line in logs.withLock { $0.append(line) } })
        holder.start()
        defer { holder.close() }
        let first = holder.current()
        #expect(
            try ProducerHarness(wrapping: first).send(topic: "t", [.init(key: "entities/a", value: "before")]).first?
                .status == .ok)

        first.simulateFatalError("simulated loss of idempotence")
        #expect(StreamingTestSupport.eventually(timeout: 10) { first.fatalError != nil })
        let refused = try ProducerHarness(wrapping: first).send(
            topic: "t", [.init(key: "entities/a", value: "refused")])
        #expect(refused.first?.status == .retry, "a fatally failed producer's messages are RETRY, not lost")
        #expect(refused.first?.error?.contains("_FATAL") == true, "\(refused.first?.error ?? "")")

        let second = holder.current()
        #expect(second !== first)
        #expect(holder.replacements == 1)
        #expect(
            logs.withLock { $0 }.contains {
                $0.contains("a new producer takes over") && $0.contains("simulated loss of idempotence")
            })
        #expect(
            try ProducerHarness(wrapping: second).send(topic: "t", [.init(key: "entities/a", value: "after")]).first?
                .status == .ok)
        #expect(holder.current() === second, "replaced once, not on every call")
        #expect(
            health.withLock { $0 } == [false, true],
            "unhealthy at the fatal error, healthy once the new producer delivers")
        let records = try KafkaConsumer.consume(bootstrap: cluster.bootstrap, topic: "t", atLeast: 2)
        #expect(records.map(\.payload) == ["before", "after"])
    }
}
