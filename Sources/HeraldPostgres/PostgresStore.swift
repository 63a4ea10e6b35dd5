import HeraldModel
import HeraldStorage
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The PostgreSQL store: the same tables as the embedded SQLite store, in the `herald` schema of one database.
///
/// - Writes go through one writer connection with group commit (`PostgresGroupCommitter`): concurrent requests
///   share a transaction, each in its own savepoint, and resume once it has committed.
/// - Events get their sequence numbers at commit, under the lock of one counter row, so a consumer reading
///   `seq > cursor` never skips an event that committed late (docs/decisions/0009-event-log-order.md).
/// - Reads use a pool of connections (`PostgresClient`); one of them LISTENs on `herald_events`, so delivery
///   workers wake when any node commits (they poll every second as well).
/// - A lost connection fails the requests that needed it with `STORE_UNAVAILABLE`; the next write or read
///   connects again.
public final class PostgresStore: Store {
    public let settings: PostgresSettings
    /// Every read is a round trip: ingest gives the read-ahead hints.
    public var readsAhead: Bool { true }

    public var location: String { settings.location }
    public let commits: CommitSignal

    let logger: Logger
    private let client: PostgresClient
    private let committer: PostgresGroupCommitter
    /// The writer connection's own event loop: its answers are read at once, not behind HTTP connections on the
    /// shared loops (which made a round trip take over a millisecond under load).
    private let writerLoop: MultiThreadedEventLoopGroup
    private let healthMonitor: HealthMonitor
    private let background = Mutex<[Task<Void, Never>]>([])

    public var health: StoreHealth { healthMonitor.health }

    private init(
        settings: PostgresSettings, client: PostgresClient, committer: PostgresGroupCommitter,
        writerLoop: MultiThreadedEventLoopGroup, commits: CommitSignal, health: HealthMonitor, logger: Logger
    ) {
        self.settings = settings
        self.writerLoop = writerLoop
        self.commits = commits
        self.client = client
        self.committer = committer
        self.healthMonitor = health
        self.logger = logger
    }

    static func startupParameters() -> [(String, String)] {
        [("search_path", PostgresSchema.name), ("application_name", "herald")]
    }

