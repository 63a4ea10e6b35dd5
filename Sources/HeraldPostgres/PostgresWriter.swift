import Dispatch
import HeraldModel
import HeraldStorage
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The writer's connection and the state of the transaction it is in. Used only on the writer thread.
final class WriterSession: @unchecked Sendable {
    let logger: Logger
    private let configuration: PostgresConnection.Configuration
    private let eventLoop: any EventLoop
    private(set) var connection: PostgresConnection?
    /// Events appended in the open transaction: they get their sequence numbers at commit (`flushEvents`).
    var pendingEvents: [(tenant: String, event: NewEvent)] = []
    private var savepoints = 0
    /// Between BEGIN and COMMIT or ROLLBACK.
    private(set) var inTransaction = false
    /// Tests only: runs on the writer thread after the events got their sequence numbers, before COMMIT.
    nonisolated(unsafe) var beforeCommit: (@Sendable () -> Void)?
    /// The statement the writer waits for, and its connection; failed when that connection closes (see `query`).
    private let waiting = Mutex<(connection: ObjectIdentifier, answer: EventLoopPromise<PostgresQueryResult>)?>(nil)

    init(configuration: PostgresConnection.Configuration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Connects if the last connection was lost (blocking: the writer thread is not an event loop).
    func connect() throws {
        if let connection, !connection.isClosed { return }
        connection = nil
        do {
            let connected = try PostgresConnection.connect(
                on: eventLoop, configuration: configuration, id: 1, logger: logger
            ).wait()
            let id = ObjectIdentifier(connected)
            connected.closeFuture.whenComplete { [weak self] _ in
                let answer = self?.waiting.withLock { $0?.connection == id ? $0?.answer : nil }
                answer?.fail(StoreError(.unavailable, "PostgreSQL closed the connection"))
            }
            connection = connected
        } catch {
            throw StoreError.classifyPostgres(error)
        }
    }

    /// Runs one statement and waits for its rows. Any failure is classified; a lost connection is dropped so
    /// that the next group reconnects.
    @discardableResult
    func query(_ query: PostgresQuery) throws -> PostgresQueryResult {
        guard let connection else { throw StoreError(.unavailable, "PostgreSQL is not connected") }
        // postgres-nio never answers a statement written to a connection that closed a moment before (the server
        // ended it: a restart) — the write fails and nobody is told, and the writer would wait forever with every
        // write behind it. So the answer is also failed when the connection closes, or if it already has.
        let answer = connection.eventLoop.makePromise(of: PostgresQueryResult.self)
        waiting.withLock { $0 = (ObjectIdentifier(connection), answer) }
        defer { waiting.withLock { $0 = nil } }
        if connection.isClosed { answer.fail(StoreError(.unavailable, "PostgreSQL closed the connection")) }
        connection.query(query, logger: logger).cascade(to: answer)
        do {
            return try answer.futureResult.wait()
        } catch {
            let classified = StoreError.classifyPostgres(error)
            if let e = classified as? StoreError, e.code == .unavailable {
                try? connection.close().wait()
                self.connection = nil
            }
            throw classified
        }
    }

    /// Runs `body` in a savepoint: if it throws, its statements and its pending events are undone.
    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        savepoints += 1
        let name = "s\(savepoints)"
        let mark = pendingEvents.count
        try query(PostgresQuery(unsafeSQL: "SAVEPOINT \(name)"))
        do {
            let value = try body()
            try query(PostgresQuery(unsafeSQL: "RELEASE SAVEPOINT \(name)"))
            return value
        } catch {
            pendingEvents.removeSubrange(mark...)
            if connection != nil { _ = try? query(PostgresQuery(unsafeSQL: "ROLLBACK TO SAVEPOINT \(name)")) }
            throw error
        }
    }

    func begin(synchronousCommit: String?) throws {
        pendingEvents.removeAll(keepingCapacity: true)
        savepoints = 0
        try query("BEGIN")
        inTransaction = true
        if let synchronousCommit {
            try query(PostgresQuery(unsafeSQL: "SET LOCAL synchronous_commit TO \(synchronousCommit)"))
        }
    }

    /// Gives the pending events their sequence numbers and inserts them, in one statement: the counter row's
    /// lock, taken here, is held until COMMIT, so sequence numbers are handed out in commit order.
    func flushEvents() throws {
        guard !pendingEvents.isEmpty else { return }
        var tenants: [String] = [], types: [String] = [], uris: [String] = [], versions: [Int64] = []
        var times: [Int64] = [], snapshots: [ByteBuffer] = [], deltas: [ByteBuffer] = [], uriLists: [String] = []
        var details: [ByteBuffer] = []
        let n = pendingEvents.count
        for (tenant, e) in pendingEvents {
            tenants.append(tenant)
            types.append(e.type.rawValue)
            uris.append(e.objectURI)
            versions.append(e.objectVersion)
            times.append(e.time)
            snapshots.append(ByteBuffer(bytes: e.snapshot))
            deltas.append(ByteBuffer(bytes: e.delta))
            uriLists.append(e.uris.joined(separator: " "))
            details.append(ByteBuffer(bytes: e.details))
        }
        try query(
            """
            WITH c AS (UPDATE event_counter SET last = last + \(Int64(n)) WHERE id = 1 RETURNING last - \(Int64(n)) AS base)
            INSERT INTO events (seq, tenant, type, object_uri, object_version, time, snapshot, delta, uris, details)
            SELECT c.base + u.ord, u.tenant, u.type, u.object_uri, u.object_version, u.time, u.snapshot, u.delta, u.uris,
                u.details
            FROM c, unnest(\(tenants)::text[], \(types)::text[], \(uris)::text[], \(versions)::int8[], \(times)::int8[],
                \(snapshots)::bytea[], \(deltas)::bytea[], \(uriLists)::text[], \(details)::bytea[])
                WITH ORDINALITY AS u(tenant, type, object_uri, object_version, time, snapshot, delta, uris, details, ord)
            """)
        try query("SELECT pg_notify('herald_events', '')")
        pendingEvents.removeAll(keepingCapacity: true)
    }

