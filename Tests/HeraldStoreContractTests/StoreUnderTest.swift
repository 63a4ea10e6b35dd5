import Foundation
import HeraldPostgres
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Logging
import Testing

/// The backends every contract test runs on.
typealias Backend = TestStoreBackend

/// A fresh database on the test process's shared PostgreSQL cluster (`SharedPostgresCluster`); when PostgreSQL
/// is missing the test is skipped (in CI it fails) before this returns.
enum SharedCluster {
    static func database() throws -> (cluster: PostgresCluster, name: String)? {
        try SharedPostgresCluster.database(prefix: "contract")
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
