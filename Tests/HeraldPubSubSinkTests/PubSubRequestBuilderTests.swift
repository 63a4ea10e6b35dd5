import HeraldJSON
import HeraldPubSubSinkCore
import HeraldSinkSupport
import Testing

/// Request splitting, ordering keys and the limits the sink enforces itself (the emulator does not).
@Suite struct PubSubRequestBuilderTests {
    static let headers: [(name: String, value: String)] = [
        ("tenantId", "t1"), ("eventType", "ENTITY_CREATED"), ("sourceObjectUri", "entities/a1"), ("objectVersion", "1"),
    ]

    static func message(
        _ i: Int, key: String = "entities/k", size: Int = 20, headers: [(name: String, value: String)] = headers
    )
        -> OwnedMessage
    {
        var body = Array("{\"n\":\(i),\"pad\":\"".utf8)
        body += [UInt8](repeating: UInt8(ascii: "x"), count: max(0, size - body.count - 2))
        body += Array("\"}".utf8)
        return OwnedMessage(id: "\(i)-h", key: key, body: body, headers: headers)
    }

    /// The messages of a request body, parsed.
    static func parsed(_ request: PublishRequest) throws -> [JSONValue] {
        let json = try JSONParser.parse(request.body)
        return try #require(json["messages"]?.arrayValue)
    }

    @Test func splitsAtOneThousandMessagesPerRequest() throws {
        let messages = (0..<2500).map { Self.message($0) }
        let plan = PubSubRequestBuilder().plan(messages, ordered: false)
        #expect(plan.rejected.isEmpty)
        #expect(plan.requests.map(\.indices.count) == [1000, 1000, 500])
        #expect(plan.requests.flatMap(\.indices) == Array(0..<2500), "every message once, in batch order")
        let last = try Self.parsed(plan.requests[2])
        #expect(last.count == 500)
        let data = try #require(last[499]["data"]?.stringValue)
        #expect(Base64.decode(data) == messages[2499].body, "data is the body, base64")
        #expect(last[0]["attributes"]?["eventType"] == .string("ENTITY_CREATED"))
        #expect(last[0]["orderingKey"] == nil, "no ordering key when the destination is not ordered")
    }

