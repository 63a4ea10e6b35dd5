import HeraldJSON
import HeraldMatchRules
import HeraldModel

/// The whole daemon configuration: one JSON file (see `docs/configuration.md`).
public struct HeraldConfiguration: Sendable {
    public var server: ServerConfiguration
    /// Absolute path of the data directory (relative paths in the file are resolved against the file's folder):
    /// where the SQLite store lives. Required with the SQLite backend; optional (and unused) with PostgreSQL.
    public var dataDirectory: String?
    /// Absolute paths of the plugin directories (`plugins.d`).
    public var pluginDirectories: [String]
    public var store: StoreConfiguration
    /// How nodes sharing one store divide delivery (`cluster`).
    public var cluster = ClusterConfiguration()
    public var tenants: [TenantConfiguration]
    /// Accepted, but worth changing (`herald config check` prints them, `serve` logs them).
    public var warnings: [JSONShapeIssue] = []

    public init(
        server: ServerConfiguration = ServerConfiguration(), dataDirectory: String?, pluginDirectories: [String] = [],
        store: StoreConfiguration = StoreConfiguration(), tenants: [TenantConfiguration] = []
    ) {
        self.server = server
        self.dataDirectory = dataDirectory
        self.pluginDirectories = pluginDirectories
        self.store = store
        self.tenants = tenants
    }

    public func tenant(_ id: String) -> TenantConfiguration? {
        tenants.first { $0.id == id }
    }
}

/// The `cluster` object: how the nodes that share one store divide delivery between them (docs/scaling.md).
public struct ClusterConfiguration: Sendable, Equatable {
    /// How long a delivery lease lasts without renewal; nodes renew every third of it. A dead node's destinations
    /// move to another node within about `leaseMs` plus a third of it.
    public var leaseMs: Int = 10_000
    public static let leaseMsRange: ClosedRange<Int64> = 1_000...3_600_000

    public init() {}

    static func read(_ r: inout JSONObjectReader) -> ClusterConfiguration {
        var c = ClusterConfiguration()
        if let ms = r.int("leaseMs", in: leaseMsRange) { c.leaseMs = Int(ms) }
        return c
    }
}

public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Longest time from accepting a connection, or from the first byte of a later request on it, to a
    /// complete request head; a slower client gets 408 and is closed.
    public var headerTimeoutMs: Int = 10_000
    /// Longest time from a request head to the end of its body.
    public var bodyTimeoutMs: Int = 60_000
    /// Longest time a keep-alive connection may wait for its next request.
    public var idleTimeoutMs: Int = 60_000
    /// Most open connections; more are answered 503 and closed at accept.
    public var maxConnections: Int = 4096
    /// Most open connections from one client address (one IPv4 address, one IPv6 /64); more get 429.
    public var maxConnectionsPerClient: Int = 256
    /// Serve HTTPS with this certificate and key.
    public var tls: ServerTLSFiles?
    /// Serve plain HTTP on a non-loopback address (a proxy in front terminates TLS).
    public var allowPlaintext: Bool = false
    /// Largest accepted request body; larger ones get 413.
    public var maxRequestBytes: Int = 16 * 1024 * 1024
    /// Largest number of entities in one POST.
    public var maxEntitiesPerRequest: Int = 1000
    public var tokens: [AccessToken] = []

    public init() {}

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        ServerConfiguration.isLoopbackHost(host)
    }
}

/// A bearer token and what it may do.
public struct AccessToken: Sendable {
    public enum Role: String, Sendable, Comparable, CaseIterable {
        case read, write, admin

        private var rank: Int {
            switch self {
            case .read: return 0
            case .write: return 1
            case .admin: return 2
            }
        }

        public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
    }

    /// Which tenants a token may act on.
    public enum Tenants: Sendable, Equatable {
        /// Every tenant, and what spans tenants (`/metrics`, `/api/plugins`, reload): `"tenants": "*"`.
        case all
        /// Only these tenant ids: `"tenants": ["alpha", "beta"]`.
        case only(Set<String>)

        public func allows(_ tenant: String) -> Bool {
            switch self {
            case .all: return true
            case .only(let ids): return ids.contains(tenant)
            }
        }
    }

    /// Shown in logs and as `createdBy`/`updatedBy`.
    public var name: String
    public var token: String
    public var role: Role
    public var tenants: Tenants
    /// Whether the configuration gave `tenants` (a token without it acts on every tenant, with a warning).
    public var tenantsGiven: Bool

    public init(name: String, token: String, role: Role, tenants: Tenants = .all, tenantsGiven: Bool = true) {
        self.name = name
        self.token = token
        self.role = role
        self.tenants = tenants
        self.tenantsGiven = tenantsGiven
    }
}

/// One tenant: its data model and (in later stages) matching and streaming.
public struct TenantConfiguration: Sendable {
    public var id: String
    public var schema: TenantSchema
    public var streaming: StreamingConfiguration
    /// Match groups and survivorship per entity type URI (types without match groups may be absent).
    public var matching: [String: EntityMatching]

    public init(
        id: String, schema: TenantSchema, streaming: StreamingConfiguration = StreamingConfiguration(),
        matching: [String: EntityMatching] = [:]
    ) {
        self.id = id
        self.schema = schema
        self.streaming = streaming
        self.matching = matching
    }
}
