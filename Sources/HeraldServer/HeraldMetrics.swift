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

    func storeCommits() -> Gauge {
        registry.makeGauge(name: "herald_store_commits", help: "Group commits since start")
    }

    func storeJobs() -> Gauge {
        registry.makeGauge(name: "herald_store_write_jobs", help: "Write jobs (requests) committed since start")
    }
}
