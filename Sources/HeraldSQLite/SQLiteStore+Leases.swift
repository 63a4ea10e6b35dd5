import GRDB
import HeraldModel
import HeraldStorage

/// The lease table on SQLite: the same rows and rules as on PostgreSQL, written through the store's writer. One
/// process serves a SQLite file, so it always gets every lease; the contract tests hold both backends to one
/// behaviour all the same.
extension SQLiteStore {
    /// The database's clock in epoch milliseconds (SQLite reads the clock of the machine it runs on).
    static let nowMs = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"

    static func lease(_ row: Row) -> DeliveryLease {
        DeliveryLease(
            key: DestinationKey(tenant: row[0], destination: row[1]), holder: NodeID(row[2]), token: row[3], since: row[4],
            expires: row[5])
    }

    public func heartbeat(_ node: NodeID) async throws {
        try await committer.submit { db in
            try db.execute(
                sql: """
                    INSERT INTO cluster_nodes (node, joined, last_heartbeat) VALUES (?, \(Self.nowMs), \(Self.nowMs))
                    ON CONFLICT(node) DO UPDATE SET last_heartbeat = excluded.last_heartbeat
                    """, arguments: [node.rawValue])
        }
    }

    public func acquireLease(_ key: DestinationKey, node: NodeID, durationMs: Int64) async throws -> DeliveryLease? {
        try await committer.submit { db in
            let now: Int64 = try Int64.fetchOne(db, sql: "SELECT \(Self.nowMs)") ?? 0
            // Renewed when `node` holds it unlapsed (token and since kept); taken when it is free or lapsed
            // (token + 1, whoever held it before, `node` included).
            try db.execute(
                sql: """
                    INSERT INTO delivery_leases (tenant, destination, holder, token, since, expires) VALUES (?, ?, ?, 1, ?, ?)
                    ON CONFLICT(tenant, destination) DO UPDATE SET
                        token = CASE WHEN holder = excluded.holder AND expires > excluded.since THEN token ELSE token + 1 END,
                        since = CASE WHEN holder = excluded.holder AND expires > excluded.since THEN since ELSE excluded.since END,
                        holder = excluded.holder, expires = excluded.expires
                    WHERE expires <= excluded.since OR holder = excluded.holder
                    """, arguments: [key.tenant, key.destination, node.rawValue, now, now + durationMs])
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT tenant, destination, holder, token, since, expires FROM delivery_leases
                        WHERE tenant = ? AND destination = ? AND holder = ? AND expires = ?
                        """, arguments: [key.tenant, key.destination, node.rawValue, now + durationMs])
            else { return nil }
            return Self.lease(row)
        }
    }

    public func renewLeases(_ keys: [DestinationKey], node: NodeID, durationMs: Int64) async throws -> [DeliveryLease] {
        if keys.isEmpty { return [] }
        return try await committer.submit { db in
            var out: [DeliveryLease] = []
            let now: Int64 = try Int64.fetchOne(db, sql: "SELECT \(Self.nowMs)") ?? 0
            for key in keys.sorted() {
                try db.execute(
                    sql: """
                        UPDATE delivery_leases SET expires = ?
                        WHERE tenant = ? AND destination = ? AND holder = ? AND expires > ?
                        """, arguments: [now + durationMs, key.tenant, key.destination, node.rawValue, now])
                if db.changesCount == 0 { continue }
                if let row = try Row.fetchOne(
                    db,
                    sql: "SELECT tenant, destination, holder, token, since, expires FROM delivery_leases WHERE tenant = ? AND destination = ?",
                    arguments: [key.tenant, key.destination])
                {
                    out.append(Self.lease(row))
                }
            }
            return out
        }
    }

    public func releaseLeases(_ keys: [DestinationKey], node: NodeID) async throws {
        if keys.isEmpty { return }
        try await committer.submit { db in
            for key in keys {
                try db.execute(
                    sql: "UPDATE delivery_leases SET expires = 0 WHERE tenant = ? AND destination = ? AND holder = ?",
                    arguments: [key.tenant, key.destination, node.rawValue])
            }
        }
    }

    public func leases(tenant: String?) async throws -> [DeliveryLease] {
        try await read { db in
            let sql = """
                SELECT tenant, destination, holder, token, since, expires FROM delivery_leases
                WHERE expires > \(SQLiteStore.nowMs)\(tenant == nil ? "" : " AND tenant = ?") ORDER BY tenant, destination
                """
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(tenant.map { [$0] } ?? [])).map(SQLiteStore.lease)
        }
    }

    public func clusterNodes() async throws -> [ClusterNode] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT node, joined, last_heartbeat, \(SQLiteStore.nowMs) - last_heartbeat FROM cluster_nodes ORDER BY node"
            ).map { row in
                ClusterNode(id: NodeID(row[0]), joined: row[1], lastHeartbeat: row[2], silentMs: row[3])
            }
        }
    }

    public func leaveCluster(_ node: NodeID) async throws {
        try await committer.submit { db in
            try db.execute(sql: "UPDATE delivery_leases SET expires = 0 WHERE holder = ?", arguments: [node.rawValue])
            try db.execute(sql: "DELETE FROM cluster_nodes WHERE node = ?", arguments: [node.rawValue])
        }
    }

    public func resetLeases() async throws {
        try await committer.submit { db in
            // Released, not deleted: tokens keep growing.
            try db.execute(sql: "UPDATE delivery_leases SET expires = 0")
            try db.execute(sql: "DELETE FROM cluster_nodes")
        }
    }
}

extension SQLiteTransaction {
    public func verifyLease(_ key: DestinationKey, _ lease: LeaseFence) throws {
        // The writer is this process's only one: nothing can take the lease between this check and the commit.
        let statement = try db.cachedStatement(
            sql: """
                SELECT 1 FROM delivery_leases
                WHERE tenant = ? AND destination = ? AND holder = ? AND token = ? AND expires > \(SQLiteStore.nowMs)
                """)
        guard try Bool.fetchOne(statement, arguments: [key.tenant, key.destination, lease.holder.rawValue, lease.token]) != nil
        else {
            throw StoreError(.leaseLost, "the lease on \(key) is no longer \(lease) (lapsed or taken by another node)")
        }
    }
}
