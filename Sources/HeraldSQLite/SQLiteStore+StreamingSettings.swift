import GRDB
import HeraldModel
import HeraldStorage

/// The management API's settings on SQLite: overrides, pauses and the audit list (decision 0014). Every write goes
/// through the store's writer with its audit line, in one transaction.
extension SQLiteStore {
    public func streamingOverrides() async throws -> StreamingOverrides {
        try await read { db in
            let overrides = try Row.fetchAll(
                db,
                sql: """
                    SELECT tenant, kind, id, body, base, updated_by, updated_at FROM streaming_overrides
                    ORDER BY tenant, kind, id
                    """
            ).compactMap { row -> StreamingOverride? in
                guard let kind = StreamingSettingKey.Kind(rawValue: row[1]) else { return nil }
                return StreamingOverride(
                    key: StreamingSettingKey(tenant: row[0], kind: kind, id: row[2]), body: row[3], base: row[4],
                    updatedBy: row[5], updatedAt: row[6])
            }
            let pauses = try Row.fetchAll(
                db,
                sql: "SELECT tenant, destination, paused_by, paused_at FROM destination_pauses ORDER BY tenant, destination"
            ).map { row in
                DestinationPause(
                    key: DestinationKey(tenant: row[0], destination: row[1]), pausedBy: row[2], pausedAt: row[3])
            }
            return StreamingOverrides(overrides: overrides, pauses: pauses)
        }
    }

    public func saveStreamingOverride(
        _ key: StreamingSettingKey, _ override: StreamingOverride?, change: StreamingChange
    ) async throws {
        precondition(override.map { $0.key == key } ?? true, "an override is saved under its own key")
        try await committer.submit { db in
            if let o = override {
                try db.execute(
                    sql: """
                        INSERT INTO streaming_overrides (tenant, kind, id, body, base, updated_by, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(tenant, kind, id) DO UPDATE SET body = excluded.body, base = excluded.base,
                            updated_by = excluded.updated_by, updated_at = excluded.updated_at
                        """,
                    arguments: [key.tenant, key.kind.rawValue, key.id, o.body, o.base, o.updatedBy, o.updatedAt])
            } else {
                try db.execute(
                    sql: "DELETE FROM streaming_overrides WHERE tenant = ? AND kind = ? AND id = ?",
                    arguments: [key.tenant, key.kind.rawValue, key.id])
            }
            try SQLiteStore.insertChange(db, change)
        }
    }

    public func savePause(_ key: DestinationKey, _ pause: DestinationPause?, change: StreamingChange) async throws {
        try await committer.submit { db in
            if let pause {
                try db.execute(
                    sql: """
                        INSERT INTO destination_pauses (tenant, destination, paused_by, paused_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT(tenant, destination) DO UPDATE SET paused_by = excluded.paused_by,
                            paused_at = excluded.paused_at
                        """, arguments: [key.tenant, key.destination, pause.pausedBy, pause.pausedAt])
            } else {
                try db.execute(
                    sql: "DELETE FROM destination_pauses WHERE tenant = ? AND destination = ?",
                    arguments: [key.tenant, key.destination])
            }
            try SQLiteStore.insertChange(db, change)
        }
    }

    public func streamingChanges(tenant: String, beforeId: Int64?, limit: Int) async throws -> [StreamingChange] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, tenant, at, actor, action, kind, target, before, after FROM streaming_changes
                    WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?
                    """, arguments: [tenant, beforeId ?? Int64.max, limit]
            ).map { row in
                StreamingChange(
                    id: row[0], tenant: row[1], at: row[2], actor: row[3], action: row[4], kind: row[5], target: row[6],
                    before: row[7], after: row[8])
            }
        }
    }

    public func seekCursor(_ key: DestinationKey, to seq: Int64, lease: LeaseFence, change: StreamingChange) async throws {
        try await committer.submit { db in
            let held = try Bool.fetchOne(
                db,
                sql: """
                    SELECT 1 FROM delivery_leases
                    WHERE tenant = ? AND destination = ? AND holder = ? AND token = ? AND expires > \(SQLiteStore.nowMs)
                    """, arguments: [key.tenant, key.destination, lease.holder.rawValue, lease.token])
            guard held != nil else {
                throw StoreError(.leaseLost, "the lease on \(key) is no longer \(lease) (lapsed or taken by another node)")
            }
            try db.execute(
                sql: """
                    INSERT INTO delivery_cursors (tenant, destination, seq, updated_time) VALUES (?, ?, ?, ?)
                    ON CONFLICT(tenant, destination) DO UPDATE SET seq = excluded.seq, updated_time = excluded.updated_time
                    """, arguments: [key.tenant, key.destination, seq, change.at])
            try db.execute(
                sql: "DELETE FROM delivery_retries WHERE tenant = ? AND destination = ?",
                arguments: [key.tenant, key.destination])
            try SQLiteStore.insertChange(db, change)
        }
    }

    public func firstEventSeq(tenant: String, atOrAfter time: Int64) async throws -> Int64? {
        try await read { db in
            try Int64.fetchOne(
                db, sql: "SELECT seq FROM events WHERE tenant = ? AND time >= ? ORDER BY seq LIMIT 1",
                arguments: [tenant, time])
        }
    }

    static func insertChange(_ db: Database, _ c: StreamingChange) throws {
        try db.execute(
            sql: """
                INSERT INTO streaming_changes (tenant, at, actor, action, kind, target, before, after)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [c.tenant, c.at, c.actor, c.action, c.kind, c.target, c.before, c.after])
    }
}
