import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// The data directory's disk fills up under load, then space comes back.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct StorageFaultTests {
    /// `herald serve` with one test-sink destination `q/events` (`sink`: the sink's configuration members) and
    /// its data directory at `data` (default: beside the configuration).
    static func start(_ dir: TemporaryDirectory, sink: String, data: String = "data") throws -> (HeraldProcess, TestClient) {
        let streaming = """
            {"messaging": {"providers": {"q": {"plugin": "test", "config": {\(sink)}}},
              "destinations": [{"provider": "q", "name": "events", "batch": {"lingerMs": 0}}]}}
            """
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: streaming)
        let text = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "\"dataDirectory\": \"data\"", with: "\"dataDirectory\": \"\(data)\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        return (server, TestClient(baseURL: server.baseURL))
    }

    @Test func aFullDiskGivesJSONErrorsHealthDownAndDeliveryWithoutDuplicates() throws {
        let dir = TemporaryDirectory()
        let disk = try TmpfsMount(sizeKB: 1024)
        let output = dir.file("out.ndjson")
        // The data directory on the small disk.
        let (server, client) = try StorageFaultTests.start(dir, sink: #""output": "\#(output)""#, data: disk.path + "/data")

        // Post until the disk is full; every acknowledged entity is remembered.
        var acknowledged: [String] = []
        var full: (status: Int, json: JSONValue?, text: String)?
        var next = 0
        func batch() -> String {
            let items = (next..<(next + 50)).map {
                TestConfiguration.person(id: "\($0)", first: "First\($0)", last: "Last\($0)", email: "p\($0)@example.com")
            }
            next += 50
            return "[\(items.joined(separator: ","))]"
        }
        while full == nil && next < 20_000 {
            let r = try client.post("/api/t1/entities", batch())
            if r.status == 200 {
                acknowledged += (r.json?.arrayValue ?? []).compactMap { $0["uri"]?.stringValue }
            } else {
                full = r
            }
        }
        let refused = try #require(full, "the disk never filled")
        // Then single entities until those fail too: now even a cursor update finds no room, and the events of
        // the last ones that fitted are on their way to the sink.
        var small = 0
        while small < 5000 {
            let r = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "s\(small)", first: "S\(small)"))]")
            small += 1
            guard r.status == 200 else { break }
            acknowledged += (r.json?.arrayValue ?? []).compactMap { $0["uri"]?.stringValue }
        }
        #expect(refused.status == 507, "\(refused.status) \(refused.text)")
        #expect(refused.json?["errorCode"] == .string("STORAGE_FULL"))
        let health = try client.get("/health")
        #expect(health.status == 503)
        #expect(health.json?["status"] == .string("DOWN"))
        #expect(health.json?["reason"]?.stringValue?.contains("STORAGE_FULL") == true, "\(health.text)")

        // More refused writes log nothing new; the state change was logged once.
        for _ in 0..<5 {
            #expect(try client.post("/api/t1/entities", batch()).status == 507)
        }
        Thread.sleep(forTimeInterval: 2)  // delivery keeps trying to record what it sent
        let failing = server.log.split(separator: "\n").filter { $0.contains("store: writes fail") }
        #expect(failing.count == 1, "\(failing.count) lines: \(failing.prefix(3))")

        // Space comes back: writes, health and delivery recover.
        try disk.resize(sizeKB: 64 * 1024)
        #expect(StreamingTestSupport.eventually(timeout: 20) {
            (try? client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "after", first: "After"))]"))?.status == 200
        })
        #expect(StreamingTestSupport.eventually(timeout: 20) { (try? client.get("/health"))?.json?["status"] == .string("UP") })
        #expect(server.log.split(separator: "\n").filter { $0.contains("store: writes succeed again") }.count == 1)
        let drained = StreamingTestSupport.eventually(timeout: 60) {
            let s = try? StreamingTestSupport.destinationStatus(client, id: "q/events")
            return s?["lagEvents"] == .number("0") && s?["retryBacklog"] == .number("0")
        }
        #expect(drained)

        // Nothing acknowledged was lost, and the sink got every event exactly once: what it had completed
        // while the store could not record it was not sent again.
        let events = try client.events(tenant: "t1")
        let uris = Set(events.compactMap { $0["objectUri"]?.stringValue })
        #expect(acknowledged.allSatisfy { uris.contains($0) }, "acknowledged entities missing")
        let seqs = StreamingTestSupport.readLines(output).compactMap { line -> Int64? in
            guard let id = line["id"]?.stringValue, let dash = id.firstIndex(of: "-") else { return nil }
            return Int64(id[..<dash])
        }
        let duplicates = seqs.count - Set(seqs).count
        #expect(duplicates == 0, "\(duplicates) messages were sent twice")
        #expect(Set(seqs) == Set(events.compactMap { $0["seq"]?.int64Value }))
    }

    /// Another process holds the database's write lock for 25 s: each write waits out the busy timeout (10 s, one
    /// group commit after another) and fails with
    /// 503 `STORE_UNAVAILABLE`. Messages the sink completed meanwhile are recorded once the lock is gone,
    /// not sent again.
    @Test func aLockedStoreGives503AndDeliveryDoesNotResendWhatTheSinkCompleted() throws {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        let (server, client) = try StorageFaultTests.start(dir, sink: #""output": "\#(output)", "completionDelayMs": 1000"#)
        try StreamingTestSupport.postPeople(client, count: 100, prefix: "p")
        // The sink holds each batch for a second; the lock is taken before the first one completes.
        let lock = try PythonServer(
            script: """
                import sqlite3, sys, time
                db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
                db.execute("BEGIN IMMEDIATE")
                print("READY 0", flush=True)
                time.sleep(float(sys.argv[2]))
                db.execute("ROLLBACK")
                """, arguments: [dir.file("data/herald.db"), "25"], in: dir, name: "lock")
        let blocked = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "late", first: "Late"))]")
        #expect(blocked.status == 503, "\(blocked.status) \(blocked.text)")
        #expect(blocked.json?["errorCode"] == .string("STORE_UNAVAILABLE"))
        #expect(try client.get("/health").json?["status"] == .string("DOWN"))
        let drained = StreamingTestSupport.eventually(timeout: 60) {
            let s = try? StreamingTestSupport.destinationStatus(client, id: "q/events")
            return s?["lagEvents"] == .number("0") && s?["retryBacklog"] == .number("0")
        }
        #expect(drained)
        let unrecorded = server.log.split(separator: "\n").filter { $0.contains("cannot record delivery outcomes") }.count
        #expect(unrecorded > 0, "delivery never found the store failing: the test did not exercise what it checks")
        let seqs = StreamingTestSupport.readLines(output).compactMap { line -> Int64? in
            guard let id = line["id"]?.stringValue, let dash = id.firstIndex(of: "-") else { return nil }
            return Int64(id[..<dash])
        }
        #expect(seqs.count - Set(seqs).count == 0, "\(seqs.count - Set(seqs).count) messages were sent twice")
        #expect(Set(seqs) == Set(1...100))
        withExtendedLifetime(lock) {}  // the lock ends by itself after 25 s; dropping the process earlier would end it
    }
}
