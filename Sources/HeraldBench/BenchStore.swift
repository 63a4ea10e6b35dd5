import Foundation
import HeraldTestSupport
import Synchronization

/// The store the servers under test use: the embedded SQLite default, or PostgreSQL on this machine (a cluster
/// herald-bench starts itself, with `fsync=on`, like the tests; one fresh database per server).
enum BenchStore: String, CaseIterable, Sendable {
    case sqlite, postgres

    private static let state = Mutex<(current: BenchStore, cluster: PostgresCluster?, databases: Int)>((.sqlite, nil, 0))

    static var current: BenchStore {
        get { state.withLock { $0.current } }
        set { state.withLock { $0.current = newValue } }
    }

    /// The `store` members for a new server: `sqliteMembers` on SQLite; a new database on the cluster on PostgreSQL.
    static func configuration(sqliteMembers: String) throws -> String {
        switch current {
        case .sqlite:
            return sqliteMembers
        case .postgres:
            let (cluster, n) = try state.withLock { s -> (PostgresCluster, Int) in
                if s.cluster == nil {
                    if let message = PostgresCluster.requireOrSkipMessage() { throw BenchError(message) }
                    s.cluster = try PostgresCluster.start()
                }
                s.databases += 1
                return (s.cluster!, s.databases)
            }
            let name = "bench_\(n)"
            try cluster.psql("CREATE DATABASE \(name)")
            return "\"backend\": \"postgres\", \"url\": \"postgres://\(cluster.user)@\(cluster.host):\(cluster.port)/\(name)\""
        }
    }

    /// The proportional set size (PSS: shared memory counted once) of every PostgreSQL process, in MiB; 0 on SQLite.
    static func serverMemoryMiB() -> Double {
        guard let cluster = state.withLock({ $0.cluster }),
            let pidText = try? String(contentsOfFile: cluster.dataDirectory + "/postmaster.pid", encoding: .utf8),
            let postmaster = Int32(pidText.split(separator: "\n").first ?? "")
        else { return 0 }
        var total = 0.0
        for pid in [postmaster] + children(of: postmaster) {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if parts.count >= 2, let kb = Double(parts[1]) { total += kb / 1024 }
            }
        }
        return total
    }

    private static func children(of parent: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    static func stop() {
        state.withLock { s in
            s.cluster?.destroy()
            s.cluster = nil
        }
    }
}
