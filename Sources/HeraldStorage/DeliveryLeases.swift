import HeraldModel

/// One Herald process among those that share a store: the holder of delivery leases.
///
/// Set with `--node-id` or `HERALD_NODE_ID`; by default the host and port the server listens on. Nodes with the
/// same configuration must have different ids: two processes with one id would both think they hold its leases.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
}

/// What a delivery write must prove: that the writer still holds the destination's lease with this token.
public struct LeaseFence: Hashable, Sendable, CustomStringConvertible {
    public let holder: NodeID
    /// The fencing token: it grows every time the lease changes hands (or is taken again after it lapsed).
    public let token: Int64

    public init(holder: NodeID, token: Int64) {
        self.holder = holder
        self.token = token
    }

    public var description: String { "\(holder)#\(token)" }
}

/// The right to deliver one destination, held by one node until `expires` (the database's clock).
public struct DeliveryLease: Hashable, Sendable {
    public let key: DestinationKey
    public let holder: NodeID
    public let token: Int64
    /// When `holder` took it (epoch ms, the database's clock); renewals keep it.
    public let since: Int64
    /// When it lapses unless renewed (epoch ms, the database's clock).
    public let expires: Int64

    public init(key: DestinationKey, holder: NodeID, token: Int64, since: Int64, expires: Int64) {
        self.key = key
        self.holder = holder
        self.token = token
        self.since = since
        self.expires = expires
    }

    public var fence: LeaseFence { LeaseFence(holder: holder, token: token) }
}

/// A node as the store last heard from it.
public struct ClusterNode: Hashable, Sendable {
    public let id: NodeID
    /// Its first heartbeat since it joined (epoch ms, the database's clock).
    public let joined: Int64
    /// Its latest heartbeat (epoch ms, the database's clock).
    public let lastHeartbeat: Int64
    /// Milliseconds since its latest heartbeat, measured by the database when read.
    public let silentMs: Int64

    public init(id: NodeID, joined: Int64, lastHeartbeat: Int64, silentMs: Int64) {
        self.id = id
        self.joined = joined
        self.lastHeartbeat = lastHeartbeat
        self.silentMs = silentMs
    }
}

/// The lease table: which node delivers which destination, and the nodes' heartbeats.
///
/// Every time comparison uses the database's clock (the statement reads it), never a node's: nodes whose clocks
/// disagree cannot both hold a lease. A lease is taken when it is free, released, or lapsed; taking it increments
/// its fencing token, and every delivery write checks the token (`DeliveryTransaction.verifyLease`), so a node
/// whose lease lapsed cannot move the cursor even if it has not noticed yet.
public protocol DeliveryLeases: Sendable {
    /// Records that `node` is alive now.
    func heartbeat(_ node: NodeID) async throws
    /// Takes `key` for `node` for `durationMs` if it is free, released or lapsed (its token then grows by one),
    /// or renews it if `node` holds it. - Returns: the lease, or nil when another node holds it.
    func acquireLease(_ key: DestinationKey, node: NodeID, durationMs: Int64) async throws -> DeliveryLease?
    /// Extends the leases `node` holds among `keys` (unlapsed ones only) by `durationMs` from now, tokens unchanged.
    /// - Returns: the renewed leases; a key missing from them is no longer `node`'s.
    func renewLeases(_ keys: [DestinationKey], node: NodeID, durationMs: Int64) async throws -> [DeliveryLease]
    /// Releases `node`'s leases on `keys`: another node can take them at once.
    func releaseLeases(_ keys: [DestinationKey], node: NodeID) async throws
    /// The leases held now (not lapsed, not released), of one tenant or (nil) all, ordered by key.
    func leases(tenant: String?) async throws -> [DeliveryLease]
    /// Every node that has sent a heartbeat and not left, ordered by id.
    func clusterNodes() async throws -> [ClusterNode]
    /// Releases every lease of `node` and forgets it (graceful shutdown).
    func leaveCluster(_ node: NodeID) async throws
    /// Forgets every lease and node. Only for a store that one process serves (SQLite), when that process starts:
    /// what a previous process held is void.
    func resetLeases() async throws
}

extension DeliveryTransaction {
    /// Moves a destination's cursor after checking (in this transaction) that `lease` still holds it.
    public func setCursor(_ key: DestinationKey, seq: Int64, now: Int64, lease: LeaseFence) throws {
        try verifyLease(key, lease)
        try setCursor(key, seq: seq, now: now)
    }
}

extension ErrorCode where Domain == StoreError {
    /// A delivery write whose lease is no longer the writer's (lapsed, or taken by another node): nothing of it
    /// was written, and the writer must stop delivering that destination.
    public static let leaseLost = Self("LEASE_LOST")
}
