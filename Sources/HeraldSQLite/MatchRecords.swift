import Foundation
import GRDB
import HeraldStorage
import HeraldModel

/// Match tokens, potential matches, not-a-match pairs and merge history (the match-and-merge stage's tables).
extension SQLiteTransaction {
    /// Makes the entity's match keys exactly `keys`.
    public func replaceMatchKeys(tenant: String, entityId: String, keys: Set<Int64>) throws {
        let read = try RawStatement(db, "SELECT keys FROM match_key_sets WHERE tenant = ? AND entity_id = ?")
        read.bind(1, tenant)
        read.bind(2, entityId)
        let existing = try read.step() ? MatchKey.decode(read.blob(0)) : []
        read.reset()
        if existing == keys { return }
        let delete = try RawStatement(db, "DELETE FROM match_keys WHERE tenant = ? AND key = ? AND entity_id = ?")
        for key in existing.subtracting(keys) {
            delete.bind(1, tenant)
            delete.bind(2, key)
            delete.bind(3, entityId)
            try delete.run()
        }
        let insert = try RawStatement(db, "INSERT OR IGNORE INTO match_keys (tenant, key, entity_id) VALUES (?, ?, ?)")
        for key in keys.subtracting(existing) {
            insert.bind(1, tenant)
            insert.bind(2, key)
            insert.bind(3, entityId)
            try insert.run()
        }
        if keys.isEmpty {
            try db.cachedStatement(sql: "DELETE FROM match_key_sets WHERE tenant = ? AND entity_id = ?")
                .execute(arguments: [tenant, entityId])
        } else {
            let set = try RawStatement(db, "INSERT OR REPLACE INTO match_key_sets (tenant, entity_id, keys) VALUES (?, ?, ?)")
            set.bind(1, tenant)
            set.bind(2, entityId)
            set.bind(3, blob: MatchKey.encode(keys))
            try set.run()
        }
    }

    public func entitiesSharing(tenant: String, key: Int64, limit: Int) throws -> [String] {
        let select = try RawStatement(db, "SELECT entity_id FROM match_keys WHERE tenant = ? AND key = ? LIMIT ?")
        defer { select.reset() }
        select.bind(1, tenant)
        select.bind(2, key)
        select.bind(3, Int64(limit))
        var ids: [String] = []
        while try select.step() {
            if let id = select.text(0) { ids.append(id) }
        }
        return ids
    }

