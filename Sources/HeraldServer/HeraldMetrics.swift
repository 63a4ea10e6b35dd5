import HeraldDelivery
import HeraldModel
import Logging
import Prometheus
import Synchronization

/// Herald's own Prometheus metrics, served at `/metrics` with anything else registered in `registry`.
///
/// Names: `herald_http_*`, `herald_entities_*`, `herald_queue_*`, `herald_store_*`, `herald_match_*` and
/// `herald_destination_*` are Herald's; a sink plugin's metrics live under `herald_plugin_<plugin>_`, so a
/// plugin cannot collide with Herald's own, and a clash between a plugin's own names is refused, not fatal.
public final class HeraldMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let plugins: PluginMetricNames
    let logger: Logger
    /// This node's id: a `node` label on every per-destination metric (several nodes may deliver one tenant).
    public let node: String?

    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger = Logger(label: "herald.metrics"), node: String? = nil
    ) {
        self.registry = registry
        self.logger = logger
        self.node = node
        plugins = PluginMetricNames()
    }

    /// The labels of a per-destination metric.
    func labels(_ key: DestinationKey) -> [(String, String)] {
        withNode([("tenant", key.tenant), ("destination", key.destination)])
    }

    /// `labels` and this node's id: every metric carries it when the node has one (several nodes on one store).
    func withNode(_ labels: [(String, String)]) -> [(String, String)] {
        guard let node else { return labels }
        return labels + [("node", node)]
    }

    func requests(route: String, status: Int) -> Counter {
        registry.makeCounter(
            name: "herald_http_requests_total", labels: withNode([("route", route), ("status", String(status))]),
            help: "HTTP requests by route and status")
    }

    func entities(tenant: String, outcome: String) -> Counter {
        registry.makeCounter(
            name: "herald_entities_written_total", labels: withNode([("tenant", tenant), ("outcome", outcome)]),
            help: "Posted entities by outcome: created, updated, unchanged, failed")
    }

    func queueLength(tenant: String) -> Gauge {
        registry.makeGauge(
            name: "herald_queue_events", labels: withNode([("tenant", tenant)]), help: "Events currently in the CRUD queue")
    }

    /// A per-destination counter: `herald_destination_<metric>_total`.
    func destinationCounter(_ metric: String, _ key: DestinationKey) -> Counter {
        registry.makeCounter(
            name: "herald_destination_\(metric)_total", labels: labels(key),
            help: HeraldMetrics.destinationHelp[metric] ?? "")
    }

    static let destinationHelp = [
        "sent": "Messages the sink accepted (first attempts, retries and replays)",
        "retried": "Attempts the sink answered RETRY",
        "throttled": "Attempts the sink answered THROTTLED",
        "dead_lettered": "Messages moved to the dead-letter queue",
        "filtered": "Events the type or object filter left out",
    ]

    func destinationGauge(_ metric: String, _ key: DestinationKey) -> Gauge {
        registry.makeGauge(
            name: "herald_destination_\(metric)", labels: labels(key),
            help: "Per-destination delivery state, read when /metrics is scraped")
    }

    func storeCommits() -> Gauge {
        registry.makeGauge(name: "herald_store_commits", labels: withNode([]), help: "Group commits since start")
    }

    func skippedMatchTokens() -> Gauge {
        registry.makeGauge(
            name: "herald_match_tokens_skipped", labels: withNode([]), help: "Match-token lookups skipped since start: too many entities hold the token")
    }

    func walGauge(_ metric: String, _ help: String) -> Gauge {
        registry.makeGauge(name: "herald_sqlite_wal_\(metric)", labels: withNode([]), help: help)
    }

    func storeJobs() -> Gauge {
        registry.makeGauge(name: "herald_store_write_jobs", labels: withNode([]), help: "Write jobs (requests) committed since start")
    }
}

extension HeraldMetrics: DeliveryMetrics {
    public func recorded(_ key: DestinationKey, _ counts: DeliveryCounts) {
        let pairs: [(String, Int64)] = [
            ("sent", counts.sent), ("retried", counts.retried), ("throttled", counts.throttled),
            ("dead_lettered", counts.deadLettered), ("filtered", counts.filtered),
        ]
        for (metric, value) in pairs where value > 0 {
            destinationCounter(metric, key).increment(by: value)
        }
    }

