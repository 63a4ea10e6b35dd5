import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldTestSupport
import Testing

/// The streaming management API against the real binary (decision 0014): changes validated as `config check`
/// validates, applied without a restart, kept across restarts, the file winning when it changed afterwards, pause
/// and seek, roles, secrets, the audit list, and writes a page on another site could forge.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct StreamingManagementTests {
    static let tokens = """
        [{"name": "alice", "token": "admin-token-0123456789", "role": "admin", "tenants": ["t1"]},
         {"name": "wes", "token": "write-token-0123456789", "role": "write", "tenants": ["t1"]},
         {"name": "reed", "token": "read-token-01234567890", "role": "read", "tenants": ["t1"]}]
        """

    static func streaming(_ dir: TemporaryDirectory) -> String {
        """
        {"messaging": {"providers": {"f": {"plugin": "file", "config": {"path": "\(dir.file("out"))/{destination}.ndjson"}}},
          "destinations": [{"provider": "f", "name": "all", "batch": {"lingerMs": 0}}]}}
        """
    }

    static func start(_ dir: TemporaryDirectory, config: String) throws -> (HeraldProcess, TestClient) {
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        return (server, TestClient(baseURL: server.baseURL, token: "admin-token-0123456789"))
    }

    static func lines(_ dir: TemporaryDirectory, _ name: String) -> [JSONValue] {
        StreamingTestSupport.readLines(dir.file("out/\(name).ndjson"))
    }

    /// A destination created through the API streams at once, keeps streaming after a restart, and a refused change
    /// answers with the configuration's paths and changes nothing.
    @Test(arguments: TestStoreBackend.allCases)
    func aDestinationCreatedThroughTheAPIStreamsAndSurvivesARestart(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: Self.streaming(dir),
            tokens: Self.tokens, store: try TestStore(backend, name: "manage"))
        var (server, client) = try Self.start(dir, config: config)

        let bad = try client.post(
            "/api/t1/streaming/destinations",
            #"{"provider": "f", "name": "created", "typeFilter": ["ENTITY_CREATED", "NOPE"], "payloadFields": ["attributes.Nope"]}"#)
        #expect(bad.status == 400, "\(bad.text)")
        #expect(bad.json?["errorCode"] == .string("INVALID_CONFIGURATION"))
        let issues = bad.json?["issues"]?.arrayValue ?? []
        #expect(
            issues.compactMap { $0["path"]?.stringValue }.sorted() == [
                "tenants[0].streamingConfig.messaging.destinations[1].payloadFields[0]",
                "tenants[0].streamingConfig.messaging.destinations[1].typeFilter[1]",
            ], "\(bad.text)")
        #expect(issues.compactMap { $0["field"]?.stringValue }.sorted() == ["payloadFields[0]", "typeFilter[1]"])
        let unchanged = try client.get("/api/t1/streaming/destinations")
        #expect(unchanged.json?["destinations"]?.arrayValue?.count == 1, "a refused change must not be stored")

        let created = try client.post(
            "/api/t1/streaming/destinations",
            #"{"provider": "f", "name": "created", "typeFilter": ["ENTITY_CREATED"], "batch": {"lingerMs": 0}}"#)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.json?["id"] == .string("f/created"))
        let again = try client.post("/api/t1/streaming/destinations", #"{"provider": "f", "name": "created"}"#)
        #expect(again.status == 409 && again.json?["errorCode"] == .string("DESTINATION_EXISTS"), "\(again.text)")

        try StreamingTestSupport.postPeople(client, count: 5, prefix: "a")
        #expect(StreamingTestSupport.eventually { Self.lines(dir, "created").count == 5 }, "the new destination streams without a restart")

        // Changed through the API, then the daemon restarts: the change is kept, and the cursor too.
        let patched = try client.request(
            "PATCH", "/api/t1/streaming/destinations/f%2Fcreated", body: #"{"typeFilter": ["ENTITY_CREATED", "ENTITY_CHANGED"]}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched.json?["typeFilter"]?.arrayValue?.count == 2)
        #expect(server.stop() == 0)
        (server, client) = try Self.start(dir, config: config)
        defer { withExtendedLifetime(server) {} }
        let list = try client.get("/api/t1/streaming/destinations")
        #expect(list.json?["destinations"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["f/all", "f/created"])
        #expect(list.json?["managed"]?["f/created"]?["origin"] == .string("api"))
        #expect(list.json?["managed"]?["f/created"]?["updatedBy"] == .string("alice"))
        #expect(list.json?["managed"]?["f/all"]?["origin"] == .string("file"))
        try StreamingTestSupport.postPeople(client, count: 2, prefix: "b")
        #expect(StreamingTestSupport.eventually { Self.lines(dir, "created").count == 7 }, "nothing sent twice after the restart")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(Self.lines(dir, "created").count == 7)

        #expect(try client.request("POST", "/api/t1/streaming/destinations/f%2Fcreated/_pause").status == 200)
        let deleted = try client.request("DELETE", "/api/t1/streaming/destinations/f%2Fcreated")
        #expect(deleted.status == 204, "\(deleted.text)")
        #expect(try client.get("/api/t1/streaming/destinations/f%2Fcreated").status == 404)
        let actions = try client.get("/api/t1/streaming/changes").json?["changes"]?.arrayValue?.compactMap {
            $0["action"]?.stringValue
        }
        #expect(actions == ["resume", "delete", "pause", "patch", "create"], "newest first; refused changes are not recorded")
        // Created again with the same id: not paused (the pause went with the deleted destination).
        #expect(try client.post("/api/t1/streaming/destinations", #"{"provider": "f", "name": "created"}"#).status == 201)
        #expect(try client.get("/api/t1/streaming/destinations").json?["managed"]?["f/created"]?["paused"] == .bool(false))
    }

    /// A change made in the file after the API changed the same destination wins at the next reload, and the
    /// dropped API version stays in the audit list. A destination the API did not touch keeps following the file.
    @Test func theFileWinsWhenItChangedAfterTheAPI() throws {
        let dir = TemporaryDirectory()
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: Self.streaming(dir),
            tokens: Self.tokens)
        let (server, client) = try Self.start(dir, config: config)
        defer { withExtendedLifetime(server) {} }
        let put = try client.request(
            "PUT", "/api/t1/streaming/destinations/f%2Fall",
            body: #"{"provider": "f", "name": "all", "typeFilter": ["ENTITY_REMOVED"]}"#)
        #expect(put.status == 200, "\(put.text)")
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: #""name": "all", "batch""#, with: #""name": "all", "ovOnly": true, "batch""#)
            .write(toFile: config, atomically: true, encoding: .utf8)
        #expect(kill(server.process.processIdentifier, SIGHUP) == 0)
        let fileVersion = StreamingTestSupport.eventually {
            (try? client.get("/api/t1/streaming/destinations/f%2Fall"))?.json?["ovOnly"] == .bool(true)
        }
        #expect(fileVersion, "the file's newer version must be in effect")
        let now = try client.get("/api/t1/streaming/destinations/f%2Fall").json
        #expect(now?["typeFilter"] == nil, "the API's version is dropped: \(now?.serializedString() ?? "")")
        let last = try client.get("/api/t1/streaming/changes?limit=1").json?["changes"]?.arrayValue?.first
        #expect(last?["action"] == .string("superseded"))
        #expect(last?["actor"] == .string("file"))
        #expect(last?["before"]?["typeFilter"]?.arrayValue == [.string("ENTITY_REMOVED")], "the dropped version is kept")
        #expect((try? String(contentsOfFile: dir.file("serve.log"), encoding: .utf8))?.contains("was changed in the file after the API changed it") == true)
    }

    /// Pausing keeps the cursor: what is posted meanwhile is delivered after resuming, once. Seek needs the admin
    /// role and a paused destination, and sends again from the sequence number given.
    @Test(arguments: TestStoreBackend.allCases)
    func pauseKeepsTheCursorAndSeekSendsAgain(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: Self.streaming(dir),
            tokens: Self.tokens, store: try TestStore(backend, name: "pause"))
        let (server, admin) = try Self.start(dir, config: config)
        defer { withExtendedLifetime(server) {} }
        let writer = TestClient(baseURL: server.baseURL, token: "write-token-0123456789")
        try StreamingTestSupport.postPeople(admin, count: 3, prefix: "a")
        #expect(StreamingTestSupport.eventually { Self.lines(dir, "all").count == 3 })

        let seekUnpaused = try admin.post("/api/t1/streaming/destinations/f%2Fall/_seek", #"{"seq": 1}"#)
        #expect(seekUnpaused.status == 409 && seekUnpaused.json?["errorCode"] == .string("DESTINATION_NOT_PAUSED"), "\(seekUnpaused.text)")
        let paused = try writer.request("POST", "/api/t1/streaming/destinations/f%2Fall/_pause")
        #expect(paused.status == 200 && paused.json?["paused"] == .bool(true), "\(paused.text)")
        let status = try StreamingTestSupport.destinationStatus(admin, id: "f/all")
        #expect(status?["state"] == .string("PAUSED") && status?["cursor"] == .number("3"), "\(status?.serializedString() ?? "")")
        try StreamingTestSupport.postPeople(admin, count: 4, prefix: "b")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(Self.lines(dir, "all").count == 3, "nothing is delivered while paused")
        #expect((try StreamingTestSupport.destinationStatus(admin, id: "f/all"))?["lagEvents"] == .number("4"))

        let seekByWriter = try writer.post("/api/t1/streaming/destinations/f%2Fall/_seek", #"{"seq": 2}"#)
        #expect(seekByWriter.status == 403, "seek is admin only: \(seekByWriter.text)")
        let beyond = try admin.post("/api/t1/streaming/destinations/f%2Fall/_seek", #"{"seq": 99}"#)
        #expect(beyond.status == 400, "\(beyond.text)")
        let seek = try admin.post("/api/t1/streaming/destinations/f%2Fall/_seek", #"{"seq": 2}"#)
        #expect(seek.status == 200, "\(seek.text)")
        #expect(seek.json?["previousCursor"] == .number("3") && seek.json?["cursor"] == .number("1"))
        let resumed = try writer.request("POST", "/api/t1/streaming/destinations/f%2Fall/_resume")
        #expect(resumed.status == 200, "\(resumed.text)")
        // 3 before the pause, then events 2…7 again from the seek.
        #expect(StreamingTestSupport.eventually { Self.lines(dir, "all").count == 9 }, "\(Self.lines(dir, "all").count)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(Self.lines(dir, "all").count == 9)
        let changes = try admin.get("/api/t1/streaming/changes").json?["changes"]?.arrayValue ?? []
        #expect(changes.compactMap { $0["action"]?.stringValue } == ["resume", "seek", "pause"])
        #expect(changes.compactMap { $0["actor"]?.stringValue } == ["wes", "alice", "wes"])
        #expect(changes[1]["before"]?["cursor"] == .number("3") && changes[1]["after"]?["cursor"] == .number("1"))
    }

    /// Roles: a read token reads but changes nothing; a write token pauses but does not edit; secrets are never
    /// returned, and a secret sent back as the placeholder keeps its value.
    @Test func rolesAndSecrets() throws {
        let dir = TemporaryDirectory()
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        StreamingTestSupport.installManifest(name: "sqs", library: BuildProducts.directory + "/libherald-sink-sqs.so", in: plugins)
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins, streaming: Self.streaming(dir), tokens: Self.tokens)
        let (server, admin) = try Self.start(dir, config: config)
        defer { withExtendedLifetime(server) {} }
        let reader = TestClient(baseURL: server.baseURL, token: "read-token-01234567890")
        let writer = TestClient(baseURL: server.baseURL, token: "write-token-0123456789")
        #expect(try reader.get("/api/t1/streaming/destinations").status == 200)
        #expect(try reader.post("/api/t1/streaming/destinations", #"{"provider": "f", "name": "x"}"#).status == 403)
        #expect(try reader.request("POST", "/api/t1/streaming/destinations/f%2Fall/_pause").status == 403)
        #expect(try writer.request("PATCH", "/api/t1/streaming/destinations/f%2Fall", body: "{}").status == 403)
        #expect(try writer.request("POST", "/api/t1/streaming/destinations/f%2Fall/_pause").status == 200)

        // A provider whose plugin configuration holds secrets (SQS credentials; no destination uses it).
        let put = try admin.request(
            "PUT", "/api/t1/streaming/providers/aws",
            body: #"{"plugin": "sqs", "config": {"region": "eu-west-1", "queueUrl": "http://127.0.0.1:9/1/q", "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "s3cr3t-value-1", "sessionToken": "s3cr3t-value-2"}}"#)
        #expect(put.status == 200, "\(put.text)")
        for text in [
            put.text, try reader.get("/api/t1/streaming/providers/aws").text,
            try reader.get("/api/t1/streaming/providers").text, try reader.get("/api/t1/streaming/changes").text,
        ] {
            #expect(!text.contains("s3cr3t"), "a secret was returned: \(text)")
        }
        let shown = try reader.get("/api/t1/streaming/providers/aws").json
        #expect(shown?["config"]?["secretAccessKey"] == .string("********"))
        #expect(shown?["config"]?["region"] == .string("eu-west-1"))
        // Sent back as read, with one change: the secrets keep their values (the stored override has them).
        let back = try admin.request(
            "PUT", "/api/t1/streaming/providers/aws",
            body: #"{"plugin": "sqs", "config": {"region": "eu-central-1", "queueUrl": "http://127.0.0.1:9/1/q", "accessKeyId": "********", "secretAccessKey": "********", "sessionToken": "********"}}"#)
        #expect(back.status == 200, "\(back.text)")
        let refused = try admin.request(
            "PUT", "/api/t1/streaming/providers/aws", body: #"{"plugin": "sqs", "config": {"queueUrl": "http://127.0.0.1:9/1/q"}}"#)
        #expect(refused.status == 400, "the plugin's own validation applies: \(refused.text)")
        #expect(refused.json?["issues"]?.arrayValue?.first?["path"] == .string("tenants[0].streamingConfig.messaging.providers.aws.config"), "\(refused.text)")
        #expect(server.stop() == 0)
        let db = dir.file("data/herald.db")
        let dump = (try? runCommand("/usr/bin/sqlite3", [db, "SELECT body FROM streaming_overrides WHERE kind = 'provider'"]))?.stdout ?? ""
        #expect(dump.contains("s3cr3t-value-1") && dump.contains("s3cr3t-value-2") && dump.contains("eu-central-1"), "\(dump)")
    }

    /// What a token can add is bounded: providers per tenant (destinations share the same check), id length, body
    /// size.
    @Test func theAPIAddsABoundedNumberOfSettings() throws {
        let dir = TemporaryDirectory()
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: Self.streaming(dir),
            tokens: Self.tokens)
        let (server, admin) = try Self.start(dir, config: config)
        defer { withExtendedLifetime(server) {} }
        let provider = #"{"plugin": "file", "config": {"path": "/tmp/unused-{destination}.ndjson"}}"#
        // The file has one provider; the API may bring the tenant to 64.
        for i in 1..<64 {
            let r = try admin.request("PUT", "/api/t1/streaming/providers/p\(i)", body: provider)
            #expect(r.status == 200, "provider \(i): \(r.text)")
        }
        let over = try admin.request("PUT", "/api/t1/streaming/providers/p64", body: provider)
        #expect(over.status == 409 && over.json?["errorCode"] == .string("TOO_MANY_SETTINGS"), "\(over.text)")
        #expect(try admin.request("PUT", "/api/t1/streaming/providers/p1", body: provider).status == 200, "replacing one is not adding")
        #expect(try admin.get("/api/t1/streaming/providers").json?["providers"]?.arrayValue?.count == 64)

        let longName = String(repeating: "n", count: 300)
        let long = try admin.post("/api/t1/streaming/destinations", #"{"provider": "f", "name": "\#(longName)"}"#)
        #expect(long.status == 400 && long.json?["path"] == .string("name"), "\(long.text)")
        let huge = "{\"provider\": \"f\", \"name\": \"h\", \"objectFilter\": \"" + String(repeating: "x", count: 1 << 20) + "\"}"
        #expect(try admin.post("/api/t1/streaming/destinations", huge).status == 413)
    }

    /// Without tokens (loopback), a write needs a JSON body type or the X-Herald-Client header: what an HTML form
    /// or a simple cross-origin fetch sends is refused before anything runs.
    @Test func writesAPageOnAnotherSiteCouldForgeAreRefused() throws {
        let dir = TemporaryDirectory()
        let (server, client) = try StreamingTestSupport.start(dir, streaming: Self.streaming(dir))
        defer { withExtendedLifetime(server) {} }
        let raw = HTTPClient(timeout: 30)
        let url = server.baseURL + "/api/t1/streaming/destinations/f%2Fall/_pause"
        for headers in [[], [("Content-Type", "text/plain")], [("Content-Type", "application/x-www-form-urlencoded")]] {
            let r = try raw.send(method: "POST", url: url, headers: headers, body: Array("{}".utf8))
            #expect(r.status == 403, "\(headers): \(r.bodyText)")
            #expect(r.bodyText.contains("CROSS_ORIGIN_WRITE"))
        }
        let entity = try raw.send(
            method: "POST", url: server.baseURL + "/api/t1/entities", headers: [("Content-Type", "text/plain")],
            body: Array("[\(TestConfiguration.person(id: "x", first: "X"))]".utf8))
        #expect(entity.status == 403, "\(entity.bodyText)")
        #expect(try client.events(tenant: "t1").isEmpty, "the forged write must not have been stored")
        #expect(try StreamingTestSupport.destinationStatus(client, id: "f/all")?["paused"] == .bool(false))
        let json = try raw.send(method: "POST", url: url, headers: [("Content-Type", "application/json")], body: [])
        #expect(json.status == 200, "\(json.bodyText)")
        let header = try raw.send(
            method: "POST", url: server.baseURL + "/api/t1/streaming/destinations/f%2Fall/_resume",
            headers: [("X-Herald-Client", "script")], body: [])
        #expect(header.status == 200, "\(header.bodyText)")
    }

    /// Two nodes on one PostgreSQL with one file: a destination created on one node is delivered by whichever node
    /// takes its lease, a pause made on either node stops delivery wherever it runs, and a seek made on the node
    /// that does not deliver it is fenced by the lease.
    @Test func aChangeOnOneNodeReachesTheOther() throws {
        let store = try TestStore(.postgres, name: "manage2")
        let dir = TemporaryDirectory()
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: Self.streaming(dir),
            tokens: Self.tokens, store: store)
        try StreamingTestSupport.setLeaseMs(2_000, in: config)
        let n1 = try HeraldProcess(configPath: config, logPath: dir.file("n1.log"), extraArguments: ["--node-id", "n1"])
        let n2 = try HeraldProcess(configPath: config, logPath: dir.file("n2.log"), extraArguments: ["--node-id", "n2"])
        defer {
            n1.kill9()
            n2.kill9()
        }
        let c1 = TestClient(baseURL: n1.baseURL, token: "admin-token-0123456789")
        let c2 = TestClient(baseURL: n2.baseURL, token: "admin-token-0123456789")
        let created = try c1.post("/api/t1/streaming/destinations", #"{"provider": "f", "name": "created", "batch": {"lingerMs": 0}}"#)
        #expect(created.status == 201, "\(created.text)")
        let seen = StreamingTestSupport.eventually(timeout: 10) {
            (try? c2.get("/api/t1/streaming/destinations/f%2Fcreated"))?.status == 200
        }
        #expect(seen, "node 2 applies what node 1 stored within its poll")
        try StreamingTestSupport.postPeople(c2, count: 5, prefix: "a")
        #expect(StreamingTestSupport.eventually(timeout: 20) { Self.lines(dir, "created").count == 5 })

        // Paused through the node that does not hold the lease, if that is where it runs.
        let holder = try StreamingTestSupport.destinationStatus(c1, id: "f/created")?["holder"]?.stringValue
        let other = holder == "n1" ? c2 : c1
        #expect(try other.request("POST", "/api/t1/streaming/destinations/f%2Fcreated/_pause").status == 200)
        let stopped = StreamingTestSupport.eventually(timeout: 10) {
            (try? StreamingTestSupport.destinationStatus(c1, id: "f/created"))?["holder"] == .null
                && (try? StreamingTestSupport.destinationStatus(c2, id: "f/created"))?["state"] == .string("PAUSED")
        }
        #expect(stopped, "the holder stops and releases the lease")
        try StreamingTestSupport.postPeople(c1, count: 3, prefix: "b")
        Thread.sleep(forTimeInterval: 1)
        #expect(Self.lines(dir, "created").count == 5, "nothing is delivered while paused, on any node")
        var seek = try other.post("/api/t1/streaming/destinations/f%2Fcreated/_seek", #"{"seq": 1}"#)
        if seek.status == 409 {
            // The other node has not applied the pause yet.
            Thread.sleep(forTimeInterval: 3)
            seek = try other.post("/api/t1/streaming/destinations/f%2Fcreated/_seek", #"{"seq": 1}"#)
        }
        #expect(seek.status == 200, "\(seek.text)")
        #expect(try other.request("POST", "/api/t1/streaming/destinations/f%2Fcreated/_resume").status == 200)
        #expect(StreamingTestSupport.eventually(timeout: 20) { Self.lines(dir, "created").count == 13 }, "5, then all 8 again from seq 1")
        Thread.sleep(forTimeInterval: 1)
        #expect(Self.lines(dir, "created").count == 13)
    }
}
