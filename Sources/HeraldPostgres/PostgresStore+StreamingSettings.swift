import HeraldModel
import HeraldStorage
import PostgresNIO

/// The management API's settings on PostgreSQL: overrides, pauses and the audit list (decision 0014). Each write is
/// one statement (the change and its audit line in data-modifying CTEs), so it commits whole or not at all, on the
/// reader pool: the writer's group commit is for ingest.
extension PostgresStore {
    public func streamingOverrides() async throws -> StreamingOverrides {
        let overrides = try await rows(
            "SELECT tenant, kind, id, body, base, updated_by, updated_at FROM streaming_overrides ORDER BY tenant, kind, id"
        ).compactMap { row -> StreamingOverride? in
            let (tenant, kind, id, body, base, by, at) = try row.decode(
                (String, String, String, String?, String?, String, Int64).self)
            guard let kind = StreamingSettingKey.Kind(rawValue: kind) else { return nil }
            return StreamingOverride(
                key: StreamingSettingKey(tenant: tenant, kind: kind, id: id), body: body, base: base, updatedBy: by,
                updatedAt: at)
        }
        let pauses = try await rows(
            "SELECT tenant, destination, paused_by, paused_at FROM destination_pauses ORDER BY tenant, destination"
        ).map { row in
            let (tenant, destination, by, at) = try row.decode((String, String, String, Int64).self)
            return DestinationPause(key: DestinationKey(tenant: tenant, destination: destination), pausedBy: by, pausedAt: at)
        }
        return StreamingOverrides(overrides: overrides, pauses: pauses)
    }

    public func saveStreamingOverride(
        _ key: StreamingSettingKey, _ override: StreamingOverride?, change c: StreamingChange
    ) async throws {
        precondition(override.map { $0.key == key } ?? true, "an override is saved under its own key")
        let (tenant, kind, id) = (key.tenant, key.kind.rawValue, key.id)
        if let o = override {
            _ = try await rows(
                """
                WITH audit AS (
                    INSERT INTO streaming_changes (tenant, at, actor, action, kind, target, before, after)
                    VALUES (\(c.tenant), \(c.at), \(c.actor), \(c.action), \(c.kind), \(c.target), \(c.before), \(c.after)))
                INSERT INTO streaming_overrides (tenant, kind, id, body, base, updated_by, updated_at)
                VALUES (\(tenant), \(kind), \(id), \(o.body), \(o.base), \(o.updatedBy), \(o.updatedAt))
                ON CONFLICT (tenant, kind, id) DO UPDATE SET body = excluded.body, base = excluded.base,
                    updated_by = excluded.updated_by, updated_at = excluded.updated_at
                """)
        } else {
            _ = try await rows(
                """
                WITH audit AS (
                    INSERT INTO streaming_changes (tenant, at, actor, action, kind, target, before, after)
                    VALUES (\(c.tenant), \(c.at), \(c.actor), \(c.action), \(c.kind), \(c.target), \(c.before), \(c.after)))
                DELETE FROM streaming_overrides WHERE tenant = \(tenant) AND kind = \(kind) AND id = \(id)
                """)
        }
    }

    public func savePause(_ key: DestinationKey, _ pause: DestinationPause?, change c: StreamingChange) async throws {
        let (tenant, destination) = (key.tenant, key.destination)
        if let pause {
            _ = try await rows(
                """
                WITH audit AS (
                    INSERT INTO streaming_changes (tenant, at, actor, action, kind, target, before, after)
                    VALUES (\(c.tenant), \(c.at), \(c.actor), \(c.action), \(c.kind), \(c.target), \(c.before), \(c.after)))
                INSERT INTO destination_pauses (tenant, destination, paused_by, paused_at)
                VALUES (\(tenant), \(destination), \(pause.pausedBy), \(pause.pausedAt))
                ON CONFLICT (tenant, destination) DO UPDATE SET paused_by = excluded.paused_by, paused_at = excluded.paused_at
                """)
        } else {
            _ = try await rows(
                """
                WITH audit AS (
                    INSERT INTO streaming_changes (tenant, at, actor, action, kind, target, before, after)
                    VALUES (\(c.tenant), \(c.at), \(c.actor), \(c.action), \(c.kind), \(c.target), \(c.before), \(c.after)))
                DELETE FROM destination_pauses WHERE tenant = \(tenant) AND destination = \(destination)
                """)
        }
    }

    public func streamingChanges(tenant: String, beforeId: Int64?, limit: Int) async throws -> [StreamingChange] {
        let before = beforeId ?? Int64.max
        return try await rows(
            """
            SELECT id, tenant, at, actor, action, kind, target, before, after FROM streaming_changes
            WHERE tenant = \(tenant) AND id < \(before) ORDER BY id DESC LIMIT \(Int64(limit))
            """
        ).map { row in
            let (id, tenant, at, actor, action, kind, target, before, after) = try row.decode(
                (Int64, String, Int64, String, String, String, String, String?, String?).self)
            return StreamingChange(
                id: id, tenant: tenant, at: at, actor: actor, action: action, kind: kind, target: target, before: before,
                after: after)
        }
    }

    public func seekCursor(_ key: DestinationKey, to seq: Int64, lease: LeaseFence, change c: StreamingChange) async throws {
        // Every write is conditioned on the lease row (locked), so a lease lost meanwhile writes nothing.
        let (tenant, destination, holder, token) = (key.tenant, key.destination, lease.holder.rawValue, lease.token)
        let moved = try await rows(
            """
            WITH held AS (
                SELECT 1 FROM delivery_leases
                WHERE tenant = \(tenant) AND destination = \(destination) AND holder = \(holder) AND token = \(token)
                  AND expires > (extract(epoch FROM clock_timestamp()) * 1000)::int8
                FOR UPDATE),
            cursor AS (
                INSERT INTO delivery_cursors (tenant, destination, seq, updated_time)
                SELECT \(tenant), \(destination), \(seq), \(c.at) FROM held
                ON CONFLICT (tenant, destination) DO UPDATE SET seq = excluded.seq, updated_time = excluded.updated_time
                RETURNING 1),
            retries AS (
                DELETE FROM delivery_retries WHERE tenant = \(tenant) AND destination = \(destination)
                  AND EXISTS (SELECT 1 FROM held)),
            audit AS (
                INSERT INTO streaming_changes (tenant, at, actor, action, kind, target, before, after)
                SELECT \(c.tenant), \(c.at), \(c.actor), \(c.action), \(c.kind), \(c.target), \(c.before), \(c.after) FROM held)
            SELECT count(*)::int8 FROM cursor
            """
        ).first?.decode(Int64.self) ?? 0
        guard moved == 1 else {
            throw StoreError(.leaseLost, "the lease on \(key) is no longer \(lease) (lapsed or taken by another node)")
        }
    }

    public func firstEventSeq(tenant: String, atOrAfter time: Int64) async throws -> Int64? {
        try await rows("SELECT seq FROM events WHERE tenant = \(tenant) AND time >= \(time) ORDER BY seq LIMIT 1")
            .first?.decode(Int64.self)
    }
}