    /// A metric reported by a sink plugin: a counter becomes `herald_plugin_<plugin>_<name>_total`, a gauge
    /// `herald_plugin_<plugin>_<name>`, labelled with the tenant and destination. A name that is empty, too long,
    /// beyond the plugin's name budget, or already taken by a metric of the other kind is refused with one
    /// log line and the value dropped.
    public func pluginMetric(_ key: DestinationKey, plugin: String, name: String, value: Double, isCounter: Bool) {
        switch plugins.admit(plugin: plugin, name: name, isCounter: isCounter) {
        case .counter(let full):
            guard value.isFinite, value >= 0 else { return }
            registry.makeCounter(name: full, labels: labels(key))
                .increment(by: value)
        case .gauge(let full):
            registry.makeGauge(name: full, labels: labels(key))
                .set(value)
        case .refused(let reason, let firstTime):
            if firstTime { logger.error("plugin \(plugin): metric refused and dropped: \(reason)") }
        }
    }
}

/// The names sink plugins have registered, with their kind: what keeps a plugin's metric from ever reaching
/// the Prometheus registry under a name it already holds with another type (which is fatal there).
final class PluginMetricNames: Sendable {
    enum Admission: Equatable {
        case counter(String)
        case gauge(String)
        /// Why, and whether this is the first time this (plugin, name, kind) was refused (log once).
        case refused(String, firstTime: Bool)
    }

    /// Longest accepted metric name from a plugin, in bytes.
    static let maxNameBytes = 100
    /// Distinct metric names one plugin may register.
    static let maxNamesPerPlugin = 200

    private struct State {
        var kinds: [String: Bool] = [:]  // full name → isCounter
        var perPlugin: [String: Int] = [:]
        var refused: Set<String> = []
    }
    private let state = Mutex(State())

    func admit(plugin: String, name: String, isCounter: Bool) -> Admission {
        let kind = isCounter ? "counter" : "gauge"
        let refusal: (String) -> Admission = { reason in
            let first = self.state.withLock { $0.refused.insert("\(plugin)\u{0}\(name)\u{0}\(kind)").inserted }
            return .refused(reason, firstTime: first)
        }
        guard !name.isEmpty, name.utf8.count <= PluginMetricNames.maxNameBytes else {
            return refusal("\(kind) name must have 1 to \(PluginMetricNames.maxNameBytes) bytes (got \(name.utf8.count))")
        }
        var base = "herald_plugin_\(PluginMetricNames.clean(plugin))_\(PluginMetricNames.clean(name))"
        if isCounter && !base.hasSuffix("_total") { base += "_total" }
        let full = base
        let verdict: String? = state.withLock { s in
            if let existing = s.kinds[full] {
                return existing == isCounter
                    ? nil : "\(kind) '\(name)' would be '\(full)', already a \(existing ? "counter" : "gauge")"
            }
            guard s.perPlugin[plugin, default: 0] < PluginMetricNames.maxNamesPerPlugin else {
                return "the plugin already has \(PluginMetricNames.maxNamesPerPlugin) metric names; '\(name)' is one too many"
            }
            s.kinds[full] = isCounter
            s.perPlugin[plugin, default: 0] += 1
            return nil
        }
        if let verdict { return refusal(verdict) }
        return isCounter ? .counter(full) : .gauge(full)
    }

    /// Letters, digits and '_' kept; anything else becomes '_'.
    static func clean(_ text: String) -> String {
        String(
            text.unicodeScalars.map { s -> Character in
                s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_") ? Character(s) : "_"
            })
    }
}

extension HeraldMetrics {
    func openConnections() -> Gauge {
        registry.makeGauge(name: "herald_http_connections_open", help: "Client connections open now")
    }

    /// `reason`: `server_limit` (server.maxConnections) or `client_limit` (server.maxConnectionsPerClient).
    func refusedConnections(reason: String) -> Counter {
        registry.makeCounter(
            name: "herald_http_connections_refused_total", labels: [("reason", reason)],
            help: "Connections closed at accept because a connection cap was reached")
    }

    /// `kind`: `header`, `body` or `idle` (server.headerTimeoutMs, bodyTimeoutMs, idleTimeoutMs).
    func connectionTimeouts(kind: String) -> Counter {
        registry.makeCounter(
            name: "herald_http_timeouts_total", labels: [("kind", kind)],
            help: "Connections closed because a request head, body or the next request did not arrive in time")
    }
}
