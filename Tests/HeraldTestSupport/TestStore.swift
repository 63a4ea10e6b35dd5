import Foundation
import Synchronization
import Testing

/// The store backends the tests that start the real `herald` binary run on: parametrize a test with
/// `@Test(arguments: TestStoreBackend.allCases)` and give its configuration `TestStore(backend)`.
/// (Not `StoreBackend`: that is HeraldConfig's, the configuration's value.)
public enum TestStoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// The embedded store in the test's own `data` directory (what every test used before there was a choice).
    case sqlite
    /// A fresh database on the test process's shared PostgreSQL cluster (``SharedPostgresCluster``).
    case postgres

    public var testDescription: String { rawValue }
}

/// One PostgreSQL cluster for the whole test process (initdb and start take seconds on a 2-core machine); each
/// test that asks gets a database of its own on it. Tests that stop, restart or kill PostgreSQL must start a
/// cluster of their own (`PostgresCluster.start()`) instead: this one is shared with every other test running.
public enum SharedPostgresCluster {
    private static let state = Mutex<(cluster: PostgresCluster?, databases: Int, toldMissing: Bool)>((nil, 0, false))

    /// Ends the current test when PostgreSQL cannot be started here: outside CI it is skipped (cancelled, with
    /// ``PostgresCluster/requireOrSkipMessage()``'s text: what to install, which is also printed once per test run,
    /// since a cancelled test case of a parametrized test shows as passed); in CI (``PostgresCluster/isRequired``) it
    /// also records an issue with that text, so that a CI machine without PostgreSQL fails instead of passing by
    /// skipping.
    public static func requirePostgres(sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let message = PostgresCluster.requireOrSkipMessage() else { return }
        if PostgresCluster.isRequired {
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        } else if state.withLock({ s in defer { s.toldMissing = true }; return !s.toldMissing }) {
            print("The PostgreSQL tests and test cases are skipped: \(message)")
        }
        try Test.cancel(Comment(rawValue: "PostgreSQL is missing: \(message)"), sourceLocation: sourceLocation)
    }

    /// The shared cluster, started on first use. Ends the test as ``requirePostgres(sourceLocation:)`` says when
    /// PostgreSQL is missing.
    public static func cluster(sourceLocation: SourceLocation = #_sourceLocation) throws -> PostgresCluster {
        try requirePostgres(sourceLocation: sourceLocation)
        return try state.withLock { s in
            if let cluster = s.cluster { return cluster }
            let cluster = try PostgresCluster.start()
            s.cluster = cluster
            return cluster
        }
    }

    /// A new, empty database on the shared cluster, named `PREFIX_N` (N counts up per process).
    public static func database(prefix: String = "test", sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (cluster: PostgresCluster, name: String)
    {
        let cluster = try cluster(sourceLocation: sourceLocation)
        let n = state.withLock { s in
            s.databases += 1
            return s.databases
        }
        // A plain identifier: lower-case letters, digits and '_'.
        let safe = String(prefix.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(40))
        let name = "\(safe.isEmpty ? "test" : safe)_\(n)"
        try cluster.psql("CREATE DATABASE \(name)", database: "postgres")
        return (cluster, name)
    }
}

/// The store a test's `herald serve` runs on, as configuration members for `herald.json`.
///
///     @Test(arguments: TestStoreBackend.allCases)
///     func something(_ backend: TestStoreBackend) throws {
///         let store = try TestStore(backend)
///         let config = TestConfiguration.write(in: dir.path, store: store)
///         …
///
/// SQLite: `"dataDirectory": "data"`, beside the configuration file, as the tests always had. PostgreSQL: a fresh
/// database on the shared cluster (``SharedPostgresCluster``) and `"store": {"backend": "postgres", "url": …,
/// "poolSize": 4}`, without a `dataDirectory` (nothing may need one then). Without PostgreSQL the test is skipped
/// (in CI: fails), see ``SharedPostgresCluster/requirePostgres(sourceLocation:)``.
public struct TestStore: Sendable {
    public let backend: TestStoreBackend
    /// PostgreSQL only: the cluster holding ``database``.
    public let cluster: PostgresCluster?
    /// PostgreSQL only: the test's database.
    public let database: String?
    /// The `poolSize` written for PostgreSQL (the daemon's default is 8; tests run several daemons at once).
    public static let poolSize = 4

    /// SQLite in `data` beside the configuration file: what a test gets without asking.
    public static let sqlite = TestStore(backend: .sqlite, cluster: nil, database: nil)

    private init(backend: TestStoreBackend, cluster: PostgresCluster?, database: String?) {
        self.backend = backend
        self.cluster = cluster
        self.database = database
    }

    /// The store of `backend`; for PostgreSQL a new database (named after `name`, e.g. the test) on the shared
    /// cluster, or the end of the test when PostgreSQL is missing.
    public init(_ backend: TestStoreBackend, name: String = "herald", sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        switch backend {
        case .sqlite:
            self = .sqlite
        case .postgres:
            let (cluster, database) = try SharedPostgresCluster.database(prefix: name, sourceLocation: sourceLocation)
            self.init(backend: .postgres, cluster: cluster, database: database)
        }
    }

    /// A store on the database `database` of `cluster` (a cluster of the test's own, e.g. one it restarts).
    public init(cluster: PostgresCluster, database: String) {
        self.init(backend: .postgres, cluster: cluster, database: database)
    }

    /// `postgres://herald@127.0.0.1:PORT/DATABASE` (PostgreSQL), nil for SQLite.
    public var url: String? {
        guard let cluster, let database else { return nil }
        return "postgres://\(cluster.user)@\(cluster.host):\(cluster.port)/\(database)"
    }

    /// The members of `herald.json` that choose the store, without a trailing comma: `"dataDirectory": "data"`
    /// (SQLite) or `"store": {"backend": "postgres", "url": "…", "poolSize": 4}`. `storeKeys` are more members of
    /// the `store` object, e.g. `"queueRetentionHours": 0, "compactionIntervalSeconds": 1`.
    public func configurationMembers(storeKeys: String = "") -> String {
        switch backend {
        case .sqlite:
            return "\"dataDirectory\": \"data\"" + (storeKeys.isEmpty ? "" : ", \"store\": {\(storeKeys)}")
        case .postgres:
            let more = storeKeys.isEmpty ? "" : ", " + storeKeys
            return "\"store\": {\"backend\": \"postgres\", \"url\": \"\(url ?? "")\", \"poolSize\": \(TestStore.poolSize)\(more)}"
        }
    }
}
