import HeraldModel
import HeraldStorage
import PostgresNIO

/// The lease table on PostgreSQL. Lease statements run on the reader pool (each one statement, committed on its
/// own), never on the writer, so a busy writer does not delay renewals. Every time is the database's clock
/// (`clock_timestamp()`, read by the statement), so the nodes' clocks never decide who holds a lease.
extension PostgresStore {
    /// The database's clock in epoch milliseconds.
    static let nowMs = "(extract(epoch FROM clock_timestamp()) * 1000)::int8"
    static let leaseColumns = "tenant, destination, holder, token, since, expires"

    static func lease(_ row: PostgresRow) throws -> DeliveryLease {
        let (tenant, destination, holder, token, since, expires) = try row.decode((String, String, String, Int64, Int64, Int64).self)
        return DeliveryLease(
            key: DestinationKey(tenant: tenant, destination: destination), holder: NodeID(holder), token: token, since: since,
            expires: expires)
    }

    public func heartbeat(_ node: NodeID) async throws {
        _ = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO cluster_nodes (node, joined, last_heartbeat) VALUES ($1, \(Self.nowMs), \(Self.nowMs))
                    ON CONFLICT (node) DO UPDATE SET last_heartbeat = excluded.last_heartbeat
                    """, binds: Self.binds(node.rawValue)))
    }

    public func acquireLease(_ key: DestinationKey, node: NodeID, durationMs: Int64) async throws -> DeliveryLease? {
        // Renewed when `node` holds it unlapsed (token and since kept); taken when it is free or lapsed (token + 1,
        // whoever held it before, `node` included). A row share-locked by a holder's delivery write in flight
        // waits for that write's commit.
        var binds = Self.binds(key.tenant, key.destination, node.rawValue)
        binds.append(durationMs)
        return try await rows(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO delivery_leases (\(Self.leaseColumns))
                    SELECT $1, $2, $3, 1, n.ms, n.ms + $4 FROM (SELECT \(Self.nowMs) AS ms) n
                    ON CONFLICT (tenant, destination) DO UPDATE SET
                        token = CASE WHEN delivery_leases.holder = excluded.holder AND delivery_leases.expires > excluded.since
                                     THEN delivery_leases.token ELSE delivery_leases.token + 1 END,
                        since = CASE WHEN delivery_leases.holder = excluded.holder AND delivery_leases.expires > excluded.since
                                     THEN delivery_leases.since ELSE excluded.since END,
                        holder = excluded.holder, expires = excluded.expires
                    WHERE delivery_leases.expires <= excluded.since OR delivery_leases.holder = excluded.holder
                    RETURNING \(Self.leaseColumns)
                    """, binds: binds)
        ).first.map(Self.lease)
    }

    public func renewLeases(_ keys: [DestinationKey], node: NodeID, durationMs: Int64) async throws -> [DeliveryLease] {
        if keys.isEmpty { return [] }
        let tenants = keys.map(\.tenant)
        let destinations = keys.map(\.destination)
        let holder = node.rawValue
        return try await rows(
            """
            UPDATE delivery_leases l SET expires = n.ms + \(durationMs)
            FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS ms) n,
                 unnest(\(tenants)::text[], \(destinations)::text[]) AS k(tenant, destination)
            WHERE l.tenant = k.tenant AND l.destination = k.destination AND l.holder = \(holder) AND l.expires > n.ms
            RETURNING l.tenant, l.destination, l.holder, l.token, l.since, l.expires
            """
        ).map(Self.lease).sorted { $0.key < $1.key }
    }

    public func releaseLeases(_ keys: [DestinationKey], node: NodeID) async throws {
        if keys.isEmpty { return }
        let tenants = keys.map(\.tenant)
        let destinations = keys.map(\.destination)
        let holder = node.rawValue
        _ = try await rows(
            """
            UPDATE delivery_leases l SET expires = 0 FROM unnest(\(tenants)::text[], \(destinations)::text[]) AS k(tenant, destination)
            WHERE l.tenant = k.tenant AND l.destination = k.destination AND l.holder = \(holder)
            """)
    }

    public func leases(tenant: String?) async throws -> [DeliveryLease] {
        let query: PostgresQuery
        if let tenant {
            query = PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.leaseColumns) FROM delivery_leases WHERE expires > \(Self.nowMs) AND tenant = $1
                    ORDER BY tenant, destination
                    """, binds: Self.binds(tenant))
        } else {
            query = PostgresQuery(
                unsafeSQL: "SELECT \(Self.leaseColumns) FROM delivery_leases WHERE expires > \(Self.nowMs) ORDER BY tenant, destination")
        }
        return try await rows(query).map(Self.lease)
    }

    public func clusterNodes() async throws -> [ClusterNode] {
        try await rows(
            PostgresQuery(
                unsafeSQL: "SELECT node, joined, last_heartbeat, \(Self.nowMs) - last_heartbeat FROM cluster_nodes ORDER BY node")
        ).map { row in
            let (node, joined, last, silent) = try row.decode((String, Int64, Int64, Int64).self)
            return ClusterNode(id: NodeID(node), joined: joined, lastHeartbeat: last, silentMs: silent)
        }
    }

    public func leaveCluster(_ node: NodeID) async throws {
        let holder = node.rawValue
        _ = try await rows("UPDATE delivery_leases SET expires = 0 WHERE holder = \(holder)")
        _ = try await rows("DELETE FROM cluster_nodes WHERE node = \(holder)")
    }

    public func resetLeases() async throws {
        _ = try await rows("UPDATE delivery_leases SET expires = 0")
        _ = try await rows("DELETE FROM cluster_nodes")
    }

    static func binds(_ values: String...) -> PostgresBindings {
        var binds = PostgresBindings()
        for v in values { binds.append(v) }
        return binds
    }
}

extension PostgresTransaction {
    public func verifyLease(_ key: DestinationKey, _ lease: LeaseFence) throws {
        // FOR SHARE: a node taking the lapsed lease over waits for this transaction's commit, so everything this
        // transaction writes is ordered before the takeover, and the new holder reads it.
        var binds = PostgresStore.binds(key.tenant, key.destination, lease.holder.rawValue)
        binds.append(lease.token)
        let found = try session.writeStatement(
            PostgresQuery(
                unsafeSQL: """
                    SELECT 1 FROM delivery_leases
                    WHERE tenant = $1 AND destination = $2 AND holder = $3 AND token = $4 AND expires > \(PostgresStore.nowMs)
                    FOR SHARE
                    """, binds: binds)
        ).metadata.rows ?? 0
        if found == 0 {
            throw StoreError(.leaseLost, "the lease on \(key) is no longer \(lease) (lapsed or taken by another node)")
        }
    }
}
