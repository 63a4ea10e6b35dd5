import Foundation
import GRDB
import HeraldJSON
import HeraldModel

/// A message waiting in the retry schedule.
public struct RetryEntry: Sendable {
    public var message: DeliveryMessage
    /// Attempts made so far.
    public var attempts: Int
    /// Epoch ms of the next attempt; 0 when held behind an earlier message with the same key.
    public var nextAttempt: Int64
    public var firstAttempt: Int64
    public var lastAttempt: Int64
    public var lastStatus: String
    public var lastError: String

    public init(
        message: DeliveryMessage, attempts: Int, nextAttempt: Int64, firstAttempt: Int64, lastAttempt: Int64,
        lastStatus: String, lastError: String
    ) {
        self.message = message
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.firstAttempt = firstAttempt
        self.lastAttempt = lastAttempt
        self.lastStatus = lastStatus
        self.lastError = lastError
    }
}

/// A dead-lettered message with why it failed.
public struct DeadLetter: Sendable {
    public var id: Int64
    public var tenant: String
    public var destination: String
    public var message: DeliveryMessage
    /// PERMANENT, TOO_LARGE or RETRIES_EXHAUSTED.
    public var status: String
    public var reason: String
    public var attempts: Int
    public var firstAttempt: Int64
    public var lastAttempt: Int64
    public var plugin: String
    public var pluginVersion: String
    public var created: Int64

    public init(
        id: Int64 = 0, tenant: String, destination: String, message: DeliveryMessage, status: String, reason: String,
        attempts: Int, firstAttempt: Int64, lastAttempt: Int64, plugin: String, pluginVersion: String, created: Int64
    ) {
        self.id = id
        self.tenant = tenant
        self.destination = destination
        self.message = message
        self.status = status
        self.reason = reason
        self.attempts = attempts
        self.firstAttempt = firstAttempt
        self.lastAttempt = lastAttempt
        self.plugin = plugin
        self.pluginVersion = pluginVersion
        self.created = created
    }
}

enum HeaderCoding {
    static func encode(_ headers: [MessageHeader]) -> String {
        var w = JSONWriter(capacity: 256)
        w.beginArray()
        for h in headers {
            w.beginArray()
            w.string(h.name)
            w.string(h.value)
            w.endArray()
        }
        w.endArray()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func decode(_ text: String) -> [MessageHeader] {
        guard case .array(let pairs)? = try? JSONParser.parse(text) else { return [] }
        return pairs.compactMap { pair in
            guard let p = pair.arrayValue, p.count == 2, let n = p[0].stringValue, let v = p[1].stringValue else {
                return nil
            }
            return MessageHeader(n, v)
        }
    }
}

extension WriteTransaction {
    /// Puts a message into the retry schedule (or updates its entry).
    public func scheduleRetry(destination: String, _ entry: RetryEntry) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO delivery_retries (destination, seq, message_id, message_key, event_type, object_uri, headers,
                    body, attempts, next_attempt, first_attempt, last_attempt, last_status, last_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(destination, seq) DO UPDATE SET attempts = excluded.attempts,
                    next_attempt = excluded.next_attempt, last_attempt = excluded.last_attempt,
                    last_status = excluded.last_status, last_error = excluded.last_error
                """)
        let m = entry.message
        try statement.execute(arguments: [
            destination, m.seq, m.id, m.key, m.eventType, m.objectURI, HeaderCoding.encode(m.headers), Data(m.body),
            entry.attempts, entry.nextAttempt, entry.firstAttempt, entry.lastAttempt, entry.lastStatus,
            entry.lastError,
        ])
    }

    public func deleteRetry(destination: String, seq: Int64) throws {
        let statement = try db.cachedStatement(sql: "DELETE FROM delivery_retries WHERE destination = ? AND seq = ?")
        try statement.execute(arguments: [destination, seq])
    }

    /// Makes the earliest held message of `key` due at `at` (after the message before it finished).
    public func releaseHeld(destination: String, key: String, at: Int64) throws {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE delivery_retries SET next_attempt = ?
                WHERE destination = ? AND seq = (
                    SELECT MIN(seq) FROM delivery_retries WHERE destination = ? AND message_key = ?)
                AND next_attempt = 0
                """)
        try statement.execute(arguments: [at, destination, destination, key])
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
            letter.tenant, letter.destination, m.seq, m.id, m.key, m.eventType, m.objectURI,
            HeaderCoding.encode(m.headers), Data(m.body), letter.status, letter.reason, letter.attempts,
            letter.firstAttempt, letter.lastAttempt, letter.plugin, letter.pluginVersion, letter.created,
        ])
        return db.lastInsertedRowID
    }

    /// Moves dead letters back into the retry schedule, due now, with their attempt count reset.
    /// - Returns: the number of messages moved.
    @discardableResult
    public func replayDeadLetters(tenant: String, destination: String?, ids: [Int64]?, now: Int64) throws -> Int {
        var sql = "SELECT * FROM dead_letters WHERE tenant = ?"
        var arguments: StatementArguments = [tenant]
        if let destination {
            sql += " AND destination = ?"
            arguments += [destination]
        }
        if let ids {
            sql += " AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(ids)
        }
        let letters = try Row.fetchAll(db, sql: sql, arguments: arguments).map(HeraldStore.decodeDeadLetter)
        for letter in letters {
            try scheduleRetry(
                destination: letter.destination,
                RetryEntry(
                    message: letter.message, attempts: 0, nextAttempt: now, firstAttempt: now, lastAttempt: now,
                    lastStatus: "REPLAYED", lastError: "replayed from the dead-letter queue (was: \(letter.reason))"))
            try db.execute(sql: "DELETE FROM dead_letters WHERE id = ?", arguments: [letter.id])
        }
        return letters.count
    }

    /// Deletes dead letters. - Returns: how many.
    @discardableResult
    public func purgeDeadLetters(tenant: String, destination: String?, ids: [Int64]?) throws -> Int {
        var sql = "DELETE FROM dead_letters WHERE tenant = ?"
        var arguments: StatementArguments = [tenant]
        if let destination {
            sql += " AND destination = ?"
            arguments += [destination]
        }
        if let ids {
            sql += " AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(ids)
        }
        try db.execute(sql: sql, arguments: arguments)
        return db.changesCount
    }
}

