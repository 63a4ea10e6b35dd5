import HeraldConfig
import HeraldDelivery
import HeraldIngest
import HeraldJSON
import HeraldModel
import HeraldPlugins
import HeraldStorage
import Hummingbird

extension APIServer {
    func addStreamingRoutes(to routes: RouteGroups) {
        guard let delivery else { return }

        routes.tenant(.read).get("/streaming/status") { request, context -> Response in
            let tenant = context.tenant
            let statuses = await delivery.status(tenant: tenant.id)
            var w = JSONWriter(capacity: 1024)
            w.beginObject()
            w.key("tenant")
            w.string(tenant.id)
            w.key("streamingEnabled")
            w.bool(tenant.streaming.streamingEnabled)
            w.key("destinations")
            w.beginArray()
            for s in statuses { s.render(into: &w) }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }

        routes.tenant(.read).get("/streaming/dlq") { request, context -> Response in
            let tenant = context.tenant
            let scope = try dlqScope(request, tenant: tenant.id)
            let after = try queryInt(request, "after", default: 0, range: 0...Int64.max)
            let limit = try queryInt(request, "limit", default: 100, range: 1...10_000)
            let letters = try await delivery.deadLetters(scope, afterId: after, limit: Int(limit))
            var w = JSONWriter(capacity: 4096)
            w.beginObject()
            w.key("deadLetters")
            w.beginArray()
            for l in letters { APIServer.renderDeadLetter(l, withBody: false, into: &w) }
            w.endArray()
            w.key("next")
            w.int(letters.last?.id ?? after)
            w.endObject()
            return jsonResponse(w.bytes)
        }

        routes.tenant(.read).get("/streaming/dlq/:id") { request, context -> Response in
            let tenant = context.tenant
            guard let id = context.parameters.get("id").flatMap({ Int64($0) }),
                let letter = try await delivery.deadLetter(.tenant(tenant.id), id: id)
            else {
                throw APIError(.notFound, "DEAD_LETTER_NOT_FOUND", "no dead letter with that id in tenant '\(tenant.id)'")
            }
            var w = JSONWriter(capacity: 4096)
            APIServer.renderDeadLetter(letter, withBody: true, into: &w)
            return jsonResponse(w.bytes)
        }

        routes.tenant(.admin).post("/streaming/dlq/_replay") { request, context -> Response in
            let tenant = context.tenant
            let (scope, ids) = try dlqSelection(request, tenant: tenant.id)
            let count = try await delivery.replayDeadLetters(scope, ids: ids)
            return jsonResponse(Array("{\"replayed\":\(count)}".utf8))
        }

        routes.tenant(.admin).post("/streaming/dlq/_purge") { request, context -> Response in
            let tenant = context.tenant
            let (scope, ids) = try dlqSelection(request, tenant: tenant.id)
            let count = try await delivery.purgeDeadLetters(scope, ids: ids)
            return jsonResponse(Array("{\"purged\":\(count)}".utf8))
        }

        // The nodes sharing the store and the delivery leases: spans every tenant, so an admin token for "*".
        routes.global(.admin).get("/api/cluster") { request, _ -> Response in
            let (nodes, leases) = try await delivery.cluster()
            let leaseMs = Int64(delivery.leaseMs)
            var w = JSONWriter(capacity: 1024)
            w.beginObject()
            w.key("node")
            w.string(delivery.node.rawValue)
            w.key("leaseMs")
            w.int(leaseMs)
            w.key("nodes")
            w.beginArray()
            for n in nodes {
                w.beginObject()
                w.key("id")
                w.string(n.id.rawValue)
                w.key("joined")
                w.int(n.joined)
                w.key("lastHeartbeat")
                w.int(n.lastHeartbeat)
                w.key("silentMs")
                w.int(n.silentMs)
                w.key("live")
                w.bool(n.silentMs < leaseMs)
                w.key("leases")
                w.int(leases.filter { $0.holder == n.id }.count)
                w.endObject()
            }
            w.endArray()
            w.key("leases")
            w.beginArray()
            for l in leases {
                w.beginObject()
                w.key("tenant")
                w.string(l.key.tenant)
                w.key("destination")
                w.string(l.key.destination)
                w.key("holder")
                w.string(l.holder.rawValue)
                w.key("token")
                w.int(l.token)
                w.key("since")
                w.int(l.since)
                w.key("expires")
                w.int(l.expires)
                w.endObject()
            }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }

        routes.global(.read).get("/api/plugins") { request, _ -> Response in
            var w = JSONWriter(capacity: 1024)
            w.beginObject()
            w.key("directories")
            w.beginArray()
            for d in delivery.registry.directories { w.string(d) }
            w.endArray()
            w.key("plugins")
            w.beginArray()
            for s in delivery.registry.statuses { APIServer.renderPluginStatus(s, into: &w) }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }
    }

