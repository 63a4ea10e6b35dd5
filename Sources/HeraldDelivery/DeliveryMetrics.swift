import HeraldModel

/// Outcomes of delivery to one destination, counted when they are recorded in the store.
public struct DeliveryCounts: Sendable, Equatable {
    /// Messages the sink accepted (first attempts, retries and replays alike).
    public var sent: Int64 = 0
    /// Attempts answered RETRY.
    public var retried: Int64 = 0
    /// Attempts answered THROTTLED.
    public var throttled: Int64 = 0
    /// Messages moved to the dead-letter queue.
    public var deadLettered: Int64 = 0
    /// Events the type or object filter left out.
    public var filtered: Int64 = 0

    public init() {}

    public var isZero: Bool { self == DeliveryCounts() }

    public mutating func add(_ other: DeliveryCounts) {
        sent += other.sent
        retried += other.retried
        throttled += other.throttled
        deadLettered += other.deadLettered
        filtered += other.filtered
    }
}

/// Where delivery reports its counters and the metrics its sink plugins register (the server exports them
/// to Prometheus). Implementations are called from worker tasks and plugin threads.
public protocol DeliveryMetrics: Sendable {
    /// A destination recorded these outcomes (after they committed).
    func recorded(_ key: DestinationKey, _ counts: DeliveryCounts)
    /// A sink plugin reported a metric through the host function table.
    func pluginMetric(_ key: DestinationKey, plugin: String, name: String, value: Double, isCounter: Bool)
}

/// Discards everything (tools and tests that run delivery without a metrics endpoint).
public struct NoDeliveryMetrics: DeliveryMetrics {
    public init() {}
    public func recorded(_ key: DestinationKey, _ counts: DeliveryCounts) {}
    public func pluginMetric(_ key: DestinationKey, plugin: String, name: String, value: Double, isCounter: Bool) {}
}
