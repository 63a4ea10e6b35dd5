import HeraldJSON
import HeraldKafkaSinkCore
import HeraldSinkSDK
import Testing

/// Configuration parsing (pure) and what librdkafka says about properties at create time.
@Suite struct KafkaConfigTests {
    func rejection(_ text: String) -> String? {
        do {
            try KafkaSink.validate(config: text)
            return nil
        } catch {
            return (error as? SinkError)?.message ?? "\(error)"
        }
    }

    @Test func typedKeysMapToLibrdkafkaPropertiesWithSafeDefaults() throws {
        let c = try KafkaConfig.parse(
            #"{"bootstrapServers": "a:1,b:2", "compression": "zstd", "lingerMs": 7, "batchSize": 65536, "batchNumMessages": 500, "partitioner": "murmur2_random", "messageMaxBytes": 2000000, "properties": {"client.id": "herald", "socket.keepalive.enable": true, "queue.buffering.max.messages": 5000}}"#
        )
        let props = Dictionary(c.librdkafkaProperties, uniquingKeysWith: { $1 })
        #expect(props["bootstrap.servers"] == "a:1,b:2")
        #expect(props["acks"] == "all")
        #expect(props["enable.idempotence"] == "true")
        #expect(props["compression.codec"] == "zstd")
        #expect(props["linger.ms"] == "7")
        #expect(props["batch.size"] == "65536")
        #expect(props["batch.num.messages"] == "500")
        #expect(props["partitioner"] == "murmur2_random")
        #expect(props["message.max.bytes"] == "2000000")
        #expect(props["message.timeout.ms"] == "25000")
        #expect(props["client.id"] == "herald")
        #expect(props["socket.keepalive.enable"] == "true")
        #expect(props["queue.buffering.max.messages"] == "5000")
    }