    /// The recorded potential matches of an entity: other id → match group URIs.
    public func potentialMatches(tenant: String, entityId: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT other_id, match_rules FROM potential_matches WHERE tenant = ? AND entity_id = ?"),
            arguments: [tenant, entityId])
        for row in rows {
            let rules: String = row[1]
            out[row[0]] = rules.split(separator: " ").map(String.init)
        }
        return out
    }

    /// Records (or updates) a potential match in both directions.
    public func setPotentialMatch(tenant: String, _ a: String, _ b: String, rules: [String]) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO potential_matches (tenant, entity_id, other_id, match_rules) VALUES (?, ?, ?, ?)
                ON CONFLICT(tenant, entity_id, other_id) DO UPDATE SET match_rules = excluded.match_rules
                """)
        let text = rules.joined(separator: " ")
        try statement.execute(arguments: [tenant, a, b, text])
        try statement.execute(arguments: [tenant, b, a, text])
    }

    public func removePotentialMatch(tenant: String, _ a: String, _ b: String) throws {
        let statement = try db.cachedStatement(
            sql: "DELETE FROM potential_matches WHERE tenant = ? AND entity_id = ? AND other_id = ?")
        try statement.execute(arguments: [tenant, a, b])
        try statement.execute(arguments: [tenant, b, a])
    }

    public func isNotMatch(tenant: String, _ a: String, _ b: String) throws -> Bool {
        let (x, y) = a < b ? (a, b) : (b, a)
        let select = try RawStatement(db, "SELECT 1 FROM not_matches WHERE tenant = ? AND a = ? AND b = ?")
        defer { select.reset() }
        select.bind(1, tenant)
        select.bind(2, x)
        select.bind(3, y)
        return try select.step()
    }

    public func addNotMatch(tenant: String, _ a: String, _ b: String) throws {
        let (x, y) = a < b ? (a, b) : (b, a)
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO not_matches (tenant, a, b) VALUES (?, ?, ?)").execute(
            arguments: [tenant, x, y])
    }

    public func removeNotMatch(tenant: String, _ a: String, _ b: String) throws {
        let (x, y) = a < b ? (a, b) : (b, a)
        try db.cachedStatement(sql: "DELETE FROM not_matches WHERE tenant = ? AND a = ? AND b = ?").execute(
            arguments: [tenant, x, y])
    }

    /// Marks `loser` as merged into `winner` (nil: live again) and records its version.
    public func setMergedInto(tenant: String, id: String, winner: String?, version: Int64, body: [UInt8]) throws {
        try db.cachedStatement(
            sql: "UPDATE entities SET merged_into = ?, version = ?, body = ? WHERE tenant = ? AND id = ?"
        ).execute(arguments: [winner, version, Data(body), tenant, id])
    }

    /// Points a crosswalk at another entity (merge and unmerge).
    public func repointCrosswalk(tenant: String, key: CrosswalkKey, entityId: String) throws {
        try db.cachedStatement(
            sql: "UPDATE crosswalks SET entity_id = ? WHERE tenant = ? AND type = ? AND value = ? AND source_table = ?"
        ).execute(arguments: [entityId, tenant, key.type, key.value, key.sourceTable])
    }

    /// Remembers what a loser was when it merged, so that unmerge can restore it.
    public func recordMerge(tenant: String, loser: Entity, winner: String, time: Int64, user: String, matchRules: [String]) throws {
        let keys = loser.crosswalks.map { "\($0.type)\u{1F}\($0.value)\u{1F}\($0.sourceTable ?? "")" }.joined(separator: "\u{1E}")
        try db.cachedStatement(
            sql: """
                INSERT INTO merges (tenant, loser, winner, loser_snapshot, crosswalk_keys, time, merged_by, match_rules)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(tenant, loser) DO UPDATE SET winner = excluded.winner, loser_snapshot = excluded.loser_snapshot,
                    crosswalk_keys = excluded.crosswalk_keys, time = excluded.time, merged_by = excluded.merged_by,
                    match_rules = excluded.match_rules
                """
        ).execute(arguments: [
            tenant, loser.id, winner, Data(loser.storedBytes()), keys, time, user, matchRules.joined(separator: " "),
        ])
    }

    /// The merge that made `loser` lose: its winner, its snapshot then, and its crosswalks then.
    public func mergeRecord(tenant: String, loser: String) throws -> (winner: String, snapshot: Entity, crosswalks: Set<CrosswalkKey>)? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT winner, loser_snapshot, crosswalk_keys FROM merges WHERE tenant = ? AND loser = ?"),
                arguments: [tenant, loser])
        else { return nil }
        let body: Data = row[1]
        let text: String = row[2]
        var keys = Set<CrosswalkKey>()
        for item in text.split(separator: "\u{1E}") {
            let parts = item.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3 { keys.insert(CrosswalkKey(type: parts[0], value: parts[1], sourceTable: parts[2])) }
        }
        return (row[0], try Entity(storedBytes: [UInt8](body)), keys)
    }

    public func deleteMergeRecord(tenant: String, loser: String) throws {
        try db.cachedStatement(sql: "DELETE FROM merges WHERE tenant = ? AND loser = ?").execute(arguments: [tenant, loser])
    }

    /// Losers merged directly into `winner`.
    public func losers(tenant: String, winner: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT loser FROM merges WHERE tenant = ? AND winner = ?"), arguments: [tenant, winner])
    }
}

