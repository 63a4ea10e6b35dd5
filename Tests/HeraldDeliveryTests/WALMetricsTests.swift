import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// `store.walRestartMiB` through the daemon: with a 1 MiB limit, ingest beside a destination reading the queue makes
/// the writer start the WAL over, and `/metrics` says how often and how large the WAL grew.
struct WALMetricsTests {
    static func gauge(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func theWALStartsOverAtTheConfiguredSizeAndMetricsSaySo() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("q.ndjson")
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            streaming: """
                {"messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(out)"}}},
                  "destinations": [{"provider": "files", "name": "all", "batch": {"lingerMs": 0}}]}}
                """,
            storeKeys: "\"walRestartMiB\": 1")
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        defer { withExtendedLifetime(server) {} }
        let client = TestClient(baseURL: server.baseURL)
        // ~40 batches of 50 people: well over 256 pages of WAL (each entity and its event are ~2 KiB).
        for batch in 0..<40 {
            let people = (0..<50).map { k in
                TestConfiguration.person(id: "p\(batch)-\(k)", first: "First\(k)", last: "Last\(batch)")
            }
            #expect(try client.post("/api/t1/entities", "[" + people.joined(separator: ",") + "]").status == 200)
        }
        let metrics = try client.get("/metrics").text
        let restarts = try #require(Self.gauge(metrics, "herald_sqlite_wal_restarts"), "\(metrics.prefix(2000))")
        let maxFrames = try #require(Self.gauge(metrics, "herald_sqlite_wal_max_frames"))
        #expect(Self.gauge(metrics, "herald_sqlite_wal_restarts_busy") != nil)
        #expect(restarts >= 1, "restarts \(restarts), max frames \(maxFrames)")
        // 256 pages plus what one group of writes adds before the restart between groups.
        #expect(maxFrames >= 256 && maxFrames < 256 * 8, "max frames \(maxFrames)")
    }
}
