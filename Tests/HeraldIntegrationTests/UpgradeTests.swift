import Foundation
import GRDB
import HeraldJSON
@testable import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Testing

/// A data directory written by an older Herald starts with today's and loses nothing.
@Suite(.timeLimit(.minutes(3)))
struct UpgradeTests {
    /// Before schema v5 the retry schedule was keyed by destination id alone. Two tenants with the destination
    /// `q/events` each have retries pending; after the upgrade each retry reaches its own tenant's sink.
    @Test func pendingRetriesFromBeforeTenantKeysReachTheirOwnTenantsSink() async throws {
        let dir = TemporaryDirectory()
        let data = dir.file("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        do {
            let queue = try DatabaseQueue(path: data + "/herald.db")
            try SQLiteStore.migrator().migrate(queue, upTo: "v4-match-keys")
            try await queue.write { db in
                // Events 1-4 exist (the cursors are past them); event 5's row was compacted away.
                for (seq, tenant) in [(1, "alpha"), (2, "beta"), (3, "alpha"), (4, "beta")] {
                    try db.execute(
                        sql: """
                            INSERT INTO events (seq, tenant, type, object_uri, object_version, time, snapshot, delta)
                            VALUES (?, ?, 'ENTITY_CREATED', 'entities/e', 1, 1, x'', x'')
                            """, arguments: [seq, tenant])
                }
                for (seq, tenant) in [(1, "alpha"), (2, "beta"), (3, "alpha"), (5, "beta")] {
                    let headers = seq == 5 ? "[[\"tenantId\",\"beta\"]]" : "[]"
                    try db.execute(
                        sql: """
                            INSERT INTO delivery_retries (destination, seq, message_id, message_key, event_type, object_uri,
                                headers, body, attempts, next_attempt, first_attempt, last_attempt, last_status, last_error)
                            VALUES ('q/events', ?, ?, ?, 'ENTITY_CREATED', ?, ?, ?, 1, 1, 1, 1, 'RETRY', 'before the upgrade')
                            """,
                        arguments: [
                            seq, "\(seq)-m", "entities/\(tenant)\(seq)", "entities/\(tenant)\(seq)", headers,
                            Data("{\"tenant\":\"\(tenant)\",\"seq\":\(seq)}".utf8),
                        ])
                }
                try db.execute(
                    sql: """
                        INSERT INTO cursors (consumer, seq, updated_time) VALUES
                            ('destination:alpha/q/events', 5, 1), ('destination:beta/q/events', 5, 1)
                        """)
            }
            try queue.close()
        }
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        let tenants = ["alpha", "beta"].map { t in
            StreamingTestSupport.tenant(
                id: t,
                streaming: """
                    {"messaging": {"providers": {"q": {"plugin": "test", "config": {"output": "\(dir.file("\(t).ndjson"))"}}},
                      "destinations": [{"provider": "q", "name": "events", "batch": {"lingerMs": 0}}]}}
                    """)
        }
        let config = TestConfiguration.write(
            in: dir.path, tenants: tenants.joined(separator: ","), extra: "\"pluginDirectories\": [\"\(plugins)\"],")
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        func bodies(_ t: String) -> [String] {
            StreamingTestSupport.readLines(dir.file("\(t).ndjson")).compactMap { $0["body"]?.stringValue }.sorted()
        }
        #expect(StreamingTestSupport.eventually { bodies("alpha").count == 2 && bodies("beta").count == 2 })
        #expect(bodies("alpha") == [#"{"tenant":"alpha","seq":1}"#, #"{"tenant":"alpha","seq":3}"#])
        #expect(bodies("beta") == [#"{"tenant":"beta","seq":2}"#, #"{"tenant":"beta","seq":5}"#])
        for t in ["alpha", "beta"] {
            let s = try StreamingTestSupport.destinationStatus(client, tenant: t, id: "q/events")
            #expect(s?["cursor"] == .number("5"), "\(t) keeps its cursor")
            #expect(s?["retryBacklog"] == .number("0"))
        }
        #expect(server.log.contains("store upgraded to v5: 4 retry-schedule entries keyed by tenant"))
    }
}
