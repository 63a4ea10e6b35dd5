import Foundation
import GRDB
import HeraldStorage
import HeraldJSON
import HeraldModel

extension SQLiteStore {
    static func decodeStoredEntity(_ row: Row) throws -> StoredEntity {
        let version: Int64 = row[0]
        let removed: Bool = row[1]
        let body: Data = row[2]
        let mergedInto: String? = row.count > 3 ? row[3] : nil
        do {
            let entity = try Entity(storedBytes: [UInt8](body))
            return StoredEntity(entity: entity, version: version, removed: removed, mergedInto: mergedInto)
        } catch {
            throw StoreError(.corruptRow, "stored entity does not parse: \(error)")
        }
    }

    /// The stored entity `id` (removed ones included, flagged), read from a WAL snapshot.
    public func entity(tenant: String, id: String) async throws -> StoredEntity? {
        try await read { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT version, removed, body, merged_into FROM entities WHERE tenant = ? AND id = ?",
                arguments: [tenant, id])
            return try row.map(SQLiteStore.decodeStoredEntity)
        }
    }

    /// Events of `tenant` with `seq > after`, oldest first.
    public func events(tenant: String, after: Int64, limit: Int) async throws -> [EventRecord] {
        try await read { db in
            try SQLiteStore.fetchEvents(db, tenant: tenant, after: after, limit: limit)
        }
    }

    /// Delivery's read: a window of the queue. Through SQLite's C API (`RawStatement`): each blob is copied once,
    /// straight into the event's bytes (through GRDB's rows it was copied into `Data` and again into `[UInt8]`;
    /// delivering 9 KB snapshots, the copies were a quarter of the reader's time).
    static func fetchEvents(_ db: Database, tenant: String, after: Int64, limit: Int) throws -> [EventRecord] {
        let statement = try RawStatement(
            db,
            """
            SELECT seq, type, object_uri, object_version, time, snapshot, delta, uris, details
            FROM events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?
            """)
        defer { statement.reset() }
        statement.bind(1, tenant)
        statement.bind(2, after)
        statement.bind(3, Int64(limit))
        var out: [EventRecord] = []
        out.reserveCapacity(min(limit, 4096))
        while try statement.step() {
            let seq = statement.int64(0)
            let typeName = statement.text(1) ?? ""
            guard let type = EventType(rawValue: typeName) else {
                throw StoreError(.corruptRow, "unknown event type '\(typeName)' at seq \(seq)")
            }
            let uris = statement.text(7) ?? ""
            out.append(
                EventRecord(
                    seq: seq, tenant: tenant,
                    event: NewEvent(
                        type: type, objectURI: statement.text(2) ?? "", objectVersion: statement.int64(3),
                        time: statement.int64(4), snapshot: [UInt8](statement.blob(5)), delta: [UInt8](statement.blob(6)),
                        uris: uris.isEmpty ? [] : uris.split(separator: " ").map(String.init),
                        details: [UInt8](statement.blob(8)))))
        }
        return out
    }

    /// Rows of `seq, type, object_uri, object_version, time, snapshot, delta, uris, details` as events of `tenant`.
    static func decodeEvents(_ statement: Statement, arguments: StatementArguments, tenant: String) throws -> [EventRecord] {
        var out: [EventRecord] = []
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            let typeName: String = row[1]
            guard let type = EventType(rawValue: typeName) else {
                throw StoreError(.corruptRow, "unknown event type '\(typeName)' at seq \(row[0] as Int64)")
            }
            let snapshot: Data = row[5]
            let delta: Data = row[6]
            let uris: String = row[7]
            let details: Data = row[8]
            out.append(
                EventRecord(
                    seq: row[0], tenant: tenant,
                    event: NewEvent(
                        type: type, objectURI: row[2], objectVersion: row[3], time: row[4], snapshot: [UInt8](snapshot),
                        delta: [UInt8](delta), uris: uris.isEmpty ? [] : uris.split(separator: " ").map(String.init),
                        details: [UInt8](details))))
        }
        return out
    }

    /// The highest sequence number in the queue (0 when empty).
    public func lastSequence() async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events") ?? 0
        }
    }

    /// Number of events in the queue for `tenant` (nil: all tenants).
    public func queueLength(tenant: String?) async throws -> Int {
        try await read { db in
            if let tenant {
                return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE tenant = ?", arguments: [tenant]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0
        }
    }

    /// Count of live (not removed) entities of a tenant.
    public func entityCount(tenant: String) async throws -> Int {
        try await read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM entities WHERE tenant = ? AND removed = 0", arguments: [tenant]) ?? 0
        }
    }
}

extension SQLiteStore {
    /// Every entity id of a tenant with its version and removed flag (consistency checks and tests).
    public func entityVersions(tenant: String) async throws -> [String: (version: Int64, removed: Bool)] {
        try await read { db in
            var out: [String: (version: Int64, removed: Bool)] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, version, removed FROM entities WHERE tenant = ?", arguments: [tenant])
            while let row = try rows.next() { out[row[0]] = (row[1], row[2]) }
            return out
        }
    }

    /// Every live entity id of a tenant grouped by nothing: (id, merged into) for quality measurements and tests.
    public func entityMerges(tenant: String) async throws -> [String: String?] {
        try await read { db in
            var out: [String: String?] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, merged_into FROM entities WHERE tenant = ? AND removed = 0", arguments: [tenant])
            while let row = try rows.next() { out[row[0]] = (row[1] as String?) }
            return out
        }
    }

    /// The potential matches recorded for an entity: other id → match group URIs.
    public func potentialMatches(tenant: String, id: String) async throws -> [(String, [String])] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT other_id, match_rules FROM potential_matches WHERE tenant = ? AND entity_id = ? ORDER BY other_id",
                arguments: [tenant, id]
            ).map { row in
                let rules: String = row[1]
                return (row[0], rules.split(separator: " ").map(String.init))
            }
        }
    }
}

extension SQLiteStore {
    /// The oldest sequence number still in the queue for `tenant` (nil when empty).
    public func firstSequence(tenant: String) async throws -> Int64? {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM events WHERE tenant = ?", arguments: [tenant])
        }
    }
}

extension SQLiteTransaction {
    public func deleteEvents(tenant: String, upTo seq: Int64, olderThan time: Int64, limit: Int) throws -> Int {
        try db.execute(
            sql: """
                DELETE FROM events WHERE seq IN (
                    SELECT seq FROM events WHERE tenant = ? AND seq <= ? AND time < ? ORDER BY seq LIMIT ?)
                """, arguments: [tenant, seq, time, limit])
        return db.changesCount
    }
}
