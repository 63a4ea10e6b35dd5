import Prometheus

/// Herald's own Prometheus metrics, served at `/metrics` with anything else registered in `registry`.
public final class HeraldMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    func requests(route: String, status: Int) -> Counter {
        registry.makeCounter(
            name: "herald_http_requests_total", labels: [("route", route), ("status", String(status))],
            help: "HTTP requests by route and status")
    }

    func entities(tenant: String, outcome: String) -> Counter {
        registry.makeCounter(
            name: "herald_entities_written_total", labels: [("tenant", tenant), ("outcome", outcome)],
            help: "Posted entities by outcome: created, updated, unchanged, failed")
    }

    func queueLength(tenant: String) -> Gauge {
        registry.makeGauge(
            name: "herald_queue_events", labels: [("tenant", tenant)], help: "Events currently in the CRUD queue")
    }

    /// A metric reported by a sink plugin: counters become `herald_sink_<name>_total`, gauges `herald_sink_<name>`.
    public func sinkMetric(tenant: String, destination: String, name: String, value: Double, isCounter: Bool) {
        let clean = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        let labels = [("tenant", tenant), ("destination", destination)]
        if isCounter {
            registry.makeCounter(name: "herald_sink_\(clean)_total", labels: labels).increment(by: value)
        } else {
            registry.makeGauge(name: "herald_sink_\(clean)", labels: labels).set(value)
        }
    }

    func destinationGauge(_ metric: String, tenant: String, destination: String) -> Gauge {
        registry.makeGauge(
            name: "herald_destination_\(metric)", labels: [("tenant", tenant), ("destination", destination)],
            help: "Per-destination delivery state since start")
    }

    func storeCommits() -> Gauge {
        registry.makeGauge(name: "herald_store_commits", help: "Group commits since start")
    }

    func skippedMatchTokens() -> Gauge {
        registry.makeGauge(
            name: "herald_match_tokens_skipped", help: "Match-token lookups skipped since start: too many entities hold the token")
    }

    func storeJobs() -> Gauge {
        registry.makeGauge(name: "herald_store_write_jobs", help: "Write jobs (requests) committed since start")
    }
}
