import Foundation
import GRDB
import HeraldStorage
import HeraldModel
import Logging
import Synchronization

/// The embedded store: one SQLite database in WAL mode holding entities, the
/// crosswalk index, the CRUD queue and consumer cursors.
///
/// Writes go through `write(_:)`, which group-commits: concurrent requests share
/// one transaction and one fsync, and each caller resumes only after its
/// changes are durable. Reads use a pool of reader connections and never wait
/// for the writer (WAL snapshots).
public final class SQLiteStore: Store {
    public let path: String
    public var location: String { path }
    let pool: DatabasePool
    let committer: GroupCommitter
    private let checkpointer: Checkpointer
    /// Signalled after every commit (delivery workers wait on it for new events).
    public let commits = CommitSignal()
    private let healthMonitor: HealthMonitor

    /// How the WAL was started over (`WALRestarter`).
    let walRestarter: WALRestarter
    public var walRestarts: (restarts: Int, busy: Int, maxFrames: Int)? {
        let s = walRestarter.statistics
        return (s.restarts, s.busy, s.maxFrames)
    }

    /// Whether writes go through, as the last commit found: `/health` reports it.
    public var health: StoreHealth { healthMonitor.health }

    /// Opens (creating if needed) `herald.db` in `directory`.
    ///
    /// - Parameters:
    ///   - synchronous: `FULL` (default) fsyncs the WAL on every commit, so an acknowledged write survives
    ///     power loss; `NORMAL` survives process crashes only.
    ///   - memory: the page caches of the writer and of each reader, and how many readers may be open.
    ///   - walPages: the WAL's size (4 KiB pages) at which the writer starts it over (`WALRestarter`);
    ///     `walRetry`: how long after an attempt that found a reader still on the WAL it tries again.
    public init(
        directory: String, synchronous: String = "FULL", memory: StoreMemory = StoreMemory(),
        walPages: Int = Checkpointer.writerBackstopPages, walRetry: Duration = .seconds(1),
        logger: Logger = Logger(label: "herald.store")
    ) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.openFailed, "cannot create data directory '\(directory)': \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent("herald.db")
        var configuration = Configuration()
        configuration.label = "herald"
        configuration.busyMode = .timeout(10)
        let gate = WALRestarter.Gate()
        let restarter = WALRestarter(pages: walPages, gate: gate, retryInterval: walRetry, busyTimeout: .seconds(10))
        walRestarter = restarter
        configuration.maximumReaderCount = memory.readerCount
        let sync = synchronous
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            // Negative: a budget in KiB, whatever the page size. Readers get theirs here; the writer's is set below.
            try db.execute(sql: "PRAGMA cache_size = -\(memory.readerCacheMiB * 1024)")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                // The checkpointer thread copies the WAL into the database file beside the writer; when the WAL
                // reaches `walPages` the writer starts it over between two groups (`WALRestarter`), and a WAL
                // file that grew past twice that is cut back when it starts over.
                restarter.install(on: db)
                try db.execute(sql: "PRAGMA journal_size_limit = \(walPages * 2 * 4096)")
                try db.execute(sql: "PRAGMA cache_size = -\(memory.writerCacheMiB * 1024)")
            }
            try SQLiteStore.migrator(logger: logger).migrate(pool)
            checkpointer = try Checkpointer(path: path, signal: commits, gate: gate, logger: logger)
        } catch {
            throw StoreError(.openFailed, "cannot open SQLite database '\(path)': \(error)")
        }
        let monitor = HealthMonitor(logger: logger)
        healthMonitor = monitor
        let committer = GroupCommitter(
            pool: pool, signal: commits, walRestarter: restarter, observer: { monitor.record($0) })
        self.committer = committer
        monitor.probe = {
            // 64 KiB in and out again: pages to allocate and WAL frames to append, as real writes need.
            _ = try? await committer.submit { db in
                try db.execute(sql: "INSERT INTO store_probe (id, filler) VALUES (1, zeroblob(65536))")
                try db.execute(sql: "DELETE FROM store_probe")
            }
        }
        logger.info("store opened", metadata: ["path": "\(path)"])
    }

    /// Runs `body` inside a group-committed transaction and returns its result once committed.
    ///
    /// `body` runs on the writer thread in its own savepoint: if it throws, its changes are
    /// rolled back and the error is rethrown; other callers in the same group are unaffected.
    public func write<T: Sendable>(_ body: @escaping (inout any StoreTransaction) throws -> T) async throws -> T {
        try await committer.submit { db in
            var tx: any StoreTransaction = SQLiteTransaction(db: db)
            return try body(&tx)
        }
    }

    /// Reads from a WAL snapshot; SQLite errors that say the storage cannot be used become `StoreError`s.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw StoreError.classify(error) }
    }

    func readSync<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw StoreError.classify(error) }
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
        healthMonitor.stop()
        committer.close()
        checkpointer.stop()
        try? pool.writeWithoutTransaction { db in
            _ = try? db.checkpoint(.truncate)
        }
        try? pool.close()
    }
}

