import Foundation
import HeraldJSON
import HeraldPubSubSinkCore
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

/// A clock the tests move forward (the token endpoint checks iat against real time ±60 s).
final class ShiftedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var shift: Int64 = 0
    func advance(to seconds: Int64) {
        lock.lock()
        shift = seconds
        lock.unlock()
    }
    var now: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return Int64(Date().timeIntervalSince1970) + shift
    }
}

/// The service-account path: key file → RS256 JWT → token endpoint → bearer token on publish,
/// against the local endpoint in `TestScripts.authServer`, which verifies the JWT's signature
/// with the key's public half and its claims.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PubSubAuthTests {
    static let email = "herald-publisher@herald-auth.iam.gserviceaccount.com"

    struct Fixture {
        let dir: TemporaryDirectory
        let server: PythonServer
        let keyFile: String
        let key: ServiceAccountKey
        var tokenURI: String { server.baseURL + "/token" }

        func state() throws -> JSONValue { try server.get("/_test/state") }
        func tokensIssued() throws -> [String] { try state()["tokens"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    }

    /// Starts the endpoint with a fresh key pair; `signingKey` "other" signs with a key the endpoint does not know.
    static func start(expiresIn: Int = 3600, signWithOtherKey: Bool = false) throws -> Fixture {
        let dir = TemporaryDirectory(prefix: "herald-pubsub-auth")
        let (privatePath, publicPath) = try generateRSAKey(in: dir, name: "sa")
        let server = try PythonServer(
            script: TestScripts.authServer,
            arguments: ["--public-key", publicPath, "--email", email, "--expires-in", String(expiresIn)], in: dir,
            name: "auth-server")
        let signing = signWithOtherKey ? try generateRSAKey(in: dir, name: "other").privatePath : privatePath
        let keyFile = try writeServiceAccountKey(
            in: dir, privateKeyPath: signing, email: email, tokenURI: server.baseURL + "/token")
        let key = try ServiceAccountKey.parse(try String(contentsOfFile: keyFile, encoding: .utf8), source: keyFile)
        return Fixture(dir: dir, server: server, keyFile: keyFile, key: key)
    }

    static func config(_ f: Fixture, timeoutMs: Int = 5000) throws -> PubSubConfig {
        try PubSubConfig.parse(
            #"{"project": "herald-auth", "credentialsFile": "\#(f.keyFile)", "endpoint": "\#(f.server.baseURL)", "allowPlainHTTP": true, "timeoutMs": \#(timeoutMs)}"#
        )
    }

    static func messages(_ n: Int, key: (Int) -> String = { "entities/e\($0)" }) -> [OwnedMessage] {
        (0..<n).map {
            OwnedMessage(
                id: "\($0)-x", key: key($0), body: "{\"n\":\($0)}",
                headers: [("tenantId", "t1"), ("eventType", "ENTITY_CREATED"), ("sourceObjectUri", key($0))])
        }
    }

    @Test func theTokenIsCachedAndRefreshedFiveMinutesBeforeItExpires() throws {
        let f = try Self.start(expiresIn: 330)
        let clock = ShiftedClock()
        let auth = ServiceAccountAuth(key: f.key, clock: { clock.now })
        let first = try auth.accessToken()
        #expect(try auth.accessToken() == first, "reused while fresh")
        #expect(try f.tokensIssued() == [first], "one grant for two calls; the endpoint accepted the JWT")
        clock.advance(to: 20)
        #expect(try auth.accessToken() == first, "about 310 s left: more than the 5-minute margin")
        clock.advance(to: 31)
        let second = try auth.accessToken()
        #expect(second != first, "within 5 minutes of expiry: a new token")
        #expect(try f.tokensIssued() == [first, second])
        #expect(try f.state()["refused_grants"]?.arrayValue?.isEmpty == true)
        // The API refusing a token makes the sink forget it.
        auth.invalidate(second)
        #expect(try auth.accessToken() != second)
    }

    @Test func aKeyTheEndpointDoesNotKnowIsRefusedAndReported() throws {
        let f = try Self.start(signWithOtherKey: true)
        let auth = ServiceAccountAuth(key: f.key)
        do {
            _ = try auth.accessToken()
            Issue.record("a JWT signed with an unknown key got a token")
        } catch {
            #expect(error.description.contains("invalid_grant"), "\(error)")
            #expect(error.description.contains("Invalid JWT Signature"), "\(error)")
        }
        let reporter = RecordingReporter()
        let publisher = PubSubPublisher(config: try Self.config(f), reporter: reporter)
        let client = PubSubClient(baseURL: f.server.baseURL, auth: auth, timeoutMs: 5000, connectTimeoutMs: 2000)
        let results = publisher.publish(Self.messages(3), destination: "events", ordered: false, client: client)
        #expect(
            results.map(\.status) == [.retry, .retry, .retry],
            "kept for retry: a key can be fixed without losing messages")
        #expect(reporter.last?.healthy == false)
        #expect(reporter.last?.reason.contains("refused the service account") == true, "\(reporter.last?.reason ?? "")")
        #expect(try f.state()["publishes"]?.arrayValue?.isEmpty == true)
    }

    @Test func answersBecomeOneResultPerMessage() throws {
        let f = try Self.start()
        let reporter = RecordingReporter()
        let config = try Self.config(f, timeoutMs: 1000)
        let publisher = PubSubPublisher(config: config, reporter: reporter)
        let auth = ServiceAccountAuth(key: f.key)
        let client = PubSubClient(baseURL: f.server.baseURL, auth: auth, timeoutMs: 1000, connectTimeoutMs: 1000)
        func publish(_ topic: String, _ n: Int = 2) -> [SinkResult] {
            publisher.publish(Self.messages(n), destination: topic, ordered: false, client: client)
        }

        // The first token is revoked by the endpoint: 401, a new token, the same request again.
        let revoked = publish("revoke-first-token")
        #expect(revoked.map(\.status) == [.ok, .ok], "\(revoked.map { $0.error ?? "" })")
        #expect(try f.tokensIssued().count == 2)

        #expect(publish("events", 3).map(\.status) == [.ok, .ok, .ok])
        #expect(reporter.last?.healthy == true)

        let throttled = publish("status-429")
        #expect(throttled.map(\.status) == [.throttled, .throttled])
        #expect(throttled[0].retryAfterMs == 7000, "Retry-After: 7")

        let unavailable = publish("status-503")
        #expect(unavailable.map(\.status) == [.retry, .retry])
        #expect(unavailable[0].error?.contains("503") == true)

        let invalid = publish("status-400")
        #expect(invalid.map(\.status) == [.permanent, .permanent])
        #expect(invalid[0].error?.contains("bad thing 400") == true, "the server's message: \(invalid[0].error ?? "")")

        // One message Pub/Sub refuses among 64: the request is cut in halves down to it (13 requests, not 64).
        var many = Self.messages(64)
        many[37].headers.append(("test-reject", "yes"))
        let before = try f.state()["publishes"]?.arrayValue?.count ?? 0
        let narrowed = publisher.publish(many, destination: "events", ordered: false, client: client)
        #expect(
            narrowed[37].status == .permanent && narrowed[37].error?.contains("rejected by the test endpoint") == true)
        #expect(narrowed.enumerated().filter { $0.offset != 37 }.allSatisfy { $0.element.status == .ok })
        let accepted = (try f.state()["publishes"]?.arrayValue ?? []).dropFirst(before)
        #expect(
            accepted.map { $0["messages"]?.arrayValue?.count ?? 0 }.sorted() == [1, 2, 4, 8, 16, 32],
            "halves that went through")

        let missing = publish("missing")
        #expect(missing.map(\.status) == [.permanent, .permanent])
        #expect(reporter.last?.healthy == false)
        #expect(
            reporter.last?.reason.contains("projects/herald-auth/topics/missing not found") == true,
            "\(reporter.last?.reason ?? "")")

        let started = Date()
        let slow = publish("slow")
        #expect(slow.map(\.status) == [.retry, .retry])
        #expect(slow[0].error?.contains("no answer from Pub/Sub within 1000 ms") == true, "\(slow[0].error ?? "")")
        #expect(Date().timeIntervalSince(started) < 2.8, "the timeout cut the 3-second wait short")

        // Healthy again after a success; every accepted publish carried a token the endpoint issued.
        #expect(publish("events").map(\.status) == [.ok, .ok])
        #expect(reporter.last?.healthy == true)
        let state = try f.state()
        let issued = Set(state["tokens"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let publishes = state["publishes"]?.arrayValue ?? []
        #expect(publishes.count == 9)
        #expect(publishes.allSatisfy { issued.contains($0["token"]?.stringValue ?? "") })
    }

    /// The real daemon with the pubsub plugin and a key file: tokens fetched once per instance and
    /// reused, ordering keys one per request on the ordered destination.
    @Test func heraldPublishesWithServiceAccountTokens() throws {
        let f = try Self.start()
        let plugins = f.dir.file("plugins.d")
        StreamingTestSupport.installManifest(
            name: "pubsub", library: try builtLibrary("herald-sink-pubsub"), in: plugins)
        let pubsub =
            #"{"project": "herald-auth", "credentialsFile": "\#(f.keyFile)", "endpoint": "\#(f.server.baseURL)", "allowPlainHTTP": true}"#
        let streaming = """
            {"streamingEnabled": true,
             "messaging": {
               "providers": {"gcp": {"plugin": "pubsub", "config": \(pubsub)}},
               "destinations": [
                 {"provider": "gcp", "name": "events", "batch": {"maxMessages": 25, "lingerMs": 0}},
                 {"provider": "gcp", "name": "ordered-events", "ordering": "perEntity", "batch": {"maxMessages": 25, "lingerMs": 0}}]}}
            """
        let config = StreamingTestSupport.writeConfig(in: f.dir, plugins: plugins, streaming: streaming)
        let server = try HeraldProcess(configPath: config, logPath: f.dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 60, prefix: "a")

        func published(_ topic: String) throws -> [JSONValue] {
            (try f.state()["publishes"]?.arrayValue ?? []).filter {
                $0["topic"]?.stringValue == "projects/herald-auth/topics/\(topic)"
            }
        }
        let done = StreamingTestSupport.eventually(timeout: 60) {
            let plain = (try? published("events"))?.reduce(0) { $0 + ($1["messages"]?.arrayValue?.count ?? 0) } ?? 0
            let ordered =
                (try? published("ordered-events"))?.reduce(0) { $0 + ($1["messages"]?.arrayValue?.count ?? 0) } ?? 0
            return plain >= 60 && ordered >= 60
        }
        #expect(
            done,
            "all 60 events published to both topics; log:\n\(server.log.suffix(3000))\n\(f.server.log.suffix(2000))")
        let state = try f.state()
        let tokens = Set(state["tokens"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(tokens.count == 2, "one token per destination instance, reused for every request (got \(tokens.count))")
        #expect(state["refused_grants"]?.arrayValue?.isEmpty == true)
        let plain = try published("events")
        let ordered = try published("ordered-events")
        #expect(plain.count >= 3, "batches of 25: several requests")
        for p in plain + ordered { #expect(tokens.contains(p["token"]?.stringValue ?? "")) }
        for p in plain {
            #expect(p["messages"]?.arrayValue?.allSatisfy { $0["orderingKey"] == nil } == true)
        }
        for p in ordered {
            let keys = Set(p["messages"]?.arrayValue?.map { $0["orderingKey"]?.stringValue ?? "" } ?? [])
            #expect(
                keys.count == 1 && keys.first?.hasPrefix("entities/") == true, "one ordering key per request: \(keys)")
            for m in p["messages"]?.arrayValue ?? [] {
                #expect(m["attributes"]?["sourceObjectUri"] == m["orderingKey"], "the ordering key is the entity URI")
            }
        }
        let status = try StreamingTestSupport.destinationStatus(client, id: "gcp/events")
        #expect(status?["healthy"] == .bool(true))
        #expect(status?["deadLetterCount"] == .number("0"))
        withExtendedLifetime((f, server)) {}
    }
}
