import Dispatch
import GRDB
import HeraldStorage
import Synchronization

/// Runs write jobs in shared transactions: one commit (one WAL fsync) for every job that was waiting.
///
/// Each job runs inside its own savepoint, so a job that throws rolls back only
/// its own changes. A job's caller is resumed only after the transaction that
/// holds its changes has committed: an acknowledged write is durable. If the
/// commit itself fails, every job of that group fails and nothing of it is kept.
final class GroupCommitter: Sendable {
    struct Job: @unchecked Sendable {
        /// Runs inside the group transaction; returns a closure that resumes the caller once the outcome is known.
        let run: (Database) -> (@Sendable (Result<Void, any Error>) -> Void)
        /// Resumes the caller with an error when the job could not run at all.
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var pending: [Job] = []
        var draining = false
        var closed = false
    }

    private let pool: DatabasePool
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "herald.store.group-commit")
    /// Upper bound on jobs per transaction, to bound the latency of the first job in a group.
    private let maxJobsPerCommit: Int
    let statistics = Mutex(Statistics())
    /// Called on the writer thread whenever work is rolled back (a failed job or a failed commit):
    /// caches of what was written must forget it.
    let rollbackObservers = Mutex<[@Sendable () -> Void]>([])

    func notifyRollback() {
        for observer in rollbackObservers.withLock({ $0 }) { observer() }
    }

    struct Statistics {
        var commits: Int = 0
        var jobs: Int = 0
    }

    private let signal: CommitSignal
    /// Called on the writer thread with every commit's outcome (a storage failure of one of its jobs counts).
    private let observer: @Sendable (Result<Void, StoreError>) -> Void
    /// A storage failure of a job in the group being written (writer thread).
    private let jobStorageFailure = Mutex<StoreError?>(nil)

    /// Starts the WAL over between groups when it has grown (nil: SQLite's own checkpointing only).
    private let walRestarter: WALRestarter?

    init(
        pool: DatabasePool, signal: CommitSignal, maxJobsPerCommit: Int = 256, walRestarter: WALRestarter? = nil,
        observer: @escaping @Sendable (Result<Void, StoreError>) -> Void = { _ in }
    ) {
        self.pool = pool
        self.walRestarter = walRestarter
        self.signal = signal
        self.maxJobsPerCommit = maxJobsPerCommit
        self.observer = observer
    }

    private func observe(_ outcome: Result<Void, any Error>) {
        switch outcome {
        case .success: observer(.success(()))
        case .failure(let error as StoreError) where error.isStorageFailure: observer(.failure(error))
        case .failure: break
        }
    }

    /// Enqueues a job; `run` is called on the writer, inside the group transaction.
    func submit<T: Sendable>(_ body: @escaping (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(run: { db in
                do {
                    var value: T?
                    try db.inSavepoint {
                        value = try body(db)
                        return .commit
                    }
                    let result = value!
                    return { outcome in
                        switch outcome {
                        case .success: continuation.resume(returning: result)
                        case .failure(let error): continuation.resume(throwing: error)
                        }
                    }
                } catch {
                    self.notifyRollback()
                    let classified = StoreError.classify(error)
                    if let storage = classified as? StoreError, storage.isStorageFailure {
                        self.jobStorageFailure.withLock { $0 = storage }
                    }
                    return { _ in continuation.resume(throwing: classified) }
                }
            }, fail: { error in continuation.resume(throwing: error) })
            let accepted: Bool = state.withLock { state in
                if state.closed { return false }
                state.pending.append(job)
                if state.draining { return true }
                state.draining = true
                queue.async { self.drain() }
                return true
            }
            if !accepted {
                continuation.resume(throwing: StoreError(.closed, "the store is closed"))
            }
        }
    }

    private func drain() {
        while true {
            let jobs: [Job] = state.withLock { state in
                let n = min(state.pending.count, maxJobsPerCommit)
                let taken = Array(state.pending.prefix(n))
                state.pending.removeFirst(n)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if jobs.isEmpty { return }
            var resumers: [@Sendable (Result<Void, any Error>) -> Void] = []
            resumers.reserveCapacity(jobs.count)
            let outcome: Result<Void, any Error>
            do {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        for job in jobs { resumers.append(job.run(db)) }
                        return .commit
                    }
                }
                outcome = .success(())
            } catch {
                notifyRollback()
                let classified = StoreError.classify(error)
                if let storage = classified as? StoreError, storage.isStorageFailure {
                    outcome = .failure(storage)
                } else {
                    outcome = .failure(StoreError(.commitFailed, "the transaction did not commit: \(error)"))
                }
            }
            // A group that committed while one of its jobs hit a storage failure does not count as healthy.
            if case .success = outcome, let failure = jobStorageFailure.withLock({ f in defer { f = nil }; return f }) {
                observe(.failure(failure))
            } else {
                observe(outcome)
            }
            statistics.withLock {
                $0.commits += 1
                $0.jobs += jobs.count
            }
            if case .success = outcome { signal.signal() }
            for resume in resumers { resume(outcome) }
            if case .failure(let error) = outcome, resumers.count < jobs.count {
                for job in jobs[resumers.count...] { job.fail(error) }
            }
            // After the callers are resumed, so that the restart's wait does not delay their answers.
            if case .success = outcome, let restarter = walRestarter, restarter.isDue() {
                try? pool.writeWithoutTransaction { db in restarter.restart(db) }
            }
        }
    }

    /// Refuses new jobs and waits until queued ones have committed.
    func close() {
        state.withLock { $0.closed = true }
        queue.sync {}
    }
}
