import HeraldDelivery
import HeraldJSON
import Hummingbird

extension APIServer {
    /// `GET /api/{tenant}/streaming/throughput?minutes=1..15`: what this node's workers recorded per destination, in
    /// buckets of `DeliveryActivity.bucketMs`, the current bucket last. Node-local (docs/api.md).
    func addThroughputRoutes(to routes: RouteGroups) {
        guard let delivery else { return }
        routes.tenant(.read).get("/streaming/throughput") { request, context -> Response in
            let tenant = context.tenant
            let minutes = try queryInt(request, "minutes", default: 15, range: 1...15)
            let activity = delivery.activity
            let buckets = Int((minutes * 60_000 + activity.bucketMs - 1) / activity.bucketMs)
            let history = activity.history(tenant: tenant.id, buckets: buckets)
            var w = JSONWriter(capacity: 256 + history.destinations.count * buckets * 80)
            w.beginObject()
            w.key("intervalSeconds")
            if activity.bucketMs % 1000 == 0 {
                w.int(activity.bucketMs / 1000)
            } else {
                w.double(Double(activity.bucketMs) / 1000)
            }
            w.key("now")
            w.int(history.now)
            w.key("destinations")
            w.beginArray()
            for d in history.destinations {
                w.beginObject()
                w.key("id")
                w.string(d.id)
                w.key("points")
                w.beginArray()
                for p in d.points {
                    w.beginObject()
                    w.key("t")
                    w.int(p.t)
                    w.key("sent")
                    w.int(p.sent)
                    w.key("retried")
                    w.int(p.retried)
                    w.key("throttled")
                    w.int(p.throttled)
                    w.key("deadLettered")
                    w.int(p.deadLettered)
                    w.endObject()
                }
                w.endArray()
                w.endObject()
            }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }
    }
}