extension HeraldStore {
    static func decodeDeadLetter(_ row: Row) -> DeadLetter {
        let body: Data = row["body"]
        return DeadLetter(
            id: row["id"], tenant: row["tenant"], destination: row["destination"],
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
            attempts: row["attempts"], nextAttempt: row["next_attempt"], firstAttempt: row["first_attempt"],
            lastAttempt: row["last_attempt"], lastStatus: row["last_status"], lastError: row["last_error"])
    }

    /// Retries due at `now`. With `headsOnly`, only the earliest entry of each key (per-entity ordering).
    public func dueRetries(destination: String, now: Int64, headsOnly: Bool, limit: Int) async throws -> [RetryEntry] {
        try await pool.read { db in
            let sql =
                headsOnly
                ? """
                SELECT r.* FROM delivery_retries r
                WHERE r.destination = ? AND r.next_attempt > 0 AND r.next_attempt <= ?
                AND r.seq = (SELECT MIN(seq) FROM delivery_retries WHERE destination = r.destination
                             AND message_key = r.message_key)
                ORDER BY r.seq LIMIT ?
                """
                : """
                SELECT * FROM delivery_retries WHERE destination = ? AND next_attempt > 0 AND next_attempt <= ?
                ORDER BY seq LIMIT ?
                """
            return try Row.fetchAll(db, sql: sql, arguments: [destination, now, limit]).map(HeraldStore.decodeRetry)
        }
    }

    /// The earliest next-attempt time in a destination's retry schedule (nil when empty).
    public func nextRetryTime(destination: String) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT MIN(next_attempt) FROM delivery_retries WHERE destination = ? AND next_attempt > 0",
                arguments: [destination])
        }
    }

    /// Keys that have messages in the retry schedule (later messages of these keys must wait).
    public func keysWithRetries(destination: String) async throws -> Set<String> {
        try await pool.read { db in
            Set(
                try String.fetchAll(
                    db, sql: "SELECT DISTINCT message_key FROM delivery_retries WHERE destination = ?",
                    arguments: [destination]))
        }
    }

    /// Number of messages in a destination's retry schedule.
    public func retryCount(destination: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM delivery_retries WHERE destination = ?", arguments: [destination])
                ?? 0
        }
    }

    public func retries(destination: String, limit: Int) async throws -> [RetryEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM delivery_retries WHERE destination = ? ORDER BY seq LIMIT ?",
                arguments: [destination, limit]
            ).map(HeraldStore.decodeRetry)
        }
    }

    /// Dead letters of a tenant, oldest first, after `afterId`.
    public func deadLetters(tenant: String, destination: String?, afterId: Int64, limit: Int) async throws
        -> [DeadLetter]
    {
        try await pool.read { db in
            var sql = "SELECT * FROM dead_letters WHERE tenant = ? AND id > ?"
            var arguments: StatementArguments = [tenant, afterId]
            if let destination {
                sql += " AND destination = ?"
                arguments += [destination]
            }
            sql += " ORDER BY id LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(HeraldStore.decodeDeadLetter)
        }
    }

    public func deadLetter(tenant: String, id: Int64) async throws -> DeadLetter? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM dead_letters WHERE tenant = ? AND id = ?", arguments: [tenant, id])
                .map(HeraldStore.decodeDeadLetter)
        }
    }

    public func deadLetterCount(tenant: String, destination: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM dead_letters WHERE tenant = ? AND destination = ?",
                arguments: [tenant, destination]) ?? 0
        }
    }

    /// The time of the first event after `seq` (for lag in seconds), nil when there is none.
    public func eventTime(tenant: String, after seq: Int64) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT time FROM events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT 1",
                arguments: [tenant, seq])
        }
    }

    /// The highest sequence number of a tenant (0 when it has no events).
    public func lastSequence(tenant: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant = ?", arguments: [tenant])
                ?? 0
        }
    }

    /// Whether a consumer has a cursor yet.
    public func hasCursor(consumer: String) async throws -> Bool {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM cursors WHERE consumer = ?", arguments: [consumer]) != nil
        }
    }
}
