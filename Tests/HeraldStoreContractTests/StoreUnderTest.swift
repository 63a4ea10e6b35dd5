import Foundation
import HeraldPostgres
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Logging
import Synchronization
import Testing

/// The backends every contract test runs on.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// One PostgreSQL cluster for the whole test process (initdb takes seconds); each test gets its own database.
enum SharedCluster {
    private static let state = Mutex<(cluster: PostgresCluster?, error: String?, databases: Int)>((nil, nil, 0))

    /// A fresh database on the shared cluster, or nil with the reason PostgreSQL is not there.
    static func database() throws -> (cluster: PostgresCluster, name: String)? {
        if let message = PostgresCluster.requireOrSkipMessage() {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record(Comment(rawValue: message)) }
            else { print("skipped: \(message)") }
            return nil
        }
        let (cluster, n) = try state.withLock { s -> (PostgresCluster, Int) in
            if s.cluster == nil { s.cluster = try PostgresCluster.start() }
            s.databases += 1
            return (s.cluster!, s.databases)
        }
        let name = "contract_\(n)"
        _ = try cluster.psql("CREATE DATABASE \(name)")
        return (cluster, name)
    }
}

/// Opens a store of `backend` in fresh storage; `close` releases it. For PostgreSQL, nil when it is missing.
struct StoreUnderTest {
    let store: any Store
    let reopen: () async throws -> any Store
    let directory: TemporaryDirectory?

    static func open(_ backend: Backend) async throws -> StoreUnderTest? {
        switch backend {
        case .sqlite:
            let dir = TemporaryDirectory()
            let store = try SQLiteStore(directory: dir.path)
            return StoreUnderTest(store: store, reopen: { try SQLiteStore(directory: dir.path) }, directory: dir)
        case .postgres:
            guard let (cluster, name) = try SharedCluster.database() else { return nil }
            let settings = PostgresSettings(host: cluster.host, port: cluster.port, user: cluster.user, database: name, poolSize: 4)
            let store = try await PostgresStore.open(settings, logger: Logger(label: "test"))
            return StoreUnderTest(store: store, reopen: { try await PostgresStore.open(settings, logger: Logger(label: "test")) }, directory: nil)
        }
    }
}
