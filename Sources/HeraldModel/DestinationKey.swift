/// Names one destination of one tenant: the key of every piece of delivery state (cursor, retry
/// schedule, dead letters, status, metrics, logs).
///
/// Destination ids (`provider/name`) are unique only within a tenant: two tenants may both have
/// `q/events`. Delivery state is therefore never selected by a destination id alone; the store's
/// delivery functions take this type, so a bare string cannot reach another tenant's rows.
public struct DestinationKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let tenant: String
    /// The destination id within the tenant (`provider/name`, or its configured `id`).
    public let destination: String

    public init(tenant: String, destination: String) {
        self.tenant = tenant
        self.destination = destination
    }

    /// `tenant/destination`, for logs and messages (tenant ids cannot contain '/').
    public var description: String { "\(tenant)/\(destination)" }

    public static func < (a: DestinationKey, b: DestinationKey) -> Bool {
        (a.tenant, a.destination) < (b.tenant, b.destination)
    }
}

/// What a dead-letter query or action covers: every destination of one tenant, or one destination.
///
/// Built from a tenant or a `DestinationKey`, so it always carries the tenant.
public struct DeliveryScope: Sendable, Equatable {
    public let tenant: String
    /// nil: every destination of the tenant.
    public let destination: String?

    public static func tenant(_ tenant: String) -> DeliveryScope { DeliveryScope(tenant: tenant, destination: nil) }

    public static func destination(_ key: DestinationKey) -> DeliveryScope {
        DeliveryScope(tenant: key.tenant, destination: key.destination)
    }

    private init(tenant: String, destination: String?) {
        self.tenant = tenant
        self.destination = destination
    }
}