    func commit() throws {
        beforeCommit?()
        inTransaction = false
        try query("COMMIT")
    }

    func rollback() {
        pendingEvents.removeAll(keepingCapacity: true)
        guard inTransaction else { return }
        inTransaction = false
        if connection != nil { _ = try? query("ROLLBACK") }
    }

    func close() {
        try? connection?.close().wait()
        connection = nil
    }
}

/// Runs write jobs in shared PostgreSQL transactions, like the SQLite store's group commit: one COMMIT (one WAL
/// flush) for every job that was waiting, each job in its own savepoint, and a caller resumed only once the
/// transaction holding its changes has committed.
final class PostgresGroupCommitter: Sendable {
    struct Job: @unchecked Sendable {
        /// Runs inside the group transaction; returns a closure that resumes the caller once the outcome is known.
        let run: (WriterSession, Bool) -> (@Sendable (Result<Void, any Error>) -> Void)
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var pending: [Job] = []
        var draining = false
        var closed = false
    }

    let session: WriterSession
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "herald.postgres.writer")
    private let maxJobsPerCommit: Int
    private let synchronousCommit: String?
    private let signal: CommitSignal
    private let observer: @Sendable (Result<Void, StoreError>) -> Void
    let statistics = Mutex((commits: 0, jobs: 0))
    let rollbackObservers = Mutex<[@Sendable () -> Void]>([])

    init(
        session: WriterSession, signal: CommitSignal, synchronousCommit: String?, maxJobsPerCommit: Int = 256,
        observer: @escaping @Sendable (Result<Void, StoreError>) -> Void
    ) {
        self.session = session
        self.signal = signal
        self.synchronousCommit = synchronousCommit
        self.maxJobsPerCommit = maxJobsPerCommit
        self.observer = observer
    }

    private func notifyRollback() {
        for observer in rollbackObservers.withLock({ $0 }) { observer() }
    }

    func submit<T: Sendable>(_ body: @escaping (inout any StoreTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { session, alone in
                    do {
                        let result: T
                        var tx: any StoreTransaction = PostgresTransaction(session: session)
                        // A job alone in its transaction needs no savepoint: if it throws, the whole
                        // transaction rolls back.
                        if alone {
                            result = try body(&tx)
                        } else {
                            result = try session.inSavepoint { try body(&tx) }
                        }
                        return { outcome in
                            switch outcome {
                            case .success: continuation.resume(returning: result)
                            case .failure(let error): continuation.resume(throwing: error)
                            }
                        }
                    } catch {
                        self.notifyRollback()
                        let classified = StoreError.classifyPostgres(error)
                        if alone { session.rollback() }
                        return { _ in continuation.resume(throwing: classified) }
                    }
                }, fail: { continuation.resume(throwing: $0) })
            let accepted: Bool = state.withLock { state in
                if state.closed { return false }
                state.pending.append(job)
                if state.draining { return true }
                state.draining = true
                queue.async { self.drain() }
                return true
            }
            if !accepted { continuation.resume(throwing: StoreError(.closed, "the store is closed")) }
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
                try session.connect()
                try session.begin(synchronousCommit: synchronousCommit)
                let alone = jobs.count == 1
                for job in jobs { resumers.append(job.run(session, alone)) }
                // A job alone that failed has rolled the transaction back; its caller has its error already.
                if session.inTransaction {
                    try session.flushEvents()
                    try session.commit()
                }
                outcome = .success(())
            } catch {
                notifyRollback()
                session.rollback()
                let classified = StoreError.classifyPostgres(error)
                if let storage = classified as? StoreError {
                    outcome = .failure(storage.isStorageFailure ? storage : StoreError(.commitFailed, "the transaction did not commit: \(storage.message)"))
                } else {
                    outcome = .failure(StoreError(.commitFailed, "the transaction did not commit: \(error)"))
                }
            }
            switch outcome {
            case .success: observer(.success(()))
            case .failure(let error as StoreError) where error.isStorageFailure: observer(.failure(error))
            case .failure: break
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
        }
    }

    /// Runs `change` on the writer's queue (between groups).
    func onWriterQueue(_ change: @escaping (WriterSession) -> Void) {
        queue.sync { change(session) }
    }

    /// Refuses new jobs, waits until queued ones have committed, and closes the writer's connection.
    func close() {
        state.withLock { $0.closed = true }
        queue.sync { session.close() }
    }
}
