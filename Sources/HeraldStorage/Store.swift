/// Everything one write transaction can do: the stages (ingest, match and merge, delivery bookkeeping,
/// compaction) see the store only through this.
public typealias StoreTransaction =
    EntityTransaction & MatchIndexTransaction & EventLogTransaction & DeliveryTransaction & NestedTransaction

/// Nested savepoints inside a write transaction.
public protocol NestedTransaction {
    /// Runs `body` in a nested savepoint: if it throws, only its changes are rolled back, and the error is rethrown.
    func inSavepoint<T>(_ body: () throws -> T) throws -> T
}

/// Group-committed write transactions.
public protocol TransactionalStore: Sendable {
    /// Runs `body` in a transaction and returns its result once the transaction has committed durably.
    ///
    /// Concurrent calls may share one transaction (group commit); each runs in its own savepoint, so one that
    /// throws rolls back only its own changes and rethrows. If the commit fails, every caller of the group gets
    /// the error and nothing of the group is kept. Storage failures are `StoreError`s with `isStorageFailure`.
    /// `body` runs on the store's writer thread and may block it: it must not wait for anything but the store.
    func write<T: Sendable>(_ body: @escaping (inout any StoreTransaction) throws -> T) async throws -> T
    /// Registers a handler called (on the writer thread) whenever written work is rolled back: caches of what
    /// was written must forget it.
    func onRollback(_ handler: @escaping @Sendable () -> Void)
    /// Whether writes go through, as the last commit found: `/health` reports it.
    var health: StoreHealth { get }
    /// Commits so far and jobs per commit, for metrics.
    var commitStatistics: (commits: Int, jobs: Int) { get }
    /// SQLite: times the writer started the WAL over, attempts a reader outlasted, and the most frames the WAL
    /// held after a commit, since start. Nil for a store without a WAL of its own.
    var walRestarts: (restarts: Int, busy: Int, maxFrames: Int)? { get }
    /// Waits for queued writes, then releases the store's resources. Nothing can be written afterwards.
    func close() async
    /// Whether this store's reads cost a round trip, so that callers should give the read-ahead hints
    /// (`prefetch(tenant:crosswalks:)`, `prefetch(tenant:matchKeys:)`) even where preparing them costs some work.
    var readsAhead: Bool { get }
}

extension TransactionalStore {
    public var readsAhead: Bool { false }
    public var walRestarts: (restarts: Int, busy: Int, maxFrames: Int)? { nil }
}

/// A Herald store: the entity store, the match index (through transactions), the event log and the delivery
/// ledger, behind one transactional writer.
///
/// `SQLiteStore` (HeraldSQLite) is the embedded default; `PostgresStore` (HeraldPostgres) serves several nodes.
public protocol Store: TransactionalStore, EntityReader, EventLog, DeliveryLedger, DeliveryLeases, StreamingSettings {
    /// Where the data lives, for logs: a file path or a URL without its password.
    var location: String { get }
}

extension Store {
    /// Deletes events of `tenant` with `seq <= upTo` and `time < olderThan` (queue compaction), in small
    /// transactions so that compaction never holds the writer for long.
    /// - Returns: how many were deleted.
    @discardableResult
    public func compactQueue(tenant: String, upTo seq: Int64, olderThan time: Int64, batch: Int = 10_000) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await write { tx in
                try tx.deleteEvents(tenant: tenant, upTo: seq, olderThan: time, limit: batch)
            }
            total += deleted
            if deleted < batch { return total }
        }
    }
}
