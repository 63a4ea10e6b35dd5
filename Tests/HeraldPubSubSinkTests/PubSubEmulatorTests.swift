import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldSinkSupport
import HeraldTestSupport
import Testing

/// The official Pub/Sub emulator (Debian package google-cloud-cli-pubsub-emulator), on a free
/// loopback port, stopped by its pid when this object goes away.
final class PubSubEmulator: @unchecked Sendable {
    let process = Process()
    let port: Int
    let logPath: String
    let http = HTTPClient(timeout: 10, connectTimeout: 2)
    var host: String { "127.0.0.1:\(port)" }
    var baseURL: String { "http://\(host)" }

    static func script() throws -> String {
        let listing = try? runCommand("/usr/bin/dpkg", ["-L", "google-cloud-cli-pubsub-emulator"])
        guard let listing, listing.status == 0,
            let line = listing.stdout.split(separator: "\n").first(where: { $0.hasSuffix("bin/cloud-pubsub-emulator") })
        else {
            throw SetupError(
                "the Pub/Sub emulator is not installed: apt-get install google-cloud-cli-pubsub-emulator (Google Cloud's apt repository; needs Java 17). The Pub/Sub sink's end-to-end test needs it."
            )
        }
        return String(line)
    }

    init(in dir: TemporaryDirectory) throws {
        let script = try Self.script()
        port = freePort()
        logPath = dir.file("emulator.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = ["--host=127.0.0.1", "--port=\(port)"]
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        let ready = StreamingTestSupport.eventually(timeout: 40) {
            (try? http.send(method: "GET", url: baseURL + "/v1/projects/herald-test/topics")) != nil
        }
        guard ready else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw SetupError(
                "the Pub/Sub emulator did not start within 40 s:\n\((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")"
            )
        }
    }

    @discardableResult
    func request(_ method: String, _ path: String, _ body: String? = nil) throws -> (Int, JSONValue?) {
        let r = try http.send(
            method: method, url: baseURL + "/v1/" + path, headers: [("Content-Type", "application/json")],
            body: body.map { Array($0.utf8) })
        return (r.status, try? JSONParser.parse(r.body))
    }

    func createTopic(_ project: String, _ topic: String, subscription: String, ordered: Bool) throws {
        let (t, _) = try request("PUT", "projects/\(project)/topics/\(topic)")
        let (s, _) = try request(
            "PUT", "projects/\(project)/subscriptions/\(subscription)",
            #"{"topic": "projects/\#(project)/topics/\#(topic)", "enableMessageOrdering": \#(ordered), "ackDeadlineSeconds": 60}"#
        )
        guard t == 200 && s == 200 else {
            throw SetupError("cannot create topic \(topic) / subscription \(subscription): \(t) \(s)")
        }
    }

    /// Pulls and acknowledges messages until `count` arrived or `timeout` passed; in arrival order.
    func pull(_ project: String, _ subscription: String, count: Int, timeout: Double = 30) throws -> [JSONValue] {
        var out: [JSONValue] = []
        let deadline = Date().addingTimeInterval(timeout)
        while out.count < count && Date() < deadline {
            let (_, json) = try request(
                "POST", "projects/\(project)/subscriptions/\(subscription):pull",
                #"{"maxMessages": 100, "returnImmediately": true}"#)
            let received = json?["receivedMessages"]?.arrayValue ?? []
            if received.isEmpty {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            out += received.compactMap { $0["message"] }
            let ids = received.compactMap { $0["ackId"]?.stringValue }.map { "\"\($0)\"" }.joined(separator: ",")
            try request(
                "POST", "projects/\(project)/subscriptions/\(subscription):acknowledge", #"{"ackIds": [\#(ids)]}"#)
        }
        return out
    }

    deinit {
        // SIGKILL: children spawned from the test's worker threads inherit a signal mask that blocks SIGTERM.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// End to end: the real `herald serve` with the pubsub plugin publishing to the official emulator.
/// A file sink on the same events is the reference for what Herald rendered.
@Suite(.serialized, .blocking, .timeLimit(.minutes(10)))
struct PubSubEmulatorTests {
    static let project = "herald-test"

    /// The event's sequence number, from a message id `SEQ-HASH`.
    static func seq(_ id: String?) -> Int? {
        guard let id, let dash = id.firstIndex(of: "-") else { return nil }
        return Int(id[..<dash])
    }

    static func attributes(_ m: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        for member in m["attributes"]?.objectValue ?? [] { out[member.key] = member.value.stringValue }
        return out
    }

    @Test func heraldPublishesToTheEmulatorWithAttributesAndOrderingKeys() throws {
        let dir = TemporaryDirectory(prefix: "herald-pubsub-e2e")
        let emulator = try PubSubEmulator(in: dir)
        try emulator.createTopic(Self.project, "plain", subscription: "plain-sub", ordered: false)
        try emulator.createTopic(Self.project, "ordered", subscription: "ordered-sub", ordered: true)

        let plugins = dir.file("plugins.d")
        StreamingTestSupport.installManifest(
            name: "pubsub", library: try builtLibrary("herald-sink-pubsub"), in: plugins)
        StreamingTestSupport.installManifest(name: "file", library: try builtLibrary("herald-sink-file"), in: plugins)
        let batch = #""batch": {"maxMessages": 20, "lingerMs": 0}"#
        let streaming = """
            {"streamingEnabled": true,
             "messaging": {
               "providers": {
                 "gcp": {"plugin": "pubsub", "config": {"project": "\(Self.project)", "emulatorHost": "\(emulator.host)"}},
                 "ref": {"plugin": "file", "config": {"path": "\(dir.path)/ref-{destination}.ndjson"}}},
               "destinations": [
                 {"provider": "gcp", "name": "plain", \(batch)},
                 {"provider": "gcp", "name": "ordered", "ordering": "perEntity", \(batch)},
                 {"provider": "gcp", "name": "missing", \(batch), "retry": {"initialDelayMs": 20, "maxAttempts": 2}},
                 {"provider": "ref", "name": "plain", \(batch)},
                 {"provider": "ref", "name": "ordered", "ordering": "perEntity", \(batch)}]}}
            """
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        // 15 people, then three rounds of updates to 5 of them: 30 events, 4 versions for o0…o4.
        try StreamingTestSupport.postPeople(client, count: 15, prefix: "o")
        for round in 1...3 {
            let items = (0..<5).map {
                TestConfiguration.person(id: "o\($0)", first: "Round\(round)", last: "Zoë–\(round)")
            }
            let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
            #expect(r.status == 200, "\(r.text)")
        }
        let expected = 30

        let plain = try emulator.pull(Self.project, "plain-sub", count: expected)
        let ordered = try emulator.pull(Self.project, "ordered-sub", count: expected)
        #expect(plain.count == expected, "plain: \(plain.count) of \(expected)\n\(server.log.suffix(2000))")
        #expect(ordered.count == expected, "ordered: \(ordered.count) of \(expected)")
        let refPlain = StreamingTestSupport.readLines(dir.file("ref-plain.ndjson"))
        let refOrdered = StreamingTestSupport.readLines(dir.file("ref-ordered.ndjson"))
        #expect(Set(refPlain.compactMap { Self.seq($0["headers"]?["messageId"]?.stringValue) }).count == expected)

        for (label, pulled, reference, isOrdered) in [
            ("plain", plain, refPlain, false), ("ordered", ordered, refOrdered, true),
        ] {
            var bySeq: [Int: JSONValue] = [:]
            for line in reference {
                if let s = Self.seq(line["headers"]?["messageId"]?.stringValue) { bySeq[s] = line }
            }
            var seen = Set<Int>()
            for m in pulled {
                let attributes = Self.attributes(m)
                let seq = try #require(Self.seq(attributes["messageId"]), "\(label): messageId attribute")
                seen.insert(seq)
                let ref = try #require(bySeq[seq], "\(label): event \(seq) is in the reference")
                let data = try #require(Base64.decode(m["data"]?.stringValue ?? ""))
                #expect(
                    String(decoding: data, as: UTF8.self) == ref["body"]?.stringValue,
                    "\(label) \(seq): data is the rendered body")
                var refHeaders: [String: String] = [:]
                for h in ref["headers"]?.objectValue ?? [] { refHeaders[h.key] = h.value.stringValue }
                // messageId differs per destination (it hashes the destination); the rest is identical.
                #expect(
                    attributes.filter { $0.key != "messageId" } == refHeaders.filter { $0.key != "messageId" },
                    "\(label) \(seq)")
                #expect(
                    Set(attributes.keys) == [
                        "tenantId", "eventType", "sourceObjectUri", "objectVersion", "updatedTime", "messageId",
                    ])
                if isOrdered {
                    #expect(
                        m["orderingKey"]?.stringValue == ref["key"]?.stringValue,
                        "\(label) \(seq): ordering key is the entity URI")
                    #expect(m["orderingKey"]?.stringValue == attributes["sourceObjectUri"])
                } else {
                    #expect(
                        m["orderingKey"] == nil || m["orderingKey"] == .string(""), "\(label) \(seq): no ordering key")
                }
            }
            #expect(seen == Set(bySeq.keys), "\(label): every event once")
        }
        // The ordered subscription hands out each entity's versions in order.
        var versions: [String: [Int]] = [:]
        for m in ordered {
            let a = Self.attributes(m)
            versions[m["orderingKey"]?.stringValue ?? "", default: []].append(Int(a["objectVersion"] ?? "") ?? -1)
        }
        #expect(versions.count == 15)
        #expect(versions.values.filter { $0 == [1, 2, 3, 4] }.count == 5, "\(versions)")
        #expect(versions.values.filter { $0 == [1] }.count == 10)

        // A topic that does not exist: every message dead-lettered as PERMANENT, the destination unhealthy.
        let missingDone = StreamingTestSupport.eventually(timeout: 30) {
            (try? StreamingTestSupport.destinationStatus(client, id: "gcp/missing"))?["deadLetterCount"]
                == .number("\(expected)")
        }
        let status = try StreamingTestSupport.destinationStatus(client, id: "gcp/missing")
        #expect(missingDone, "\(status?.serializedString() ?? "no status")")
        #expect(status?["healthy"] == .bool(false))
        #expect(status?["reason"]?.stringValue?.contains("topic projects/herald-test/topics/missing not found") == true)
        let dlq = try client.get("/api/t1/streaming/dlq?destination=gcp/missing")
        let letters = dlq.json?["deadLetters"]?.arrayValue ?? []
        #expect(!letters.isEmpty)
        #expect(
            letters.allSatisfy {
                $0["status"] == .string("PERMANENT") && $0["reason"]?.stringValue?.contains("404") == true
            })
        #expect(try StreamingTestSupport.destinationStatus(client, id: "gcp/plain")?["healthy"] == .bool(true))
        withExtendedLifetime((dir, server)) {}
    }
}
