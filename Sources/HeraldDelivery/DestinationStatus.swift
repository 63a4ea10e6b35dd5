import HeraldJSON

/// Counters and state of one destination, for `/streaming/status` and `/metrics`.
public struct DestinationStatus: Sendable {
    public var tenant: String
    public var id: String
    public var provider: String
    public var plugin: String
    public var pluginVersion: String
    public var name: String
    public var enabled: Bool
    /// RUNNING, STARTING, DISABLED, FAILED, STOPPED.
    public var state: String
    public var healthy: Bool
    public var reason: String
    public var cursor: Int64 = 0
    public var lagEvents: Int64 = 0
    public var lagSeconds: Double = 0
    public var sent: Int64 = 0
    public var retried: Int64 = 0
    public var throttled: Int64 = 0
    public var deadLettered: Int64 = 0
    public var filtered: Int64 = 0
    public var inFlight: Int = 0
    public var retryBacklog: Int = 0
    public var deadLetterCount: Int = 0

    public func render(into w: inout JSONWriter) {
        w.beginObject()
        w.key("id")
        w.string(id)
        w.key("provider")
        w.string(provider)
        w.key("plugin")
        w.string(plugin)
        w.key("pluginVersion")
        w.string(pluginVersion)
        w.key("name")
        w.string(name)
        w.key("enabled")
        w.bool(enabled)
        w.key("state")
        w.string(state)
        w.key("healthy")
        w.bool(healthy)
        w.key("reason")
        w.string(reason)
        w.key("cursor")
        w.int(cursor)
        w.key("lagEvents")
        w.int(lagEvents)
        w.key("lagSeconds")
        w.double(lagSeconds)
        w.key("sent")
        w.int(sent)
        w.key("retried")
        w.int(retried)
        w.key("throttled")
        w.int(throttled)
        w.key("deadLettered")
        w.int(deadLettered)
        w.key("filtered")
        w.int(filtered)
        w.key("inFlight")
        w.int(inFlight)
        w.key("retryBacklog")
        w.int(retryBacklog)
        w.key("deadLetterCount")
        w.int(deadLetterCount)
        w.endObject()
    }
}
