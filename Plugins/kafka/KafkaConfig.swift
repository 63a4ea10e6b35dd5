import Foundation
import HeraldJSON
import HeraldSinkSDK
import HeraldSinkSupport

/// Configuration of the Kafka sink (one librdkafka producer per instance):
///
///     {"bootstrapServers": "broker1:9092,broker2:9092",
///      "compression": "zstd", "lingerMs": 5, "batchSize": 1000000, "batchNumMessages": 10000,
///      "partitioner": "murmur2_random", "acks": "all", "idempotence": true,
///      "messageMaxBytes": 1000000, "deliveryTimeoutMs": 25000, "maxInFlight": 16,
///      "properties": {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", …}}
///
/// Parsing is pure (JSON shape and types only). librdkafka itself judges property names and
/// values when the instance is created (`rd_kafka_conf_set`), and its error text is what the
/// user sees.
public struct KafkaConfig: SinkConfiguration, Equatable {
    public static let pluginName = "kafka"

    public enum Compression: String, Sendable, CaseIterable {
        case none, gzip, snappy, lz4, zstd
    }

    /// librdkafka's partitioners. Its default, `consistent_random`, hashes keys with CRC32; Java
    /// clients use murmur2, so `murmur2_random` puts a key on the partition a Java producer would.
    public static let partitioners = [
        "random", "consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a", "fnv1a_random",
    ]

    public static let acksValues = ["all", "-1", "0", "1"]

    /// librdkafka's default `message.max.bytes`.
    public static let defaultMessageMaxBytes = 1_000_000

    /// The sink's `linger.ms` unless configured (librdkafka's default is 5). Herald hands the sink
    /// whole batches (produced in a fraction of a millisecond) and keeps only `maxInFlight` of them
    /// outstanding, each waiting for its acknowledgements: every millisecond librdkafka lingers is
    /// added to each batch's round trip. With batches of 500 and 4 in flight, 1 ms instead of 5
    /// doubled the throughput into librdkafka's mock cluster (herald-bench kafka: ~230k → ~460k
    /// messages/s); 0 made both Herald and kcat erratic there (many small requests).
    public static let defaultLingerMs = 1

    /// Room kept under `message.max.bytes` for the key (the entity URI) and the record framing:
    /// Herald counts body + header names and values against `max_message_bytes`; librdkafka also
    /// counts the key and per-record overhead (about 40 bytes plus varints per header).
    public static let keyAndFramingReserve = 512

    public var bootstrapServers: String?
    public var acks: String = "all"
    public var idempotence: Bool = true
    public var compression: Compression?
    public var lingerMs: Int?
    public var batchSize: Int?
    public var batchNumMessages: Int?
    public var partitioner: String?
    public var messageMaxBytes: Int?
    /// librdkafka's `message.timeout.ms`: how long it keeps trying to deliver a message (internal
    /// retries included) before reporting it failed. Keep it below the destination's
    /// `sendTimeoutMs` (30 s by default) so that a report arrives before Herald gives up on the batch.
    public var deliveryTimeoutMs: Int = 25_000
    /// Batches outstanding at once (the `max_in_flight` declared to Herald). Formerly `maxInFlightBatches` (still
    /// read, deprecated).
    public var maxInFlight: Int = 16
    /// Each key's messages reach the topic in Herald's order (the sink declares HERALD_SINK_LIMIT_KEY_ORDER, so
    /// Herald delivers as with `ordering: perEntity`). Consumers of a keyed topic, and log compaction, rely on
    /// it; `false` trades it for throughput when a destination has many updates of few entities.
    public var keyOrder: Bool = true
    /// Any other librdkafka property, passed through as text (security.protocol, sasl.*, ssl.*,
    /// client.id, queue.buffering.max.messages, test.mock.num.brokers, …), in the order written.
    public var properties: [(String, String)] = []

    public init() {}

    public init(bootstrapServers: String?) {
        self.bootstrapServers = bootstrapServers
    }

    public static var keys: [SinkConfigKey<KafkaConfig>] {
        [
            .string(
                "bootstrapServers", \.bootstrapServers,
                "host:port[,host:port…] (bootstrap.servers); required unless properties sets bootstrap.servers"),
            .choice("acks", \.acks, acksValues),
            .bool("idempotence", \.idempotence, "enable.idempotence: retries without duplicates or reordering"),
            .choice("compression", \.compression),
            .int("lingerMs", \.lingerMs, in: 0...900_000, "linger.ms (the sink's default is 1; librdkafka's is 5)"),
            .int("batchSize", \.batchSize, in: 1...2_147_483_647, "batch.size (bytes)"),
            .int("batchNumMessages", \.batchNumMessages, in: 1...1_000_000, "batch.num.messages"),
            .choice(
                "partitioner", \.partitioner, partitioners,
                "librdkafka's default is consistent_random (CRC32); murmur2_random places keys like Java clients"),
            .int(
                "messageMaxBytes", \.messageMaxBytes, in: 1000...1_000_000_000,
                "message.max.bytes (librdkafka's default: 1000000)"),
            .int(
                "deliveryTimeoutMs", \.deliveryTimeoutMs, in: 1000...3_600_000,
                "librdkafka's message.timeout.ms; keep it below the destination's sendTimeoutMs"),
            .int(
                "maxInFlight", \.maxInFlight, in: 1...1024, "batches outstanding at once",
                deprecatedNames: ["maxInFlightBatches"]),
            .bool("keyOrder", \.keyOrder, "each key's messages reach the topic in Herald's order"),
            SinkConfigKey(
                "properties",
                schema: #"{"type":"object","additionalProperties":{"type":["string","number","boolean"]}}"#,
                "any other librdkafka property (security.protocol, sasl.*, ssl.*, client.id, …)", read: readProperties),
        ]
    }

