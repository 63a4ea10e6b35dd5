import HeraldSinkSupport
import HeraldJSON
import HeraldServiceBusSinkCore
import HeraldSinkSDK
import Testing

@Suite struct ServiceBusRequestBuilderTests {
    static let headers: [(name: String, value: String)] = [
        ("tenantId", "t1"), ("eventType", "ENTITY_CHANGED"), ("sourceObjectUri", "entities/x"), ("messageId", "7-abc"),
    ]

    static func message(_ i: Int, key: String = "entities/k", size: Int = 30) -> OwnedMessage {
        var body = Array("{\"n\":\(i),\"pad\":\"".utf8)
        body += [UInt8](repeating: UInt8(ascii: "y"), count: max(0, size - body.count - 2))
        body += Array("\"}".utf8)
        return OwnedMessage(id: "\(i)-abc", key: key, body: body, headers: headers)
    }

    @Test func messagesBecomeTheBatchFormat() throws {
        let messages = [
            OwnedMessage(
                id: "1-a", key: "entities/a", body: #"{"type":"ENTITY_CREATED","q":"\"quoted\" \\ é"}"#,
                headers: Self.headers),
            Self.message(2, key: "entities/b"),
        ]
        for ordered in [false, true] {
            let plan = ServiceBusRequestBuilder().plan(messages, ordered: ordered)
            try #require(plan.requests.count == 1 && plan.rejected.isEmpty)
            let array = try #require(try JSONParser.parse(plan.requests[0].body).arrayValue)
            #expect(array.count == 2)
            for (m, json) in zip(messages, array) {
                #expect(json.objectValue?.map(\.key) == ["Body", "BrokerProperties", "UserProperties"])
                #expect(json["Body"]?.stringValue == String(decoding: m.body, as: UTF8.self), "the body, as a string")
                #expect(json["BrokerProperties"]?["MessageId"] == .string(m.id))
                #expect(
                    json["BrokerProperties"]?["SessionId"] == (ordered ? .string(m.key) : nil),
                    "SessionId only when ordered")
                for h in m.headers { #expect(json["UserProperties"]?[h.name] == .string(h.value)) }
                #expect(json["UserProperties"]?.objectValue?.count == m.headers.count)
            }
        }
    }

    @Test func requestsStayWithinTheSizeLimit() throws {
        let messages = (0..<10).map { Self.message($0, size: 60_000) }
        let plan = ServiceBusRequestBuilder().plan(messages, ordered: false)
        // Each message counts 60,000 + properties + 64: four fit in 262,144, five do not.
        #expect(plan.requests.map(\.indices) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        for r in plan.requests {
            let recount = r.indices.reduce(0) { $0 + ServiceBusRequestBuilder.messageSize(messages[$1], sessionId: nil) }
            #expect(r.size == recount && r.size <= 262_144)
        }
        let premium = ServiceBusRequestBuilder(maxMessageBytes: 1_048_576).plan(messages, ordered: false)
        #expect(premium.requests.map(\.indices.count) == [10])
        let capped = ServiceBusRequestBuilder(maxMessages: 3).plan((0..<7).map { Self.message($0) }, ordered: false)
        #expect(capped.requests.map(\.indices.count) == [3, 3, 1])
    }

    @Test func oversizedAndUnsendableMessagesAreRefusedAlone() throws {
        let builder = ServiceBusRequestBuilder()
        #expect(builder.declaredMaxMessageBytes == 262_144 - 1024)
        let headerBytes = Self.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        let atLimit = Self.message(1, size: builder.declaredMaxMessageBytes - headerBytes)
        let overDeclared = Self.message(2, size: builder.declaredMaxMessageBytes - headerBytes + 1)
        // Within what Herald counts, but a 2,000-byte session id pushes it over 256 KB.
        let overWithSession = Self.message(
            3, key: String(repeating: "s", count: 2000), size: builder.declaredMaxMessageBytes - headerBytes)
        var notUTF8 = Self.message(4)
        notUTF8.body = [0x7B, 0xFF, 0xFE, 0x7D]
        let plan = builder.plan(
            [Self.message(0), atLimit, overDeclared, overWithSession, notUTF8, Self.message(5)], ordered: true)
        let rejected = Dictionary(uniqueKeysWithValues: plan.rejected.map { ($0.index, $0.result) })
        #expect(Set(rejected.keys) == [2, 3, 4])
        #expect(rejected[2]?.status == .tooLarge && rejected[2]?.error?.contains("limit of 261120") == true)
        #expect(rejected[3]?.status == .tooLarge && rejected[3]?.error?.contains("with its properties") == true)
        #expect(rejected[4]?.status == .permanent && rejected[4]?.error?.contains("not UTF-8") == true)
        #expect(plan.requests.flatMap(\.indices).sorted() == [0, 1, 5])
        #expect(plan.requests.allSatisfy { $0.size <= 262_144 })
    }

    @Test func partitionedEntitiesGetOneSessionPerRequest() throws {
        let keys = ["entities/a", "entities/b", "entities/a", "entities/c"]
        let messages = keys.enumerated().map { Self.message($0.offset, key: $0.element) }
        let partitioned = ServiceBusRequestBuilder(partitioned: true).plan(messages, ordered: true)
        #expect(partitioned.requests.map(\.indices) == [[0, 2], [1], [3]])
        for r in partitioned.requests {
            let sessions = Set(
                try JSONParser.parse(r.body).arrayValue!.map { $0["BrokerProperties"]?["SessionId"]?.stringValue })
            #expect(sessions.count == 1)
        }
        #expect(ServiceBusRequestBuilder().plan(messages, ordered: true).requests.map(\.indices) == [[0, 1, 2, 3]])
        #expect(ServiceBusRequestBuilder(partitioned: true).plan(messages, ordered: false).requests.count == 1)
    }
}
