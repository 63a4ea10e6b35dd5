import HeraldJSON
import Hummingbird

extension APIServer {
    func addHealthRoutes(to routes: RouteGroups) {
        routes.open.get("/health") { _, _ -> Response in
            var w = JSONWriter(capacity: 64)
            w.beginObject()
            w.key("status")
            var down: String?
            if case .failing(let code, let reason, let since) = ingest.store.health {
                down = "store: writes fail since \(since) (\(code.rawValue)): \(reason)"
            } else {
                do {
                    _ = try await ingest.store.lastSequence()
                } catch {
                    down = "store: \(error)"
                }
            }
            if let down {
                w.string("DOWN")
                w.key("reason")
                w.string(down)
            } else {
                w.string("UP")
            }
            w.endObject()
            return jsonResponse(w.bytes, status: down == nil ? .ok : .serviceUnavailable)
        }

        routes.global(.read).get("/metrics") { request, _ -> Response in
            for tenant in configuration.tenants {
                let length = try await ingest.store.queueLength(tenant: tenant.id)
                metrics.queueLength(tenant: tenant.id).set(Int64(length))
            }
            if let delivery {
                // Outcome counters are counted as they are recorded (HeraldMetrics.recorded); these are states.
                for d in await delivery.status() {
                    let pairs: [(String, Double)] = [
                        ("in_flight", Double(d.inFlight)), ("lag_events", Double(d.lagEvents)),
                        ("lag_seconds", d.lagSeconds), ("healthy", d.healthy ? 1 : 0),
                        ("retry_backlog", Double(d.retryBacklog)), ("dead_letters", Double(d.deadLetterCount)),
                        ("renders_from_stored_bytes", Double(d.renders.fromStoredBytes)),
                        ("renders_after_decoding", Double(d.renders.afterDecoding)),
                    ]
                    for (name, value) in pairs { metrics.destinationGauge(name, d.key).set(value) }
                }
            }
            let stats = ingest.store.commitStatistics
            metrics.storeCommits().set(Int64(stats.commits))
            metrics.storeJobs().set(Int64(stats.jobs))
            if let wal = ingest.store.walRestarts {
                metrics.walGauge("restarts", "Times the writer started the WAL over since start").set(Int64(wal.restarts))
                metrics.walGauge("restarts_busy", "WAL restarts given up since start: a reader outlasted the wait")
                    .set(Int64(wal.busy))
                metrics.walGauge("max_frames", "The most frames (pages) the WAL held after a commit since start")
                    .set(Int64(wal.maxFrames))
            }
            metrics.skippedMatchTokens().set(Int64(ingest.skippedMatchTokens))
            var buffer: [UInt8] = []
            metrics.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
