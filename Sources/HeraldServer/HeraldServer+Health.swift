import HeraldJSON
import Hummingbird

extension HeraldServer {
    func addHealthRoutes(to router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ -> Response in
            var w = JSONWriter(capacity: 64)
            w.beginObject()
            w.key("status")
            do {
                _ = try await ingest.store.lastSequence()
                w.string("UP")
            } catch {
                w.string("DOWN")
                w.key("reason")
                w.string("store: \(error)")
            }
            w.endObject()
            return jsonResponse(w.bytes)
        }

        router.get("/metrics") { request, _ -> Response in
            _ = try access.authorize(request, .read)
            for tenant in configuration.tenants {
                let length = try await ingest.store.queueLength(tenant: tenant.id)
                metrics.queueLength(tenant: tenant.id).set(Int64(length))
            }
            if let delivery {
                for d in await delivery.status() {
                    let pairs: [(String, Double)] = [
                        ("sent", Double(d.sent)), ("retried", Double(d.retried)), ("throttled", Double(d.throttled)),
                        ("dead_lettered", Double(d.deadLettered)), ("in_flight", Double(d.inFlight)),
                        ("lag_events", Double(d.lagEvents)), ("lag_seconds", d.lagSeconds),
                        ("healthy", d.healthy ? 1 : 0), ("retry_backlog", Double(d.retryBacklog)),
                    ]
                    for (name, value) in pairs {
                        metrics.destinationGauge(name, tenant: d.tenant, destination: d.id).set(value)
                    }
                }
            }
            let stats = ingest.store.commitStatistics
            metrics.storeCommits().set(Int64(stats.commits))
            metrics.storeJobs().set(Int64(stats.jobs))
            metrics.skippedMatchTokens().set(Int64(ingest.skippedMatchTokens))
            var buffer: [UInt8] = []
            metrics.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
