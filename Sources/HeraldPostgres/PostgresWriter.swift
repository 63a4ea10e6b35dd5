import Dispatch
import Foundation
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
    /// Entity and crosswalk writes of the open transaction, sent at commit (`flushWrites`).
    var overlay = WriteOverlay()
    /// Rows read ahead in this transaction (crosswalks, entities, candidates' states); the overlay applies on top.
    var readAhead = ReadAhead()
    /// Match keys whose advisory lock this transaction holds (`PostgresTransaction.lockMatchKeys`).
    var lockedMatchKeys: Set<WriteOverlay.TenantMatchKey> = []
    private var savepoints = 0
    /// Open savepoints, outermost first. One is sent to PostgreSQL only before the first statement that
    /// writes inside it: a job that only reads and writes through the overlay costs no round trip for it.
    private var frames: [(name: String, overlayMark: Int, eventMark: Int, sent: Bool)] = []
    /// Between BEGIN and COMMIT or ROLLBACK.
    private(set) var inTransaction = false
    /// Where the writer's time goes: statements sent and the time spent waiting for their answers.
    private(set) var statements = 0
    private(set) var waitingNanoseconds: UInt64 = 0
    /// The same by kind of statement (its first words), for the profile logged at close.
    private(set) var byKind: [String: (count: Int, nanoseconds: UInt64)] = [:]
    /// A storage failure a job of the current group hit (reported to the health monitor with the group).
    var jobStorageFailure: StoreError?
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
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let waited = DispatchTime.now().uptimeNanoseconds - start
            statements += 1
            waitingNanoseconds += waited
            let kind = WriterSession.kind(of: query.sql)
            byKind[kind, default: (0, 0)].count += 1
            byKind[kind, default: (0, 0)].nanoseconds += waited
        }
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

    /// A statement's first four words, e.g. "SELECT version, removed, merged_into".
    static func kind(of sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(4).joined(separator: " ")
    }

    /// The kinds of statement that took the most waiting, most first: "kind: count× seconds".
    func profileByKind(top: Int) -> String {
        byKind.sorted { $0.value.nanoseconds > $1.value.nanoseconds }.prefix(top).map {
            "\($0.key): \($0.value.count)× \(String(format: "%.1f", Double($0.value.nanoseconds) / 1e9)) s"
        }.joined(separator: "; ")
    }

    /// Runs `body` in a savepoint: if it throws, its statements, its overlay writes and its pending events are
    /// undone.
    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        savepoints += 1
        frames.append((name: "s\(savepoints)", overlayMark: overlay.mark, eventMark: pendingEvents.count, sent: false))
        do {
            let value = try body()
            // Not released: a savepoint that stays open costs nothing, and COMMIT ends them all.
            frames.removeLast()
            return value
        } catch {
            let frame = frames.removeLast()
            overlay.rollback(to: frame.overlayMark)
            // A lock taken inside a savepoint that rolls back is released with it: forget them all (taking one
            // again is harmless).
            lockedMatchKeys.removeAll()
            pendingEvents.removeSubrange(frame.eventMark...)
            if frame.sent, connection != nil {
                _ = try? query(PostgresQuery(unsafeSQL: "ROLLBACK TO SAVEPOINT \(frame.name)"))
            }
            throw error
        }
    }

    /// Runs a statement that writes: first sends the savepoints it is inside of that were not sent yet.
    @discardableResult
    func writeStatement(_ statement: PostgresQuery) throws -> PostgresQueryResult {
        for i in frames.indices where !frames[i].sent {
            try query(PostgresQuery(unsafeSQL: "SAVEPOINT \(frames[i].name)"))
            frames[i].sent = true
        }
        return try query(statement)
    }

    func begin() throws {
        pendingEvents.removeAll(keepingCapacity: true)
        overlay.removeAll()
        readAhead.removeAll()
        lockedMatchKeys.removeAll()
        frames.removeAll()
        savepoints = 0
        try query("BEGIN")
        inTransaction = true
    }

    /// Gives the pending events their sequence numbers and inserts them, in one statement: the counter row's
    /// lock, taken here, is held until COMMIT, so sequence numbers are handed out in commit order. The same
    /// statement NOTIFYs `herald_events` (delivered to listeners at COMMIT).
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
            WITH c AS (UPDATE event_counter SET last = last + \(Int64(n)) WHERE id = 1 RETURNING last - \(Int64(n)) AS base),
                notified AS MATERIALIZED (SELECT pg_notify('herald_events', ''))
            INSERT INTO events (seq, tenant, type, object_uri, object_version, time, snapshot, delta, uris, details)
            SELECT c.base + u.ord, u.tenant, u.type, u.object_uri, u.object_version, u.time, u.snapshot, u.delta, u.uris,
                u.details
            FROM c, notified, unnest(\(tenants)::text[], \(types)::text[], \(uris)::text[], \(versions)::int8[], \(times)::int8[],
                \(snapshots)::bytea[], \(deltas)::bytea[], \(uriLists)::text[], \(details)::bytea[])
                WITH ORDINALITY AS u(tenant, type, object_uri, object_version, time, snapshot, delta, uris, details, ord)
            """)
        pendingEvents.removeAll(keepingCapacity: true)
    }

    func commit() throws {
        beforeCommit?()
        inTransaction = false
        try query("COMMIT")
    }

    func rollback() {
        pendingEvents.removeAll(keepingCapacity: true)
        overlay.removeAll()
        readAhead.removeAll()
        lockedMatchKeys.removeAll()
        frames.removeAll()
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
    private let signal: CommitSignal
    private let observer: @Sendable (Result<Void, StoreError>) -> Void
    let statistics = Mutex((commits: 0, jobs: 0))
    let rollbackObservers = Mutex<[@Sendable () -> Void]>([])

    init(
        session: WriterSession, signal: CommitSignal, maxJobsPerCommit: Int = 256,
        observer: @escaping @Sendable (Result<Void, StoreError>) -> Void
    ) {
        self.session = session
        self.signal = signal
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
                        if let storage = classified as? StoreError, storage.isStorageFailure {
                            session.jobStorageFailure = storage
                        }
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
            let (outcome, resumers) = commit(jobs)
            if case .failure(let error as StoreError) = outcome, error.code == .queryFailed || error.code == .conflict,
                jobs.count > 1
            {
                // Entity and crosswalk writes reach PostgreSQL only at commit: one it refuses (a duplicate key)
                // fails the whole group there. Commit each job on its own, so that only the job that wrote it fails.
                for job in jobs { commitAlone(job) }
            } else if case .failure(let error as StoreError) = outcome, error.code == .conflict {
                commitAlone(jobs[0])
            } else {
                finish(jobs, outcome, resumers)
            }
        }
    }

    private typealias Resumer = @Sendable (Result<Void, any Error>) -> Void

    /// How often a job that conflicts runs on its own before its caller gets the conflict.
    static let conflictAttempts = 6

    /// Commits one job on its own. A conflict (another node wrote the same rows first, or a generated id was
    /// taken meanwhile) runs it again after a short random pause (1–2, 2–4, … 16–32 ms), so that two nodes
    /// contending for one entity do not retry in step; `conflictAttempts` runs in all.
    private func commitAlone(_ job: Job) {
        var attempt = 0
        while true {
            let (outcome, resumers) = commit([job])
            attempt += 1
            if case .failure(let error as StoreError) = outcome, error.code == .conflict,
                attempt < PostgresGroupCommitter.conflictAttempts
            {
                let base = 1 << (attempt - 1)
                usleep(UInt32(1000 * Int.random(in: base...(2 * base))))
                continue
            }
            finish([job], outcome, resumers)
            return
        }
    }

    /// Runs `jobs` in one transaction and commits it.
    private func commit(_ jobs: [Job]) -> (Result<Void, any Error>, [Resumer]) {
        var resumers: [Resumer] = []
        resumers.reserveCapacity(jobs.count)
        do {
            try session.connect()
            try session.begin()
            let alone = jobs.count == 1
            for job in jobs { resumers.append(job.run(session, alone)) }
            // A job alone that failed has rolled the transaction back; its caller has its error already.
            if session.inTransaction {
                try session.flushWrites()
                try session.flushEvents()
                try session.commit()
            }
            return (.success(()), resumers)
        } catch {
            notifyRollback()
            session.rollback()
            let classified = StoreError.classifyPostgres(error)
            if let storeError = classified as? StoreError { return (.failure(storeError), resumers) }
            return (.failure(StoreError(.commitFailed, "the transaction did not commit: \(error)")), resumers)
        }
    }

    private func finish(_ jobs: [Job], _ outcome: Result<Void, any Error>, _ resumers: [Resumer]) {
        // A group that committed while one of its jobs lost the connection (a job alone rolls back on its own)
        // does not count as healthy.
        let jobFailure = session.jobStorageFailure
        session.jobStorageFailure = nil
        switch outcome {
        case .success where jobFailure != nil: observer(.failure(jobFailure!))
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

    /// Runs `change` on the writer's queue (between groups).
    func onWriterQueue(_ change: @escaping (WriterSession) -> Void) {
        queue.sync { change(session) }
    }

    /// Refuses new jobs, waits until queued ones have committed, and closes the writer's connection.
    func close() {
        state.withLock { $0.closed = true }
        queue.sync { session.close() }
        let (commits, jobs) = statistics.withLock { ($0.commits, $0.jobs) }
        let (statements, waiting, kinds) = queue.sync {
            (session.statements, session.waitingNanoseconds, session.profileByKind(top: 12))
        }
        if commits > 0 {
            session.logger.info(
                "store: writer profile: \(jobs) jobs in \(commits) transactions, \(statements) statements, \(String(format: "%.1f", Double(waiting) / 1e9)) s waiting for PostgreSQL (most: \(kinds))")
        }
    }
}