    @Test func splitsAtTenMegabytesPerRequest() throws {
        let messages = (0..<25).map { Self.message($0, size: 1_000_000) }
        let plan = PubSubRequestBuilder().plan(messages, ordered: false)
        #expect(plan.rejected.isEmpty)
        // base64 makes each 1,000,000-byte body 1,333,336 bytes: 7 fit under 10,000,000, 8 do not.
        #expect(plan.requests.map(\.indices.count) == [7, 7, 7, 4])
        for r in plan.requests {
            let body = r.body
            #expect(body.count <= 10_000_000)
            #expect(body.count == r.bodyCount)
            #expect(try Self.parsed(r).count == r.indices.count)
        }
        let smaller = PubSubRequestBuilder(maxMessages: 3, maxRequestBytes: 3_000_000).plan(messages, ordered: false)
        #expect(
            smaller.requests.map(\.indices.count).allSatisfy { $0 <= 2 },
            "two 1.33 MB entries fit in 3 MB, three do not")
        #expect(smaller.requests.allSatisfy { $0.body.count <= 3_000_000 })
        let fewer = PubSubRequestBuilder(maxMessages: 3).plan((0..<10).map { Self.message($0) }, ordered: false)
        #expect(fewer.requests.map(\.indices.count) == [3, 3, 3, 1])
    }

    @Test func aMessageThatCannotFitIsTooLargeAndTheRestIsSent() throws {
        let messages = [
            Self.message(0), Self.message(1, size: 7_600_000), Self.message(2), Self.message(3, size: 10_000_001),
        ]
        // Without a declared limit, the request limit decides: 7.6 MB is 10.1 MB of base64.
        let plan = PubSubRequestBuilder().plan(messages, ordered: false)
        #expect(plan.requests.flatMap(\.indices) == [0, 2])
        let rejected = Dictionary(uniqueKeysWithValues: plan.rejected.map { ($0.index, $0.result) })
        #expect(rejected[1]?.status == .tooLarge)
        #expect(rejected[1]?.error?.contains("request limit of 10000000") == true, "\(rejected[1]?.error ?? "")")
        #expect(rejected[3]?.status == .tooLarge)
        #expect(rejected[3]?.error?.contains("Pub/Sub's limit") == true)
        // The sink declares a limit to Herald and holds messages to it (conformance: over the limit → TOO_LARGE).
        let declared = PubSubRequestBuilder.declaredMessageLimit(maxRequestBytes: 10_000_000)
        #expect(declared > 7_000_000 && declared < 7_500_000)
        let strict = PubSubRequestBuilder(declaredMaxMessageBytes: declared)
        let headerBytes = Self.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        let atLimit = strict.plan([Self.message(0, size: declared - headerBytes - 64)], ordered: false)
        #expect(atLimit.rejected.isEmpty && atLimit.requests.count == 1)
        #expect(atLimit.requests.allSatisfy { $0.body.count <= 10_000_000 })
        let over = strict.plan([Self.message(0, size: declared + 1)], ordered: false)
        #expect(over.rejected.first?.result.status == .tooLarge)
    }

    @Test func orderedBatchesCarryOneOrderingKeyPerRequest() throws {
        let keys = ["entities/a", "entities/b", "entities/a", "entities/c", "entities/b", "entities/a"]
        let messages = keys.enumerated().map { Self.message($0.offset, key: $0.element) }
        let plan = PubSubRequestBuilder().plan(messages, ordered: true)
        #expect(
            plan.requests.map(\.indices) == [[0, 2, 5], [1, 4], [3]], "grouped by key, keys in order of appearance")
        for r in plan.requests {
            let key = try #require(r.orderingKey)
            for (i, m) in zip(r.indices, try Self.parsed(r)) {
                #expect(m["orderingKey"] == .string(key))
                #expect(keys[i] == key)
            }
        }
        // A key group larger than a request is split and keeps its key and order.
        let many = (0..<5).map { Self.message($0, key: "entities/z") }
        let split = PubSubRequestBuilder(maxMessages: 2).plan(many, ordered: true)
        #expect(split.requests.map(\.indices) == [[0, 1], [2, 3], [4]])
        #expect(split.requests.allSatisfy { $0.orderingKey == "entities/z" })
        let unordered = PubSubRequestBuilder().plan(messages, ordered: false)
        #expect(unordered.requests.count == 1)
        #expect(unordered.requests[0].orderingKey == nil)
        #expect(!String(decoding: unordered.requests[0].body, as: UTF8.self).contains("orderingKey"))
    }

    @Test func attributeLimitsAreEnforcedPerMessage() throws {
        let key256 = String(repeating: "k", count: 256)
        let value1024 = String(repeating: "v", count: 1024)
        var atLimits: [(name: String, value: String)] = [(key256, value1024)]
        for i in 1..<100 { atLimits.append(("a\(i)", "v")) }
        let cases: [(String, [(name: String, value: String)], SinkStatusExpectation)] = [
            ("100 attributes, 256-byte key, 1,024-byte value", atLimits, .accepted),
            ("101 attributes", atLimits + [("extra", "1")], .permanent("101 attributes")),
            ("257-byte key", [(key256 + "k", "v")], .permanent("257 bytes")),
            ("1,025-byte value", [("big", value1024 + "v")], .permanent("1025 bytes")),
            ("reserved goog prefix", [("googClient", "x")], .permanent("goog")),
            ("empty key", [("", "x")], .permanent("0 bytes")),
            ("duplicate key", [("a", "1"), ("a", "2")], .permanent("appears twice")),
        ]
        let builder = PubSubRequestBuilder()
        for (label, headers, expected) in cases {
            let batch = [Self.message(0), Self.message(1, headers: headers), Self.message(2)]
            let plan = builder.plan(batch, ordered: false)
            switch expected {
            case .accepted:
                #expect(plan.rejected.isEmpty, "\(label)")
                let parsed = try Self.parsed(plan.requests[0])
                #expect(parsed[1]["attributes"]?.objectValue?.count == 100, "\(label)")
            case .permanent(let text):
                #expect(plan.rejected.map(\.index) == [1], "\(label): only the offending message")
                #expect(plan.rejected.first?.result.status == .permanent, "\(label)")
                #expect(
                    plan.rejected.first?.result.error?.contains(text) == true,
                    "\(label): \(plan.rejected.first?.result.error ?? "")")
                #expect(plan.requests.flatMap(\.indices) == [0, 2], "\(label): the others are still sent")
            }
        }
        let empty = builder.plan([OwnedMessage(id: "e", key: "k", body: [UInt8](), headers: [])], ordered: false)
        #expect(empty.rejected.first?.result.status == .permanent)
        let longKey = builder.plan([Self.message(0, key: String(repeating: "u", count: 1025))], ordered: true)
        #expect(longKey.rejected.first?.result.error?.contains("ordering key") == true)
    }

    @Test func attributeValuesAreEscapedAndDataIsExact() throws {
        let odd: [(name: String, value: String)] = [
            ("quote\"key", "a \"b\" \\ c\nd\te"), ("unicode", "Zoë — 東京 🚀"), ("ctl", "\u{01}"),
        ]
        let body: [UInt8] = Array(0...255)  // bytes no JSON string could carry as they are
        let plan = PubSubRequestBuilder().plan(
            [OwnedMessage(id: "1", key: "k", body: body, headers: odd)], ordered: false)
        let m = try #require(try Self.parsed(plan.requests[0]).first)
        for (name, value) in odd { #expect(m["attributes"]?[name] == .string(value)) }
        #expect(Base64.decode(m["data"]!.stringValue!) == body)
    }

    enum SinkStatusExpectation {
        case accepted
        case permanent(String)
    }
}
