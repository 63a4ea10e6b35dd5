import Foundation
import GRDB
import HeraldStorage
import HeraldJSON
import HeraldModel

extension SQLiteTransaction {
    /// Moves a destination's cursor (creating it if needed).
    public func setCursor(_ key: DestinationKey, seq: Int64, now: Int64) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO delivery_cursors (tenant, destination, seq, updated_time) VALUES (?, ?, ?, ?)
                ON CONFLICT(tenant, destination) DO UPDATE SET seq = excluded.seq, updated_time = excluded.updated_time
                """)
        try statement.execute(arguments: [key.tenant, key.destination, seq, now])
    }

    /// Puts a message into a destination's retry schedule (or updates its entry).
    public func scheduleRetry(_ key: DestinationKey, _ entry: RetryEntry) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO delivery_retries (tenant, destination, seq, message_id, message_key, event_type, object_uri,
                    headers, body, attempts, next_attempt, first_attempt, last_attempt, last_status, last_error, attempt_base)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(tenant, destination, seq) DO UPDATE SET attempts = excluded.attempts,
                    next_attempt = excluded.next_attempt, last_attempt = excluded.last_attempt,
                    last_status = excluded.last_status, last_error = excluded.last_error
                """)
        let m = entry.message
        try statement.execute(arguments: [
            key.tenant, key.destination, m.seq, m.id, m.key, m.eventType, m.objectURI, HeaderCoding.encode(m.headers),
            Data(m.body), entry.attempts, entry.nextAttempt, entry.firstAttempt, entry.lastAttempt, entry.lastStatus,
            entry.lastError, entry.attemptBase,
        ])
    }

    public func deleteRetry(_ key: DestinationKey, seq: Int64) throws {
        let statement = try db.cachedStatement(
            sql: "DELETE FROM delivery_retries WHERE tenant = ? AND destination = ? AND seq = ?")
        try statement.execute(arguments: [key.tenant, key.destination, seq])
    }

    /// Makes the earliest held message of `messageKey` due at `at` (after the message before it finished).
    public func releaseHeld(_ key: DestinationKey, messageKey: String, at: Int64) throws {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE delivery_retries SET next_attempt = ?1
                WHERE tenant = ?2 AND destination = ?3 AND seq = (
                    SELECT MIN(seq) FROM delivery_retries WHERE tenant = ?2 AND destination = ?3 AND message_key = ?4)
                AND next_attempt = 0
                """)
        try statement.execute(arguments: [at, key.tenant, key.destination, messageKey])
    }

    @discardableResult
    public func deadLetter(_ letter: DeadLetter) throws -> Int64 {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO dead_letters (tenant, destination, seq, message_id, message_key, event_type, object_uri,
                    headers, body, status, reason, attempts, first_attempt, last_attempt, plugin, plugin_version, created)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let m = letter.message
        try statement.execute(arguments: [
            letter.key.tenant, letter.key.destination, m.seq, m.id, m.key, m.eventType, m.objectURI,
            HeaderCoding.encode(m.headers), Data(m.body), letter.status, letter.reason, letter.attempts,
            letter.firstAttempt, letter.lastAttempt, letter.plugin, letter.pluginVersion, letter.created,
        ])
        return db.lastInsertedRowID
    }

    /// Moves dead letters back into their destination's retry schedule, due now, with a fresh retry budget; the
    /// attempt number the plugin sees continues from the dead letter's attempts.
    /// - Returns: the number of messages moved.
    @discardableResult
    public func replayDeadLetters(_ scope: DeliveryScope, ids: [Int64]?, now: Int64) throws -> Int {
        let (sql, arguments) = DeadLetterQuery.select(scope, ids: ids)
        let letters = try Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteStore.decodeDeadLetter)
        for letter in letters {
            try scheduleRetry(
                letter.key,
                RetryEntry(
                    message: letter.message, attempts: 0, attemptBase: letter.attempts, nextAttempt: now,
                    firstAttempt: now, lastAttempt: now,
                    lastStatus: "REPLAYED", lastError: "replayed from the dead-letter queue (was: \(letter.reason))"))
            try db.execute(sql: "DELETE FROM dead_letters WHERE id = ?", arguments: [letter.id])
        }
        return letters.count
    }

    /// Deletes dead letters. - Returns: how many.
    @discardableResult
    public func purgeDeadLetters(_ scope: DeliveryScope, ids: [Int64]?) throws -> Int {
        let (sql, arguments) = DeadLetterQuery.delete(scope, ids: ids)
        try db.execute(sql: sql, arguments: arguments)
        return db.changesCount
    }
}

/// The WHERE clause of every dead-letter selection: always the tenant, then the destination and ids if given.
enum DeadLetterQuery {
    static func select(_ scope: DeliveryScope, ids: [Int64]?, afterId: Int64? = nil, limit: Int? = nil)
        -> (String, StatementArguments)
    {
        var (sql, arguments) = filter("SELECT * FROM dead_letters", scope, ids: ids)
        if let afterId {
            sql += " AND id > ?"
            arguments += [afterId]
        }
        sql += " ORDER BY id"
        if let limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        return (sql, arguments)
    }

    static func delete(_ scope: DeliveryScope, ids: [Int64]?) -> (String, StatementArguments) {
        filter("DELETE FROM dead_letters", scope, ids: ids)
    }

    private static func filter(_ head: String, _ scope: DeliveryScope, ids: [Int64]?) -> (String, StatementArguments) {
        var sql = head + " WHERE tenant = ?"
        var arguments: StatementArguments = [scope.tenant]
        if let destination = scope.destination {
            sql += " AND destination = ?"
            arguments += [destination]
        }
        if let ids {
            sql += " AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(ids)
        }
        return (sql, arguments)
    }
}

extension SQLiteStore {
    static func decodeDeadLetter(_ row: Row) -> DeadLetter {
        let body: Data = row["body"]
        return DeadLetter(
            id: row["id"], key: DestinationKey(tenant: row["tenant"], destination: row["destination"]),
            message: DeliveryMessage(
                seq: row["seq"], id: row["message_id"], key: row["message_key"], eventType: row["event_type"],
                objectURI: row["object_uri"], headers: HeaderCoding.decode(row["headers"]), body: [UInt8](body)),
            status: row["status"], reason: row["reason"], attempts: row["attempts"], firstAttempt: row["first_attempt"],
            lastAttempt: row["last_attempt"], plugin: row["plugin"], pluginVersion: row["plugin_version"],
            created: row["created"])
    }

    static func decodeRetry(_ row: Row) -> RetryEntry {
        let body: Data = row["body"]
        return RetryEntry(
            message: DeliveryMessage(
                seq: row["seq"], id: row["message_id"], key: row["message_key"], eventType: row["event_type"],
                objectURI: row["object_uri"], headers: HeaderCoding.decode(row["headers"]), body: [UInt8](body)),
            attempts: row["attempts"], attemptBase: row["attempt_base"], nextAttempt: row["next_attempt"],
            firstAttempt: row["first_attempt"],
            lastAttempt: row["last_attempt"], lastStatus: row["last_status"], lastError: row["last_error"])
    }

    /// A destination's cursor, or nil when it has none yet.
    public func cursor(_ key: DestinationKey) async throws -> Int64? {
        try await read { db in
            try Int64.fetchOne(
                db, sql: "SELECT seq FROM delivery_cursors WHERE tenant = ? AND destination = ?",
                arguments: [key.tenant, key.destination])
        }
    }

    /// Retries due at `now`. With `headsOnly`, only the earliest entry of each message key (per-entity ordering).
    public func dueRetries(_ key: DestinationKey, now: Int64, headsOnly: Bool, limit: Int) async throws -> [RetryEntry] {
        try await read { db in
            let sql =
                headsOnly
                ? """
                SELECT r.* FROM delivery_retries r
                WHERE r.tenant = ? AND r.destination = ? AND r.next_attempt > 0 AND r.next_attempt <= ?
                AND r.seq = (SELECT MIN(seq) FROM delivery_retries WHERE tenant = r.tenant AND destination = r.destination
                             AND message_key = r.message_key)
                ORDER BY r.seq LIMIT ?
                """
                : """
                SELECT * FROM delivery_retries
                WHERE tenant = ? AND destination = ? AND next_attempt > 0 AND next_attempt <= ?
                ORDER BY seq LIMIT ?
                """
            return try Row.fetchAll(db, sql: sql, arguments: [key.tenant, key.destination, now, limit])
                .map(SQLiteStore.decodeRetry)
        }
    }

    /// The earliest next-attempt time in a destination's retry schedule (nil when empty).
    public func nextRetryTime(_ key: DestinationKey) async throws -> Int64? {
        try await read { db in
            try Int64.fetchOne(
                db,
                sql: "SELECT MIN(next_attempt) FROM delivery_retries WHERE tenant = ? AND destination = ? AND next_attempt > 0",
                arguments: [key.tenant, key.destination])
        }
    }

    /// Messages in a destination's retry schedule, oldest first.
    public func retries(_ key: DestinationKey, limit: Int) async throws -> [RetryEntry] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM delivery_retries WHERE tenant = ? AND destination = ? ORDER BY seq LIMIT ?",
                arguments: [key.tenant, key.destination, limit]
            ).map(SQLiteStore.decodeRetry)
        }
    }

    /// Dead letters in `scope`, oldest first, after `afterId`.
    public func deadLetters(_ scope: DeliveryScope, afterId: Int64, limit: Int) async throws -> [DeadLetter] {
        try await read { db in
            let (sql, arguments) = DeadLetterQuery.select(scope, ids: nil, afterId: afterId, limit: limit)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteStore.decodeDeadLetter)
        }
    }

    /// One dead letter of a tenant.
    public func deadLetter(_ scope: DeliveryScope, id: Int64) async throws -> DeadLetter? {
        try await read { db in
            let (sql, arguments) = DeadLetterQuery.select(scope, ids: [id])
            return try Row.fetchOne(db, sql: sql, arguments: arguments).map(SQLiteStore.decodeDeadLetter)
        }
    }

    public func deadLetterCount(_ key: DestinationKey) async throws -> Int {
        try await read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM dead_letters WHERE tenant = ? AND destination = ?",
                arguments: [key.tenant, key.destination]) ?? 0
        }
    }

    /// What a destination has not yet delivered or dead-lettered: the tenant's events after `cursor`, the
    /// retry schedule (held messages included), and the oldest time among the next event after `cursor` and
    /// the retries (a retry's event time, or its first attempt when compaction removed the event).
    ///
    /// The next event's time stands for the queue's: events get their time in the write that gives them
    /// their `seq`. The count reads the `events_tenant_seq` index only, and the next event is one row.
    /// `MIN(time)` over the events after the cursor read the row of every one of them, each time the status
    /// or `/metrics` was asked for (about 2 KB per queued event: 410 MB with 200,000 queued).
    public func backlog(_ key: DestinationKey, after cursor: Int64) async throws
        -> (queued: Int64, retrying: Int, oldestTime: Int64?)
    {
        try await read { db in try SQLiteStore.backlog(db, key, after: cursor) }
    }

    static func backlog(_ db: Database, _ key: DestinationKey, after cursor: Int64) throws
        -> (queued: Int64, retrying: Int, oldestTime: Int64?)
    {
        let count = try Int64.fetchOne(
            db, sql: "SELECT COUNT(*) FROM events WHERE tenant = ? AND seq > ?", arguments: [key.tenant, cursor])
        let next = try Int64.fetchOne(
            db, sql: "SELECT time FROM events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT 1",
            arguments: [key.tenant, cursor])
        let retrying = try Row.fetchOne(
            db,
            sql: """
                SELECT COUNT(*), MIN(COALESCE(e.time, r.first_attempt)) FROM delivery_retries r
                LEFT JOIN events e ON e.seq = r.seq WHERE r.tenant = ? AND r.destination = ?
                """,
            arguments: [key.tenant, key.destination])
        let times = [next, retrying?[1] as Int64?].compactMap { $0 }
        return (count ?? 0, retrying?[0] ?? 0, times.min())
    }

    /// The highest sequence number of a tenant (0 when it has no events).
    public func lastSequence(tenant: String) async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant = ?", arguments: [tenant])
                ?? 0
        }
    }
}
