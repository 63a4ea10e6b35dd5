import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// End to end: the real `herald serve` with the servicebus plugin sending to the local endpoint.
/// A file sink on the same events is the reference for what Herald rendered.
@Suite(.serialized, .blocking, .timeLimit(.minutes(10)))
struct ServiceBusDeliveryTests {
    static let key = "c2VjcmV0LWtleS1iYXNlNjQ9PQ=="

    static func seq(_ id: String?) -> Int? {
        guard let id, let dash = id.firstIndex(of: "-") else { return nil }
        return Int(id[..<dash])
    }

    static func strings(_ value: JSONValue?) -> [String: String] {
        var out: [String: String] = [:]
        for m in value?.objectValue ?? [] { out[m.key] = m.value.stringValue }
        return out
    }

    @Test func heraldSendsToServiceBusWithSessionsSizesAndAuthFailures() throws {
        let dir = TemporaryDirectory(prefix: "herald-sb-e2e")
        let endpoint = try ServiceBusEndpointTests.startEndpoint(dir)
        let plugins = dir.file("plugins.d")
        StreamingTestSupport.installManifest(
            name: "servicebus", library: try builtLibrary("herald-sink-servicebus"), in: plugins)
        StreamingTestSupport.installManifest(name: "file", library: try builtLibrary("herald-sink-file"), in: plugins)
        let connection =
            "Endpoint=sb://herald-test.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=\(Self.key)"
        let local = #""endpoint": "\#(endpoint.baseURL)", "allowPlainHTTP": true"#
        let batch = #""batch": {"maxMessages": 10, "lingerMs": 0}"#
        let streaming = """
            {"streamingEnabled": true,
             "messaging": {
               "providers": {
                 "sb": {"plugin": "servicebus", "config": {"connectionString": "\(connection)", \(local)}},
                 "sbpremium": {"plugin": "servicebus", "config": {"connectionString": "\(connection)", \(local), "maxMessageBytes": 1048576}},
                 "sbwrong": {"plugin": "servicebus", "config": {"namespace": "herald-test", "keyName": "send", "key": "wrong-key", \(local)}},
                 "ref": {"plugin": "file", "config": {"path": "\(dir.path)/ref-{destination}.ndjson"}}},
               "destinations": [
                 {"provider": "sb", "name": "events", \(batch)},
                 {"provider": "sb", "name": "orders", "ordering": "perEntity", \(batch)},
                 {"provider": "sbpremium", "name": "big", \(batch)},
                 {"provider": "sbwrong", "name": "events", \(batch), "retry": {"initialDelayMs": 20, "maxAttempts": 3}},
                 {"provider": "ref", "name": "events", \(batch)},
                 {"provider": "ref", "name": "orders", "ordering": "perEntity", \(batch)}]}}
            """
        // The test schema with room for one 300 KB value.
        let tenant = StreamingTestSupport.tenant(streaming: streaming)
            .replacingOccurrences(of: #""maxValueBytes": 64"#, with: #""maxValueBytes": 400000"#)
        let config = TestConfiguration.write(
            in: dir.path, tenants: tenant, extra: #""pluginDirectories": ["\#(plugins)"],"#)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 12, prefix: "s")
        for round in 1...2 {
            let items = (0..<4).map {
                TestConfiguration.person(id: "s\($0)", first: "Round\(round)", last: "Zoë–\(round)")
            }
            let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
            #expect(r.status == 200, "\(r.text)")
        }
        let big = try client.post(
            "/api/t1/entities",
            "[\(TestConfiguration.person(id: "big", first: String(repeating: "x", count: 300_000)))]")
        #expect(big.status == 200, "\(big.text.prefix(300))")
        let normal = 20  // 12 created + 8 changed; the 21st event is the big one

        func received(_ entity: String) throws -> [JSONValue] {
            try endpoint.get("/_test/received").arrayValue?.filter { $0["entity"] == .string(entity) } ?? []
        }
        func dlq(_ id: String) throws -> [JSONValue] {
            try client.get("/api/t1/streaming/dlq?destination=\(id)").json?["deadLetters"]?.arrayValue ?? []
        }
        let settled = StreamingTestSupport.eventually(timeout: 60) {
            guard let e = try? received("events"), let o = try? received("orders"), let b = try? received("big") else {
                return false
            }
            let wrong = (try? dlq("sbwrong/events"))?.count ?? 0
            let bigDead = (try? dlq("sbpremium/big"))?.count ?? 0
            return e.count >= normal && o.count >= normal && b.count >= normal && wrong == normal + 1 && bigDead == 1
        }
        #expect(settled, "\(server.log.suffix(3000))")

        let refEvents = StreamingTestSupport.readLines(dir.file("ref-events.ndjson"))
        let refOrders = StreamingTestSupport.readLines(dir.file("ref-orders.ndjson"))
        #expect(refEvents.count == normal + 1, "the reference has every event, the big one too")
        for (entity, reference, ordered) in [("events", refEvents, false), ("orders", refOrders, true)] {
            let got = try received(entity)
            #expect(got.count == normal, "\(entity): every event but the big one, once")
            var bySeq: [Int: JSONValue] = [:]
            for line in reference {
                if let s = Self.seq(line["headers"]?["messageId"]?.stringValue) { bySeq[s] = line }
            }
            var seqs = Set<Int>()
            var versions: [String: [Int]] = [:]
            for m in got {
                let user = Self.strings(m["UserProperties"])
                let brokerId = m["BrokerProperties"]?["MessageId"]?.stringValue
                #expect(brokerId == user["messageId"], "\(entity): MessageId is Herald's message id (de-duplication)")
                let seq = try #require(Self.seq(brokerId))
                seqs.insert(seq)
                let ref = try #require(bySeq[seq])
                #expect(m["Body"]?.stringValue == ref["body"]?.stringValue, "\(entity) \(seq): the rendered body")
                #expect(
                    user.filter { $0.key != "messageId" }
                        == Self.strings(ref["headers"]).filter { $0.key != "messageId" })
                #expect(m["keyName"] == .string("send"))
                if ordered {
                    #expect(
                        m["BrokerProperties"]?["SessionId"]?.stringValue == ref["key"]?.stringValue,
                        "SessionId is the entity URI")
                    versions[ref["key"]?.stringValue ?? "", default: []].append(Int(user["objectVersion"] ?? "") ?? -1)
                } else {
                    #expect(m["BrokerProperties"]?["SessionId"] == nil, "no SessionId without ordering")
                }
            }
            #expect(seqs.count == normal)
            if ordered {
                #expect(versions.count == 12)
                #expect(versions.values.allSatisfy { $0 == $0.sorted() }, "per-session order: \(versions)")
                #expect(versions.values.filter { $0 == [1, 2, 3] }.count == 4)
            }
        }

        // 300 KB: over the 256 KB Standard limit the sink declares, Herald dead-letters it before sending…
        for id in ["sb/events", "sb/orders"] {
            let letters = try dlq(id)
            #expect(letters.count == 1, "\(id)")
            #expect(letters.first?["status"] == .string("TOO_LARGE"))
            #expect(
                letters.first?["reason"]?.stringValue?.contains("the limit of servicebus is 261120") == true,
                "\(letters.first?["reason"] ?? .null)")
        }
        // …and a sink configured for 1 MB (Premium) sends it, gets 403 from a 256 KB namespace: TOO_LARGE.
        #expect(try received("big").count == normal)
        let bigLetters = try dlq("sbpremium/big")
        #expect(bigLetters.first?["status"] == .string("TOO_LARGE"))
        #expect(
            bigLetters.first?["reason"]?.stringValue?.contains("too large (403)") == true,
            "\(bigLetters.first?["reason"] ?? .null)")

        // A wrong key: 401 → PERMANENT, every message dead-lettered, the destination unhealthy.
        let wrong = try dlq("sbwrong/events")
        #expect(wrong.count == normal + 1)
        #expect(
            wrong.filter { $0["status"] == .string("PERMANENT") }.count == normal,
            "the big one is TOO_LARGE before it is sent")
        #expect(
            wrong.filter { $0["status"] == .string("PERMANENT") }.allSatisfy {
                $0["reason"]?.stringValue?.contains("(401)") == true
            })
        let status = try StreamingTestSupport.destinationStatus(client, id: "sbwrong/events")
        #expect(status?["healthy"] == .bool(false))
        #expect(
            status?["reason"]?.stringValue?.contains("refused the SAS token") == true, "\(status?["reason"] ?? .null)")
        #expect(try StreamingTestSupport.destinationStatus(client, id: "sb/events")?["healthy"] == .bool(true))
        withExtendedLifetime((dir, server, endpoint)) {}
    }
}