    static func connectionConfiguration(_ settings: PostgresSettings) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: .disable)
        configuration.options.additionalStartupParameters = startupParameters()
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// Connects, runs the schema migrations, and starts the writer, the reader pool and the listener.
    public static func open(_ settings: PostgresSettings, logger: Logger = Logger(label: "herald.store")) async throws
        -> PostgresStore
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let configuration = connectionConfiguration(settings)
        do {
            let connection = try await PostgresConnection.connect(
                on: group.next(), configuration: configuration, id: 0, logger: logger)
            do {
                try await PostgresSchema.migrate(connection, logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        } catch let error as PostgresSchema.MigrationError {
            throw StoreError(.openFailed, "cannot migrate the PostgreSQL schema at \(settings.location): \(error)")
        } catch {
            let reason = (StoreError.classifyPostgres(error) as? StoreError)?.message ?? "\(error)"
            throw StoreError(.openFailed, "cannot open the PostgreSQL store at \(settings.location): \(reason)")
        }

        var clientConfiguration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: .disable)
        clientConfiguration.options.additionalStartupParameters = startupParameters()
        // One more than the readers: the listener holds one connection.
        clientConfiguration.options.maximumConnections = settings.poolSize + 1
        clientConfiguration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)

        let monitor = HealthMonitor(logger: logger)
        let signal = CommitSignal()
        // The writer holds the event counter's lock from its events statement to COMMIT: if this process stalls
        // there (stopped, partitioned), PostgreSQL ends the transaction after a minute and the lock with it.
        var writerConfiguration = configuration
        writerConfiguration.options.additionalStartupParameters += [
            ("idle_in_transaction_session_timeout", "60s"), ("statement_timeout", "60s"),
        ]
        // Only the writer commits: its session setting covers every write transaction (no statement per commit,
        // and the value goes as a startup parameter, never into SQL text).
        if let synchronousCommit = settings.synchronousCommit {
            writerConfiguration.options.additionalStartupParameters.append(("synchronous_commit", synchronousCommit))
        }
        let writerLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let session = WriterSession(configuration: writerConfiguration, eventLoop: writerLoop.next(), logger: logger)
        let committer = PostgresGroupCommitter(
            session: session, signal: signal,
            observer: { monitor.record($0) })
        let store = PostgresStore(
            settings: settings, client: client, committer: committer, writerLoop: writerLoop, commits: signal,
            health: monitor, logger: logger)
        let run = Task { await client.run() }
        let listen = Task { await PostgresStore.listen(client: client, commits: signal, logger: logger) }
        store.background.withLock { $0 = [run, listen] }
        monitor.probe = {
            _ = try? await committer.submit { tx in
                try (tx as? PostgresTransaction)?.execute("INSERT INTO store_probe (id, filler) VALUES (1, '\\x00') ON CONFLICT (id) DO UPDATE SET filler = excluded.filler")
                try (tx as? PostgresTransaction)?.execute("DELETE FROM store_probe")
            }
        }
        logger.info("store opened", metadata: ["location": "\(settings.location)"])
        return store
    }

    /// LISTENs on `herald_events` and signals `commits` for every notification (commits of any node); when the
    /// connection drops, connects again after a second. Delivery workers poll every second meanwhile.
    static func listen(client: PostgresClient, commits: CommitSignal, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: "herald_events") { notifications in
                        // Anything committed while we were not listening is found by this first wake-up.
                        commits.signal()
                        for try await _ in notifications { commits.signal() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("store: LISTEN connection lost (\(error)); listening again in 1 s")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    public func write<T: Sendable>(_ body: @escaping (inout any StoreTransaction) throws -> T) async throws -> T {
        try await committer.submit(body)
    }

    public func onRollback(_ handler: @escaping @Sendable () -> Void) {
        committer.rollbackObservers.withLock { $0.append(handler) }
    }

    public var commitStatistics: (commits: Int, jobs: Int) {
        committer.statistics.withLock { ($0.commits, $0.jobs) }
    }

    /// Waits for queued writes, then closes every connection.
    public func close() async {
        healthMonitor.stop()
        committer.close()
        for task in background.withLock({ $0 }) { task.cancel() }
        try? await writerLoop.shutdownGracefully()
    }

    /// Tests only: called on the writer thread after a group's events got their sequence numbers (the event
    /// counter's lock is held) and before COMMIT. Set it before writing.
    package func setBeforeCommitHook(_ hook: (@Sendable () -> Void)?) {
        committer.onWriterQueue { $0.beforeCommit = hook }
    }

    // MARK: reads

    /// How long a read waits for a connection of the pool. While PostgreSQL is down, `PostgresClient` keeps a
    /// request waiting until its circuit breaker trips a minute later, and then fails it with a
    /// `ConnectionPoolError`, not a `PSQLError`: the request hung for a minute and got 500. It fails with
    /// `STORE_UNAVAILABLE` after this instead (the pool's connect timeout: a connection that can be had comes sooner).
    static let leaseTimeout: Duration = .seconds(5)

    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let leased = LeaseFlag()
        do {
            return try await withThrowingTaskGroup(of: [PostgresRow]?.self) { group in
                group.addTask {
                    try await self.client.withConnection { connection in
                        leased.value.store(true, ordering: .relaxed)
                        // All rows collected on the event loop, in one answer: iterating the async row sequence
                        // costs a task hop per batch of rows, which made a window of 2,000 events slow to read.
                        let answer: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: self.logger)
                        return try await answer.get().rows
                    }
                }
                group.addTask {
                    try await Task.sleep(for: PostgresStore.leaseTimeout)
                    return nil
                }
                // The rows, or the timer: then give up only if no connection was had (a query that runs may take long).
                while let next = try await group.next() {
                    if let rows = next {
                        group.cancelAll()
                        return rows
                    }
                    if !leased.value.load(ordering: .relaxed) {
                        group.cancelAll()
                        throw StoreError(
                            .unavailable, "PostgreSQL cannot be reached: no connection within \(PostgresStore.leaseTimeout)")
                    }
                }
                throw StoreError(.unavailable, "PostgreSQL cannot be reached: the read ended without an answer")
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as PSQLError {
            throw StoreError.classifyPostgres(error)
        } catch let error as StoreError {
            throw error
        } catch {
            // The pool's own errors (its circuit breaker tripped: no connection could be made for a while).
            throw StoreError(.unavailable, "PostgreSQL cannot be reached: \(error)")
        }
    }

    func value<V: PostgresDecodable>(_ query: PostgresQuery, as type: V.Type) async throws -> V? {
        try await rows(query).first?.decode(V.self)
    }
}

/// Whether a read got its connection (set from the task that runs it, read by the one that times it).
private final class LeaseFlag: Sendable {
    let value = Atomic<Bool>(false)
}

extension PostgresTransaction {
    /// Runs a statement given as text (maintenance and the health probe).
    func execute(_ sql: String) throws {
        try session.writeStatement(PostgresQuery(unsafeSQL: sql))
    }
}

extension PostgresStore {
    public func entity(tenant: String, id: String) async throws -> StoredEntity? {
        try await rows("SELECT version, removed, body, merged_into FROM entities WHERE tenant = \(tenant) AND id = \(id)")
            .first.map(PostgresTransaction.storedEntity)
    }

    public func relation(tenant: String, id: String) async throws -> StoredEntity? {
        try await rows("SELECT version, removed, body, NULL::text FROM relations WHERE tenant = \(tenant) AND id = \(id)")
            .first.map(PostgresTransaction.storedEntity)
    }

    public func potentialMatches(tenant: String, id: String) async throws -> [(String, [String])] {
        try await rows(
            "SELECT other_id, match_rules FROM potential_matches WHERE tenant = \(tenant) AND entity_id = \(id) ORDER BY other_id"
        ).map { row in
            let (other, rules) = try row.decode((String, String).self)
            return (other, rules.split(separator: " ").map(String.init))
        }
    }

    public func entityCount(tenant: String) async throws -> Int {
        Int(try await value("SELECT COUNT(*) FROM entities WHERE tenant = \(tenant) AND NOT removed", as: Int64.self) ?? 0)
    }

    public func entityVersions(tenant: String) async throws -> [String: (version: Int64, removed: Bool)] {
        var out: [String: (version: Int64, removed: Bool)] = [:]
        for row in try await rows("SELECT id, version, removed FROM entities WHERE tenant = \(tenant)") {
            let (id, version, removed) = try row.decode((String, Int64, Bool).self)
            out[id] = (version, removed)
        }
        return out
    }

    public func entityMerges(tenant: String) async throws -> [String: String?] {
        var out: [String: String?] = [:]
        for row in try await rows("SELECT id, merged_into FROM entities WHERE tenant = \(tenant) AND NOT removed") {
            let (id, winner) = try row.decode((String, String?).self)
            out[id] = winner
        }
        return out
    }

    // MARK: event log

    public func events(tenant: String, after: Int64, limit: Int) async throws -> [EventRecord] {
        try await rows(
            """
            SELECT seq, type, object_uri, object_version, time, snapshot, delta, uris, details
            FROM events WHERE tenant = \(tenant) AND seq > \(after) ORDER BY seq LIMIT \(limit)
            """
        ).map { try PostgresStore.decodeEvent($0, tenant: tenant) }
    }

    /// A row of `seq, type, object_uri, object_version, time, snapshot, delta, uris, details` as an event of `tenant`.
    static func decodeEvent(_ row: PostgresRow, tenant: String) throws -> EventRecord {
        let (seq, typeName, uri, version, time, snapshot, delta, uris, details) = try row.decode(
            (Int64, String, String, Int64, Int64, ByteBuffer, ByteBuffer, String, ByteBuffer).self)
        guard let type = EventType(rawValue: typeName) else {
            throw StoreError(.corruptRow, "unknown event type '\(typeName)' at seq \(seq)")
        }
        return EventRecord(
            seq: seq, tenant: tenant,
            event: NewEvent(
                type: type, objectURI: uri, objectVersion: version, time: time,
                snapshot: PostgresTransaction.bytes(snapshot), delta: PostgresTransaction.bytes(delta),
                uris: uris.isEmpty ? [] : uris.split(separator: " ").map(String.init),
                details: PostgresTransaction.bytes(details)))
    }

    public func lastSequence() async throws -> Int64 {
        try await value("SELECT COALESCE(MAX(seq), 0)::int8 FROM events", as: Int64.self) ?? 0
    }

    public func lastSequence(tenant: String) async throws -> Int64 {
        try await value("SELECT COALESCE(MAX(seq), 0)::int8 FROM events WHERE tenant = \(tenant)", as: Int64.self) ?? 0
    }

    public func firstSequence(tenant: String) async throws -> Int64? {
        try await value("SELECT MIN(seq) FROM events WHERE tenant = \(tenant)", as: Int64?.self) ?? nil
    }

    public func queueLength(tenant: String?) async throws -> Int {
        if let tenant {
            return Int(try await value("SELECT COUNT(*) FROM events WHERE tenant = \(tenant)", as: Int64.self) ?? 0)
        }
        return Int(try await value("SELECT COUNT(*) FROM events", as: Int64.self) ?? 0)
    }

    // MARK: delivery ledger

    public func cursor(_ key: DestinationKey) async throws -> Int64? {
        try await value(
            "SELECT seq FROM delivery_cursors WHERE tenant = \(key.tenant) AND destination = \(key.destination)", as: Int64.self)
    }

    public func dueRetries(_ key: DestinationKey, now: Int64, headsOnly: Bool, limit: Int) async throws -> [RetryEntry] {
        let query: PostgresQuery =
            headsOnly
            ? """
            SELECT r.* FROM delivery_retries r
            WHERE r.tenant = \(key.tenant) AND r.destination = \(key.destination) AND r.next_attempt > 0
            AND r.next_attempt <= \(now)
            AND r.seq = (SELECT MIN(seq) FROM delivery_retries WHERE tenant = r.tenant AND destination = r.destination
                         AND message_key = r.message_key)
            ORDER BY r.seq LIMIT \(limit)
            """
            : """
            SELECT * FROM delivery_retries
            WHERE tenant = \(key.tenant) AND destination = \(key.destination) AND next_attempt > 0 AND next_attempt <= \(now)
            ORDER BY seq LIMIT \(limit)
            """
        return try await rows(query).map(PostgresDeadLetterQuery.decodeRetry)
    }

    public func nextRetryTime(_ key: DestinationKey) async throws -> Int64? {
        try await value(
            """
            SELECT MIN(next_attempt) FROM delivery_retries
            WHERE tenant = \(key.tenant) AND destination = \(key.destination) AND next_attempt > 0
            """, as: Int64?.self) ?? nil
    }

    public func retries(_ key: DestinationKey, limit: Int) async throws -> [RetryEntry] {
        try await rows(
            """
            SELECT * FROM delivery_retries WHERE tenant = \(key.tenant) AND destination = \(key.destination)
            ORDER BY seq LIMIT \(Int64(min(limit, Int(Int64.max))))
            """
        ).map(PostgresDeadLetterQuery.decodeRetry)
    }

    public func deadLetters(_ scope: DeliveryScope, afterId: Int64, limit: Int) async throws -> [DeadLetter] {
        try await rows(PostgresDeadLetterQuery.select(scope, ids: nil, afterId: afterId, limit: limit))
            .map(PostgresDeadLetterQuery.decode)
    }

    public func deadLetter(_ scope: DeliveryScope, id: Int64) async throws -> DeadLetter? {
        try await rows(PostgresDeadLetterQuery.select(scope, ids: [id])).first.map(PostgresDeadLetterQuery.decode)
    }

    public func deadLetterCount(_ key: DestinationKey) async throws -> Int {
        Int(
            try await value(
                "SELECT COUNT(*) FROM dead_letters WHERE tenant = \(key.tenant) AND destination = \(key.destination)",
                as: Int64.self) ?? 0)
    }

    public func backlog(_ key: DestinationKey, after cursor: Int64) async throws -> (queued: Int64, retrying: Int, oldestTime: Int64?) {
        // As in SQLite: the next event's time, not MIN(time), which read every queued row.
        let count = try await value(
            "SELECT COUNT(*) FROM events WHERE tenant = \(key.tenant) AND seq > \(cursor)", as: Int64.self)
        let next = try await value(
            "SELECT time FROM events WHERE tenant = \(key.tenant) AND seq > \(cursor) ORDER BY seq LIMIT 1", as: Int64.self)
        let retrying = try await rows(
            """
            SELECT COUNT(*), MIN(COALESCE(e.time, r.first_attempt)) FROM delivery_retries r
            LEFT JOIN events e ON e.seq = r.seq WHERE r.tenant = \(key.tenant) AND r.destination = \(key.destination)
            """
        ).first?.decode((Int64, Int64?).self)
        let times = [next, retrying?.1].compactMap { $0 }
        return (count ?? 0, Int(retrying?.0 ?? 0), times.min())
    }
}
