import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldServiceBusSinkCore
import HeraldSinkSDK
import HeraldSinkSupport
import HeraldTestSupport
import Testing

/// Records what a sink reports (health) instead of a host.
final class RecordingReporter: SinkReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [(Bool, String)] = []

    func setHealth(_ healthy: Bool, _ reason: String) {
        lock.lock()
        reports.append((healthy, reason))
        lock.unlock()
    }

    var last: (healthy: Bool, reason: String)? {
        lock.lock()
        defer { lock.unlock() }
        return reports.last.map { ($0.0, $0.1) }
    }
}

/// The sink against the local Service Bus endpoint (`TestScripts.endpoint`), which checks SAS
/// tokens, paths, entities, body shapes and sizes as Service Bus does.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ServiceBusEndpointTests {
    static let key = "c2VjcmV0LWtleS1iYXNlNjQ9PQ=="

    static func startEndpoint(_ dir: TemporaryDirectory, maxBytes: Int = 262_144) throws -> PythonServer {
        try PythonServer(
            script: TestScripts.endpoint,
            arguments: [
                "--key", "send=\(key)", "--key", "other=another-key", "--entity", "events", "--entity", "orders",
                "--entity", "big",
                "--entity", "full", "--entity", "status-429", "--entity", "status-503", "--entity", "status-500",
                "--max-bytes", String(maxBytes),
            ], in: dir, name: "servicebus-endpoint")
    }

    static func config(_ endpoint: PythonServer, key: String = key, extra: String = "") throws -> ServiceBusConfig {
        try ServiceBusConfig.parse(
            #"{"connectionString": "Endpoint=sb://herald-test.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=\#(key)", "endpoint": "\#(endpoint.baseURL)", "allowPlainHTTP": true, "timeoutMs": 2000\#(extra)}"#
        )
    }

    static func messages(_ n: Int, size: Int = 40) -> [OwnedMessage] {
        (0..<n).map { i in
            OwnedMessage(
                id: "\(i)-m", key: "entities/e\(i)",
                body: "{\"n\":\(i),\"p\":\"" + String(repeating: "z", count: max(0, size - 14)) + "\"}",
                headers: [("tenantId", "t1"), ("objectVersion", "\(i)")])
        }
    }

    static func received(_ endpoint: PythonServer) throws -> [JSONValue] {
        try endpoint.get("/_test/received").arrayValue ?? []
    }

    /// The endpoint refuses what Service Bus refuses, so its 201s in the other tests mean something.
    @Test func theEndpointChecksTokensPathsShapesAndSizes() throws {
        let dir = TemporaryDirectory(prefix: "herald-sb")
        let endpoint = try Self.startEndpoint(dir, maxBytes: 4096)
        let http = HTTPClient(timeout: 5)
        let base = endpoint.baseURL
        let now = Int64(Date().timeIntervalSince1970)
        func token(
            resource: String = base + "/events", name: String = "send", key: String = Self.key,
            expiry: Int64 = now + 600
        ) -> String {
            SASToken.make(resource: resource, keyName: name, key: key, expiry: expiry)
        }
        let batchType = ("Content-Type", "application/vnd.microsoft.servicebus.json")
        let okBody = Array(
            #"[{"Body": "hi", "BrokerProperties": {"MessageId": "1"}, "UserProperties": {"a": "b"}}]"#.utf8)
        func post(
            _ path: String = "/events/messages", auth: String?, headers: [(String, String)] = [batchType],
            body: [UInt8] = okBody
        )
            throws -> Int
        {
            var all = headers
            if let auth { all.append(("Authorization", auth)) }
            return try http.send(method: "POST", url: base + path, headers: all, body: body).status
        }
        let good = token()
        let cases: [(String, Int, Int)] = [
            ("valid batch", try post(auth: good), 201),
            ("no Authorization", try post(auth: nil), 401),
            ("no skn", try post(auth: good.replacingOccurrences(of: "&skn=send", with: "")), 401),
            ("no se", try post(auth: good.components(separatedBy: "&se=")[0] + "&skn=send"), 401),
            ("unknown key name", try post(auth: token(name: "nobody")), 401),
            ("expired", try post(auth: token(expiry: now - 5)), 401),
            ("audience of another entity", try post(auth: token(resource: base + "/orders")), 401),
            ("namespace-wide audience", try post(auth: token(resource: base)), 201),
            ("audience in other case", try post(auth: token(resource: base.uppercased() + "/EVENTS")), 201),
            (
                "key base64-decoded",
                try post(auth: token(key: String(decoding: Base64.decode(Self.key)!, as: UTF8.self))), 401
            ),
            ("other key's secret", try post(auth: token(name: "other")), 401),
            ("unknown entity", try post("/nothere/messages", auth: token(resource: base)), 410),
            ("not /messages", try post("/events/other", auth: good), 400),
            ("batch not an array", try post(auth: good, body: Array(#"{"Body": "x"}"#.utf8)), 400),
            ("Body not a string", try post(auth: good, body: Array(#"[{"Body": {"x": 1}}]"#.utf8)), 400),
            (
                "UserProperties not an object",
                try post(auth: good, body: Array(#"[{"Body": "x", "UserProperties": [1]}]"#.utf8)), 400
            ),
            (
                "single, valid BrokerProperties",
                try post(
                    auth: good,
                    headers: [("Content-Type", "application/json"), ("BrokerProperties", #"{"MessageId": "s1"}"#)],
                    body: Array("{}".utf8)), 201
            ),
            (
                "single, bad BrokerProperties",
                try post(
                    auth: good, headers: [("Content-Type", "application/json"), ("BrokerProperties", "{nope")],
                    body: Array("{}".utf8)), 400
            ),
            (
                "message over the limit",
                try post(auth: good, body: Array(#"[{"Body": "\#(String(repeating: "x", count: 5000))"}]"#.utf8)), 403
            ),
            (
                "batch over the limit",
                try post(
                    auth: good,
                    body: Array(
                        ("["
                            + Array(repeating: #"{"Body": "\#(String(repeating: "x", count: 1500))"}"#, count: 3)
                            .joined(separator: ",") + "]").utf8)), 403
            ),
        ]
        for (label, got, expected) in cases { #expect(got == expected, "\(label)") }
        #expect(try Self.received(endpoint).count == 4, "only the accepted requests were stored")
    }

    @Test func batchesArriveWithPropertiesAndAnswersBecomeResults() throws {
        let dir = TemporaryDirectory(prefix: "herald-sb")
        let endpoint = try Self.startEndpoint(dir)
        let reporter = RecordingReporter()
        let config = try Self.config(endpoint)
        let sender = ServiceBusSender(config: config, reporter: reporter)
        let client = ServiceBusClient(config: config, tokens: SASTokenCache(keyName: config.keyName, key: config.key))

        let sent = Self.messages(5)
        #expect(
            sender.sendAll(sent, entity: "events", ordered: false, client: client).map(\.status)
                == Array(repeating: .ok, count: 5))
        #expect(
            sender.sendAll(sent, entity: "orders", ordered: true, client: client).map(\.status)
                == Array(repeating: .ok, count: 5))
        #expect(reporter.last?.healthy == true)
        let received = try Self.received(endpoint)
        #expect(received.count == 10)
        for (entity, ordered) in [("events", false), ("orders", true)] {
            let got = received.filter { $0["entity"] == .string(entity) }
            #expect(got.map { $0["Body"]?.stringValue ?? "" } == sent.map { String(decoding: $0.body, as: UTF8.self) })
            for (m, r) in zip(sent, got) {
                #expect(r["BrokerProperties"]?["MessageId"] == .string(m.id))
                #expect(r["BrokerProperties"]?["SessionId"] == (ordered ? .string(m.key) : nil))
                #expect(r["UserProperties"]?["objectVersion"] == .string(m.headers[1].value))
                #expect(r["contentType"] == .string("application/vnd.microsoft.servicebus.json"))
                #expect(r["batchSize"] == .number("5"), "one request for the batch")
            }
        }

        let throttled = sender.sendAll(Self.messages(2), entity: "status-429", ordered: false, client: client)
        #expect(throttled.map(\.status) == [.throttled, .throttled] && throttled[0].retryAfterMs == 3000)
        let busy = sender.sendAll(Self.messages(1), entity: "status-503", ordered: false, client: client)
        #expect(busy[0].status == .throttled && busy[0].retryAfterMs == 3000, "503 with Retry-After: server busy")
        let failing = sender.sendAll(Self.messages(1), entity: "status-500", ordered: false, client: client)
        #expect(failing[0].status == .retry && failing[0].error?.contains("500") == true)
        let full = sender.sendAll(Self.messages(2), entity: "full", ordered: false, client: client)
        #expect(full.map(\.status) == [.retry, .retry], "a full entity is not the message's fault")
        #expect(reporter.last?.reason.contains("is full") == true)

        let gone = sender.sendAll(Self.messages(2), entity: "nothere", ordered: false, client: client)
        #expect(gone.map(\.status) == [.permanent, .permanent])
        #expect(reporter.last?.healthy == false && reporter.last?.reason.contains("'nothere' does not exist") == true)

        // A 1 MB (Premium) sink against a 256 KB namespace: the 403 of the batch is narrowed down to the big message.
        let premiumConfig = try Self.config(endpoint, extra: #", "maxMessageBytes": 1048576"#)
        let premium = ServiceBusSender(config: premiumConfig, reporter: reporter)
        let mixed =
            Self.messages(3) + [
                OwnedMessage(
                    id: "big-m", key: "entities/big", body: "\"" + String(repeating: "b", count: 300_000) + "\"")
            ]
        let results = premium.sendAll(mixed, entity: "big", ordered: false, client: client)
        #expect(results.map(\.status) == [.ok, .ok, .ok, .tooLarge])
        #expect(
            results[3].error?.contains("403") == true && results[3].error?.contains("exceeds the limit") == true,
            "\(results[3].error ?? "")")

        // Wrong key: 401, permanent, unhealthy.
        let wrongConfig = try Self.config(endpoint, key: "not-the-key")
        let wrong = ServiceBusSender(config: wrongConfig, reporter: reporter)
        let wrongClient = ServiceBusClient(
            config: wrongConfig, tokens: SASTokenCache(keyName: "send", key: "not-the-key"))
        let refused = wrong.sendAll(Self.messages(2), entity: "events", ordered: false, client: wrongClient)
        #expect(refused.map(\.status) == [.permanent, .permanent])
        #expect(reporter.last?.healthy == false && reporter.last?.reason.contains("401") == true)
        #expect(
            refused[0].error?.contains("signature does not match") == true,
            "the endpoint's reason: \(refused[0].error ?? "")")

        // An expired token (a clock an hour behind) is refused the same way.
        let stale = ServiceBusClient(
            config: config,
            tokens: SASTokenCache(
                keyName: "send", key: Self.key, ttlSeconds: 600, clock: { Int64(Date().timeIntervalSince1970) - 3600 }))
        let expired = sender.sendAll(Self.messages(1), entity: "events", ordered: false, client: stale)
        #expect(expired[0].status == .permanent && expired[0].error?.contains("expired") == true)

        // No answer at all: RETRY, unhealthy.
        let closedConfig = try ServiceBusConfig.parse(
            #"{"namespace": "x", "keyName": "send", "key": "k", "endpoint": "http://127.0.0.1:\#(freePort())", "allowPlainHTTP": true, "timeoutMs": 1000}"#
        )
        let closed = ServiceBusSender(config: closedConfig, reporter: reporter)
        let unreachable = closed.sendAll(
            Self.messages(2), entity: "events", ordered: false,
            client: ServiceBusClient(config: closedConfig, tokens: SASTokenCache(keyName: "send", key: "k")))
        #expect(unreachable.map(\.status) == [.retry, .retry])
        #expect(reporter.last?.healthy == false && reporter.last?.reason.contains("cannot reach Service Bus") == true)
        #expect(try Self.received(endpoint).count == 13, "10 + the 3 small ones of the mixed batch")
    }
}