    public static func == (a: KafkaConfig, b: KafkaConfig) -> Bool {
        a.bootstrapServers == b.bootstrapServers && a.acks == b.acks && a.idempotence == b.idempotence
            && a.compression == b.compression && a.lingerMs == b.lingerMs && a.batchSize == b.batchSize
            && a.batchNumMessages == b.batchNumMessages && a.partitioner == b.partitioner
            && a.messageMaxBytes == b.messageMaxBytes && a.deliveryTimeoutMs == b.deliveryTimeoutMs
            && a.maxInFlight == b.maxInFlight && a.keyOrder == b.keyOrder
            && a.properties.elementsEqual(b.properties, by: { $0 == $1 })
    }

    /// The librdkafka property set by each typed key (a key and its property may not both be given).
    static let typedKeys: [(key: String, property: String)] = [
        ("bootstrapServers", "bootstrap.servers"), ("acks", "acks"), ("idempotence", "enable.idempotence"),
        ("compression", "compression.codec"), ("lingerMs", "linger.ms"), ("batchSize", "batch.size"),
        ("batchNumMessages", "batch.num.messages"), ("partitioner", "partitioner"),
        ("messageMaxBytes", "message.max.bytes"), ("deliveryTimeoutMs", "message.timeout.ms"),
    ]

    /// Properties that are another name of a typed key's property.
    static let aliases: [String: String] = [
        "metadata.broker.list": "bootstrap.servers", "request.required.acks": "acks",
        "compression.type": "compression.codec", "queue.buffering.max.ms": "linger.ms",
        "delivery.timeout.ms": "message.timeout.ms", "topic.partitioner": "partitioner",
    ]

    /// Set by the sink through librdkafka's API, never from text.
    static let reserved: Set<String> = [
        "dr_cb", "dr_msg_cb", "error_cb", "log_cb", "opaque", "background_event_cb", "throttle_cb", "stats_cb",
        "oauthbearer_token_refresh_cb", "socket_cb", "connect_cb", "closesocket_cb", "open_cb", "resolve_cb",
        "default_topic_conf", "log.queue",
    ]

    /// Parses and type-checks a configuration; throws a `SinkError(.permanent, …)` naming every problem.
    public static func parse(_ text: String) throws(SinkError) -> KafkaConfig {
        try read(text)
    }

    /// `properties`: names and values as text, in the order written; a property that a typed key given in the
    /// same configuration also sets is refused.
    static func readProperties(_ r: inout JSONObjectReader, _ key: String, _ c: inout KafkaConfig) {
        let rootKeys = Set(r.members.map(\.key))
        _ = r.object(key) { p -> Bool in
            for member in p.members {
                let name = member.key
                _ = p.value(name)
                let value: String
                switch member.value {
                case .string(let s): value = s
                case .number(let n): value = n
                case .bool(let b): value = b ? "true" : "false"
                default:
                    p.report(
                        name,
                        "expected a string, a number or a boolean (a librdkafka property value), found \(member.value.kindDescription)"
                    )
                    continue
                }
                if name.isEmpty {
                    p.report(name, "a property name must not be empty")
                    continue
                }
                if reserved.contains(name) {
                    p.report(name, "'\(name)' is set by the Kafka sink itself and cannot be configured")
                    continue
                }
                let canonical = aliases[name] ?? name
                if let typed = typedKeys.first(where: { $0.property == canonical }), rootKeys.contains(typed.key) {
                    p.report(name, "'\(name)' is also set by the key '\(typed.key)'; give only one of them")
                    continue
                }
                c.properties.append((name, value))
            }
            return true
        }
    }

    public mutating func check(_ problems: SinkConfigProblems) {
        let named = Set(properties.map { KafkaConfig.aliases[$0.0] ?? $0.0 })
        if bootstrapServers == nil && !named.contains("bootstrap.servers") && !named.contains("test.mock.num.brokers") {
            problems.report(
                "bootstrapServers", "required key 'bootstrapServers' is missing (the brokers, e.g. \"localhost:9092\")")
        }
        if let b = bootstrapServers, b.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.report("bootstrapServers", "must not be empty")
        }
    }

    /// The librdkafka properties to set, in order: the sink's defaults, the typed keys, then
    /// `properties` (which may override the defaults but not a typed key given in the same file).
    public var librdkafkaProperties: [(String, String)] {
        var out: [(String, String)] = []
        if let b = bootstrapServers { out.append(("bootstrap.servers", b)) }
        out.append(("acks", acks))
        out.append(("enable.idempotence", idempotence ? "true" : "false"))
        out.append(("message.timeout.ms", String(deliveryTimeoutMs)))
        if let v = compression { out.append(("compression.codec", v.rawValue)) }
        out.append(("linger.ms", String(lingerMs ?? KafkaConfig.defaultLingerMs)))
        if let v = batchSize { out.append(("batch.size", String(v))) }
        if let v = batchNumMessages { out.append(("batch.num.messages", String(v))) }
        if let v = partitioner { out.append(("partitioner", v)) }
        if let v = messageMaxBytes { out.append(("message.max.bytes", String(v))) }
        out += properties
        return out
    }
}
