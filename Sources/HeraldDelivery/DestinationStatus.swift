import HeraldConfig
import HeraldJSON
import HeraldModel
import HeraldPayload

/// Where a destination's worker is.
public enum DestinationState: String, Sendable {
    /// Enabled; its sink instance has not started yet.
    case starting = "STARTING"
    /// Delivering (healthy or not, as its sink reports).
    case running = "RUNNING"
    /// `enabled: false` in the configuration.
    case disabled = "DISABLED"
    /// Paused through the management API: its cursor stays where it is until it is resumed.
    case paused = "PAUSED"
    /// Its sink instance does not start; retried with backoff.
    case failed = "FAILED"
    /// Stopped by a reload or shutdown, or because its lease was lost.
    case stopped = "STOPPED"
    /// Enabled, and delivered by another node (`holder`), or waiting for its lease.
    case standby = "STANDBY"
}

/// Counters and state of one destination, for `/streaming/status` and `/metrics`.
public struct DestinationStatus: Sendable {
    public var tenant: String
    public var id: String
    public var key: DestinationKey { DestinationKey(tenant: tenant, destination: id) }
    public var provider: String
    public var plugin: String
    public var pluginVersion: String
    public var name: String
    public var enabled: Bool
    /// Paused through the management API.
    public var paused = false
    /// The ordering in effect: `perEntity` when the configuration or the sink asks for it, else `none`.
    public var ordering: Ordering = .none
    public var state: DestinationState
    public var healthy: Bool
    public var reason: String
    public var cursor: Int64 = 0
    /// Events not yet delivered or dead-lettered: the tenant's events after the cursor plus the retry schedule.
    public var lagEvents: Int64 = 0
    /// Age of the oldest of those events.
    public var lagSeconds: Double = 0
    /// Outcomes since this worker started (Prometheus counters carry the totals across reloads).
    public var counts = DeliveryCounts()
    /// How this worker rendered the messages of new events so far: from the stored bytes, or after decoding the entity.
    public var renders = RenderCounts()
    public var inFlight: Int = 0
    public var retryBacklog: Int = 0
    public var deadLetterCount: Int = 0
    /// The node holding the destination's delivery lease (nil: none holds it now).
    public var holder: String?
    /// When `holder` took the lease (epoch ms, the database's clock).
    public var holderSince: Int64?
    /// Where the sink runs: `inProcess`, or `process` (`herald sink-host`).
    public var isolation: String = "inProcess"
    /// With `process`: the child's process id (nil while it restarts) and how many times it was restarted.
    public var sinkPid: Int32?
    public var sinkRestarts: Int = 0
    public var sinkLastFault: String?
    /// The latest errors of this node's workers for the destination, newest first (`DeliveryActivity`).
    public var recentErrors: [DeliveryActivity.RecentError] = []
    /// Set while the worker cannot record outcomes in the store: the destination is then unhealthy with this reason.
    var storeFailure: String?

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
        w.key("paused")
        w.bool(paused)
        w.key("ordering")
        w.string(ordering.rawValue)
        w.key("state")
        w.string(state.rawValue)
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
        w.int(counts.sent)
        w.key("retried")
        w.int(counts.retried)
        w.key("throttled")
        w.int(counts.throttled)
        w.key("deadLettered")
        w.int(counts.deadLettered)
        w.key("filtered")
        w.int(counts.filtered)
        w.key("renders")
        w.beginObject()
        w.key("fromStoredBytes")
        w.int(renders.fromStoredBytes)
        w.key("afterDecoding")
        w.int(renders.afterDecoding)
        w.endObject()
        w.key("inFlight")
        w.int(inFlight)
        w.key("retryBacklog")
        w.int(retryBacklog)
        w.key("deadLetterCount")
        w.int(deadLetterCount)
        w.key("holder")
        if let holder { w.string(holder) } else { w.null() }
        w.key("holderSince")
        if let holderSince { w.int(holderSince) } else { w.null() }
        w.key("isolation")
        w.string(isolation)
        if isolation == "process" {
            w.key("sinkProcess")
            w.beginObject()
            w.key("pid")
            if let sinkPid { w.int(Int(sinkPid)) } else { w.null() }
            w.key("restarts")
            w.int(sinkRestarts)
            w.key("lastFault")
            if let sinkLastFault { w.string(sinkLastFault) } else { w.null() }
            w.endObject()
        }
        w.key("recentErrors")
        w.beginArray()
        for e in recentErrors { e.render(into: &w) }
        w.endArray()
        w.endObject()
    }
}

extension DestinationStatus {
    /// The status of a destination no worker delivers here: disabled, paused, or (`standby`) delivered elsewhere.
    public static func idle(
        tenant: String, destination d: DestinationConfiguration, provider: ProviderConfiguration, standby: DestinationState
    ) -> DestinationStatus {
        var s = DestinationStatus(
            tenant: tenant, id: d.id, provider: provider.alias, plugin: provider.plugin, pluginVersion: "", name: d.name,
            enabled: d.enabled, state: standby, healthy: true, reason: "")
        s.paused = d.paused
        if !d.enabled {
            (s.state, s.healthy, s.reason) = (.disabled, false, "disabled in the configuration")
        } else if d.paused {
            (s.state, s.reason) = (.paused, "paused through the API (POST …/_resume resumes it)")
        }
        return s
    }
}