    /// `?destination=ID`: one destination of the tenant (404 when it has none of that id), or all of them.
    func dlqScope(_ request: Request, tenant: String) throws -> DeliveryScope {
        guard let destination = request.uri.queryParameters["destination"].map(String.init) else { return .tenant(tenant) }
        let key = DestinationKey(tenant: tenant, destination: destination)
        guard delivery?.hasDestination(key) ?? false else {
            throw APIError(
                .notFound, "UNKNOWN_DESTINATION", "tenant '\(tenant)' has no destination '\(Echo.cut(destination))'")
        }
        return .destination(key)
    }

    /// `?destination=ID` and `?ids=1,2,3` select what a DLQ replay or purge acts on; at least one is required.
    func dlqSelection(_ request: Request, tenant: String) throws -> (DeliveryScope, [Int64]?) {
        let scope = try dlqScope(request, tenant: tenant)
        var ids: [Int64]?
        if let text = request.uri.queryParameters["ids"] {
            let parsed = text.split(separator: ",").map { Int64($0) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
                throw APIError(.badRequest, "INVALID_PARAMETER", "'ids' must be a comma-separated list of dead-letter ids")
            }
            guard parsed.count <= 1000 else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER", "'ids' names \(parsed.count) dead letters; at most 1000 per request")
            }
            ids = parsed.compactMap { $0 }
        }
        if scope.destination == nil && ids == nil && request.uri.queryParameters["all"] != "true" {
            throw APIError(
                .badRequest, "INVALID_PARAMETER",
                "name what to act on: ?destination=ID, ?ids=1,2 or ?all=true")
        }
        return (scope, ids)
    }

    static func renderDeadLetter(_ l: DeadLetter, withBody: Bool, into w: inout JSONWriter) {
        w.beginObject()
        w.key("id")
        w.int(l.id)
        w.key("destination")
        w.string(l.key.destination)
        w.key("seq")
        w.int(l.message.seq)
        w.key("messageId")
        w.string(l.message.id)
        w.key("eventType")
        w.string(l.message.eventType)
        w.key("objectUri")
        w.string(l.message.objectURI)
        w.key("status")
        w.string(l.status)
        w.key("reason")
        w.string(l.reason)
        w.key("attempts")
        w.int(l.attempts)
        w.key("firstAttempt")
        w.int(l.firstAttempt)
        w.key("lastAttempt")
        w.int(l.lastAttempt)
        w.key("plugin")
        w.string(l.plugin)
        w.key("pluginVersion")
        w.string(l.pluginVersion)
        w.key("bodyBytes")
        w.int(l.message.body.count)
        if withBody {
            w.key("headers")
            w.beginObject()
            for h in l.message.headers {
                w.key(h.name)
                w.string(h.value)
            }
            w.endObject()
            w.key("body")
            l.message.body.withUnsafeBufferPointer { w.string(utf8: $0) }
        }
        w.endObject()
    }

    static func renderPluginStatus(_ s: PluginStatus, into w: inout JSONWriter) {
        w.beginObject()
        w.key("name")
        w.string(s.name)
        w.key("loaded")
        w.bool(s.isLoaded)
        w.key("manifest")
        w.string(s.manifestPath)
        w.key("library")
        w.string(s.library)
        if let p = s.plugin {
            w.key("version")
            w.string(p.version)
            w.key("abi")
            w.string("\(p.abiMajor).\(p.abiMinor)")
            w.key("description")
            w.string(p.summary)
        }
        if let e = s.error {
            w.key("errorCode")
            w.string(e.code.rawValue)
            w.key("error")
            w.string(e.message)
        }
        w.endObject()
    }
}
