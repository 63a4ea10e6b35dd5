import Foundation
import HeraldSinkSDK

/// Produces each message to a Kafka topic through librdkafka: topic = the destination's `name`,
/// key = the entity URI, headers = Herald's message headers, value = the body.
///
/// Asynchronous (`HERALD_SINK_CAP_ASYNC`): `send` hands every message to librdkafka and returns;
/// the batch is completed from the producer's poll thread once every message has its delivery
/// report. Idempotence is on by default, so librdkafka's own retries neither duplicate nor
/// reorder messages, and a key always maps to one partition: per-entity order holds within
/// the partition (`HERALD_SINK_CAP_ORDERING_KEY`).
public final class KafkaSink: SinkPlugin {
    public static let name = "kafka"
    public static let version = "1.0.0"
    public static let summary =
        "Produces each message to a Kafka topic with librdkafka (key = entity URI, idempotent, headers)"
    public static let capabilities: SinkCapabilities = [.async, .orderingKey, .flush]
    public static var configSchema: String? { KafkaConfig.schema }

    public let config: KafkaConfig
    let host: SinkHost
    private let producer: ReplaceableProducer

    public static func validate(config: String) throws {
        _ = try KafkaConfig.parse(config)
    }

    public init(config: String, host: SinkHost) throws {
        self.config = try KafkaConfig.read(config) { host.log(.warning, $0) }
        self.host = host
        let c = self.config
        producer = try ReplaceableProducer(make: { try KafkaSink.makeProducer(c, host) }, log: { host.log($0, $1) })
    }

    static func makeProducer(_ config: KafkaConfig, _ host: SinkHost) throws -> KafkaProducer {
        try KafkaProducer(
            config: config,
            events: KafkaProducerEvents(
                log: { host.log($0, $1) }, health: { host.setHealth($0, $1) }, counter: { host.counter($0, $1) },
                gauge: { host.gauge($0, $1) }))
    }

    deinit {
        producer.close()
    }

    public var limits: SinkPluginLimits {
        let max = producer.current().maxMessageBytes
        return SinkPluginLimits(
            maxMessageBytes: UInt64(max), maxBatchMessages: 10_000,
            maxBatchBytes: 64 << 20, maxInFlight: UInt32(config.maxInFlight), requiresKeyOrder: config.keyOrder)
    }

    public func start() throws {
        let p = producer.start()
        let c = config
        host.log(
            .info,
            "kafka sink producing to \(c.bootstrapServers ?? "(bootstrap.servers from properties)"): acks=\(c.acks), idempotence=\(c.idempotence), compression=\(c.compression?.rawValue ?? "none"), linger.ms=\(c.lingerMs ?? KafkaConfig.defaultLingerMs), partitioner=\(c.partitioner ?? "consistent_random"), message.max.bytes=\(p.messageMaxBytes)"
        )
    }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        producer.current().send(
            topic: batch.destination, count: batch.count,
            record: { i in
                let m = batch[i]
                return KafkaRecord(key: m.keyBytes, value: m.body, headers: .message(m))
            },
            completion: { results in completion.complete(results) })
    }

    public func flush(timeoutMs: UInt32) -> Bool {
        producer.current().flush(timeoutMs: timeoutMs)
    }

    public func stop(deadlineMs: UInt32) {
        producer.stop(deadlineMs: deadlineMs)
    }
}

/// The producer of a sink instance, replaced by a new one after a fatal error: a producer that
/// lost its idempotence guarantees (librdkafka's fatal errors) fails every message from then on.
/// The old producer is stopped first, which completes its pending batches (RETRY for what it
/// did not deliver), then destroyed.
public final class ReplaceableProducer: @unchecked Sendable {
    private let lock = NSLock()
    private var producer: KafkaProducer
    private let make: () throws -> KafkaProducer
    private let log: (SinkHost.LogLevel, String) -> Void
    private var started = false
    private var stopped = false
    /// How many times the producer was replaced.
    public private(set) var replacements = 0

    public init(make: @escaping () throws -> KafkaProducer, log: @escaping (SinkHost.LogLevel, String) -> Void) throws {
        self.make = make
        self.log = log
        producer = try make()
    }

    deinit {
        close()
    }

    @discardableResult
    public func start() -> KafkaProducer {
        let p = lock.withLock {
            started = true
            return producer
        }
        p.start()
        return p
    }

    /// The producer to send with; a fatally failed one is replaced first (while running).
    public func current() -> KafkaProducer {
        lock.lock()
        defer { lock.unlock() }
        let p = producer
        guard started, !stopped, let reason = p.fatalError else { return p }
        let fresh: KafkaProducer
        do {
            fresh = try make()
        } catch {
            log(.error, "kafka producer hit a fatal error (\(reason)) and cannot be replaced: \(error)")
            return p
        }
        fresh.reportHealthyOnNextDelivery()
        fresh.start()
        producer = fresh
        replacements += 1
        log(.warning, "kafka producer hit a fatal error (\(reason)); a new producer takes over")
        p.stop(deadlineMs: 1000)
        p.close()
        return fresh
    }

    public func stop(deadlineMs: UInt32) {
        let p = lock.withLock {
            stopped = true
            return producer
        }
        p.stop(deadlineMs: deadlineMs)
    }

    public func close() {
        lock.withLock { producer }.close()
    }
}