    @Test func lingerDefaultsToOneMillisecondAndPropertiesMayOverrideIt() throws {
        let plain = try KafkaConfig.parse(#"{"bootstrapServers": "a:1"}"#).librdkafkaProperties
        #expect(plain.filter { $0.0 == "linger.ms" }.map(\.1) == ["1"])
        // librdkafka applies properties in order, so the property (here an alias of linger.ms) wins.
        let text = #"{"bootstrapServers": "a:1", "properties": {"queue.buffering.max.ms": 5}}"#
        let lingers = try KafkaConfig.parse(text).librdkafkaProperties.filter {
            $0.0 == "linger.ms" || $0.0 == "queue.buffering.max.ms"
        }
        #expect(lingers.map(\.1) == ["1", "5"])
    }

    @Test func validationNamesTheOffendingKey() {
        #expect(rejection(#"{"bootstrapServers": "a:1", "lingerMS": 5}"#)?.contains("unknown key 'lingerMS'") == true)
        #expect(rejection(#"{"bootstrapServers": "a:1", "lingerMS": 5}"#)?.contains("did you mean 'lingerMs'") == true)
        #expect(rejection(#"{"bootstrapServers": 9092}"#)?.contains("bootstrapServers: expected a string") == true)
        #expect(rejection(#"{}"#)?.contains("required key 'bootstrapServers' is missing") == true)
        #expect(
            rejection(#"{"bootstrapServers": "a:1", "compression": "brotli"}"#)?.contains("'brotli' is not one of")
                == true)
        #expect(rejection(#"{"bootstrapServers": "a:1", "partitioner": "murmur3"}"#)?.contains("partitioner") == true)
        let arrayValue = rejection(#"{"bootstrapServers": "a:1", "properties": {"ssl.ca.location": ["x"]}}"#)
        #expect(
            arrayValue?.contains("ssl.ca.location") == true && arrayValue?.contains("found an array") == true,
            "\(arrayValue ?? "")")
        #expect(
            rejection(#"{"bootstrapServers": "a:1", "properties": {"linger.ms": 3}, "lingerMs": 2}"#)?.contains(
                "also set by the key 'lingerMs'") == true)
        #expect(
            rejection(#"{"bootstrapServers": "a:1", "properties": {"dr_msg_cb": "x"}}"#)?.contains(
                "set by the Kafka sink itself") == true)
        #expect(rejection(#"{"bootstrapServers": "a:1", "deliveryTimeoutMs": 10}"#)?.contains("out of range") == true)
        #expect(rejection("[1]") != nil)
        #expect(rejection("{not json") != nil)
        // bootstrap.servers may come from properties instead; test.mock.num.brokers needs none.
        #expect(rejection(#"{"properties": {"bootstrap.servers": "a:1"}}"#) == nil)
        #expect(rejection(#"{"properties": {"test.mock.num.brokers": 1}}"#) == nil)
    }

    @Test func validationIsPureButCreateRejectsWhatLibrdkafkaRejects() throws {
        // A property name librdkafka does not know passes the (pure) validation…
        let unknown = #"{"bootstrapServers": "127.0.0.1:1", "properties": {"no.such.property": "1"}}"#
        #expect(rejection(unknown) == nil)
        // …and is refused at create time with librdkafka's own text.
        #expect {
            _ = try KafkaProducer(config: try KafkaConfig.parse(unknown), events: KafkaProducerEvents())
        } throws: { error in
            ((error as? SinkError)?.message ?? "").contains("No such configuration property: \"no.such.property\"")
        }
        // A bad value, likewise.
        let badValue = #"{"bootstrapServers": "127.0.0.1:1", "properties": {"security.protocol": "carrier-pigeon"}}"#
        #expect {
            _ = try KafkaProducer(config: try KafkaConfig.parse(badValue), events: KafkaProducerEvents())
        } throws: { error in
            let m = (error as? SinkError)?.message ?? ""
            return m.contains("security.protocol") && m.contains("carrier-pigeon")
        }
        // A combination rd_kafka_new refuses: idempotence needs acks=all.
        let combination = #"{"bootstrapServers": "127.0.0.1:1", "acks": "1"}"#
        #expect {
            _ = try KafkaProducer(config: try KafkaConfig.parse(combination), events: KafkaProducerEvents())
        } throws: { error in
            ((error as? SinkError)?.message ?? "").contains("acks")
        }
        // Without idempotence acks=1 is fine.
        let relaxed = try KafkaProducer(
            config: try KafkaConfig.parse(#"{"bootstrapServers": "127.0.0.1:1", "acks": "1", "idempotence": false}"#),
            events: KafkaProducerEvents())
        relaxed.close()
    }

    @Test func limitsFollowMessageMaxBytes() throws {
        let standard = try KafkaProducer(
            config: try KafkaConfig.parse(#"{"bootstrapServers": "127.0.0.1:1"}"#), events: KafkaProducerEvents())
        #expect(standard.messageMaxBytes == 1_000_000)
        #expect(standard.maxMessageBytes == 1_000_000 - KafkaConfig.keyAndFramingReserve)
        standard.close()
        let viaProperty = try KafkaProducer(
            config: try KafkaConfig.parse(
                #"{"bootstrapServers": "127.0.0.1:1", "properties": {"message.max.bytes": 50000}}"#),
            events: KafkaProducerEvents())
        #expect(viaProperty.messageMaxBytes == 50_000)
        viaProperty.close()
    }

    @Test func descriptorDeclaresAsyncOrderingAndAValidSchema() throws {
        #expect(KafkaSink.capabilities.contains(.async))
        #expect(KafkaSink.capabilities.contains(.orderingKey))
        #expect(KafkaSink.name == "kafka")
        let schema = try #require(KafkaSink.configSchema)
        #expect((try? HeraldJSONCheck.parses(schema)) == true)
        #expect(schema.contains(#""maxInFlight":{"type":"integer","minimum":1,"maximum":1024,"default":16,"#))
        #expect(schema.contains(#""maxInFlightBatches":{"type":"integer","minimum":1,"maximum":1024,"default":16,"deprecated":true"#))
    }

    @Test func maxInFlightBatchesIsTheDeprecatedNameOfMaxInFlight() throws {
        var warnings: [String] = []
        let old = try KafkaConfig.read(#"{"bootstrapServers": "b:9092", "maxInFlightBatches": 8}"#) { warnings.append($0) }
        #expect(old.maxInFlight == 8 && warnings.count == 1 && warnings[0].contains("maxInFlightBatches"))
        #expect(try KafkaConfig.parse(#"{"bootstrapServers": "b:9092", "maxInFlight": 9}"#).maxInFlight == 9)
        #expect(throws: (any Error).self) {
            try KafkaConfig.parse(#"{"bootstrapServers": "b:9092", "maxInFlight": 9, "maxInFlightBatches": 8}"#)
        }
    }
}

enum HeraldJSONCheck {
    static func parses(_ text: String) throws -> Bool {
        _ = try JSONParser.parse(text)
        return true
    }
}
