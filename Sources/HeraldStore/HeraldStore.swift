import Foundation
import GRDB
import HeraldModel
import Logging

/// The embedded store: one SQLite database in WAL mode holding entities, the
/// crosswalk index, the CRUD queue and consumer cursors.
///
/// Writes go through `write(_:)`, which group-commits: concurrent requests share
/// one transaction and one fsync, and each caller resumes only after its
/// changes are durable. Reads use a pool of reader connections and never wait
/// for the writer (WAL snapshots).
public final class HeraldStore: Sendable {
    public let path: String
    let pool: DatabasePool
    private let committer: GroupCommitter
    private let checkpointer: Checkpointer
    /// Signalled after every commit (delivery workers wait on it for new events).
    public let commits = CommitSignal()

    /// Opens (creating if needed) `herald.db` in `directory`.
    ///
    /// - Parameter synchronous: `FULL` (default) fsyncs the WAL on every commit, so an
    ///   acknowledged write survives power loss; `NORMAL` survives process crashes only.
    public init(directory: String, synchronous: String = "FULL", logger: Logger = Logger(label: "herald.store")) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.openFailed, "cannot create data directory '\(directory)': \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent("herald.db")
        var configuration = Configuration()
        configuration.label = "herald"
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 8
        let sync = synchronous
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            try db.execute(sql: "PRAGMA cache_size = -65536")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                // The checkpointer thread copies the WAL into the database file beside the writer; the
                // writer checkpoints itself only as a backstop, when the WAL reaches this many pages
                // (most of it is then already copied, and the WAL starts over from its beginning).
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Checkpointer.writerBackstopPages)")
            }
            try HeraldStore.migrator(logger: logger).migrate(pool)
            checkpointer = try Checkpointer(path: path, signal: commits, logger: logger)
        } catch {
            throw StoreError(.openFailed, "cannot open SQLite database '\(path)': \(error)")
        }
        committer = GroupCommitter(pool: pool, signal: commits)
        logger.info("store opened", metadata: ["path": "\(path)"])
    }

    /// Runs `body` inside a group-committed transaction and returns its result once committed.
    ///
    /// `body` runs on the writer thread in its own savepoint: if it throws, its changes are
    /// rolled back and the error is rethrown; other callers in the same group are unaffected.
    public func write<T: Sendable>(_ body: @escaping (inout WriteTransaction) throws -> T) async throws -> T {
        try await committer.submit { db in
            var tx = WriteTransaction(db: db)
            return try body(&tx)
        }
    }

    /// Registers a handler called on the writer thread whenever written work is rolled back.
    public func onRollback(_ handler: @escaping @Sendable () -> Void) {
        committer.rollbackObservers.withLock { $0.append(handler) }
    }

    /// Commits so far and jobs per commit, for metrics.
    public var commitStatistics: (commits: Int, jobs: Int) {
        committer.statistics.withLock { ($0.commits, $0.jobs) }
    }

    /// Waits for queued writes, then checkpoints the WAL into the database file.
    public func close() {
        committer.close()
        checkpointer.stop()
        try? pool.writeWithoutTransaction { db in
            _ = try? db.checkpoint(.truncate)
        }
        try? pool.close()
    }
}
