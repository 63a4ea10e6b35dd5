import HeraldConfig
import HeraldIngest
import HeraldJSON
import HeraldModel
import Hummingbird
import NIOCore

extension APIServer {
    func addEntityRoutes(to routes: RouteGroups) {
        let maxBytes = configuration.server.maxRequestBytes
        let maxItems = configuration.server.maxEntitiesPerRequest

        routes.tenant(.write).post("/entities") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let json = try await readJSON(request, maxBytes: maxBytes)
            guard case .array(let items) = json else {
                throw APIError(
                    .badRequest, "INVALID_REQUEST",
                    "expected a JSON array of entities, found \(json.kindDescription); wrap a single entity in [ ]",
                    path: "$")
            }
            guard items.count <= maxItems else {
                throw APIError(
                    .contentTooLarge, "TOO_MANY_ENTITIES",
                    "\(items.count) entities in one request; the limit is \(maxItems) (server.maxEntitiesPerRequest)")
            }
            let results = try await ingest.post(tenant: tenant, items: items, user: user)
            return jsonResponse(renderResults(results, tenant: tenant.id))
        }

        routes.tenant(.read).get("/entities/:id") { request, context -> Response in
            let tenant = context.tenant
            let id = try objectId(context)
            guard var stored = try await ingest.store.entity(tenant: tenant.id, id: id) else {
                throw APIError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist in tenant '\(tenant.id)'")
            }
            // A merged entity resolves to its winner (following later merges of the winner too).
            var redirected = false
            var hops = 0
            while let winner = stored.mergedInto, hops < 32,
                let next = try await ingest.store.entity(tenant: tenant.id, id: winner)
            {
                stored = next
                redirected = true
                hops += 1
            }
            if stored.removed {
                throw APIError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) was removed (version \(stored.version))")
            }
            var w = JSONWriter(capacity: 8192)
            stored.entity.render(into: &w)
            if redirected {
                // The answer is the winner; say which URI was asked for.
                w.bytes.removeLast()
                w.bytes.append(contentsOf: Array(",\"redirectedFrom\":\"entities/\(id)\"}".utf8))
            }
            return jsonResponse(w.bytes, extraHeaders: [.eTag: "\"\(stored.version)\""])
        }

        addMergeHistoryRoutes(to: routes)

        routes.tenant(.write).delete("/entities/:id") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let id = try objectId(context)
            switch try await ingest.remove(tenant: tenant, id: id, user: user) {
            case .notFound:
                throw APIError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist in tenant '\(tenant.id)'")
            case .removed(let uri, let version):
                var w = JSONWriter(capacity: 128)
                w.beginObject()
                w.key("status")
                w.string("success")
                w.key("uri")
                w.string(uri)
                w.key("objectVersion")
                w.int(version)
                w.endObject()
                return jsonResponse(w.bytes)
            }
        }
    }

    func renderResults(_ results: [ItemResult], tenant: String) -> [UInt8] {
        var w = JSONWriter(capacity: 64 * results.count + 16)
        var counts = (created: 0, updated: 0, unchanged: 0, failed: 0)
        w.beginArray()
        for (index, result) in results.enumerated() {
            w.beginObject()
            w.key("index")
            w.int(index)
            switch result {
            case .created(let uri), .updated(let uri), .unchanged(let uri):
                w.key("successful")
                w.bool(true)
                w.key("uri")
                w.string(uri)
                w.key("status")
                switch result {
                case .created:
                    w.string("created")
                    counts.created += 1
                case .updated:
                    w.string("updated")
                    counts.updated += 1
                default:
                    w.string("unchanged")
                    counts.unchanged += 1
                }
            case .failed(let error):
                counts.failed += 1
                w.key("successful")
                w.bool(false)
                w.key("errors")
                w.beginObject()
                w.key("errorCode")
                w.string(error.code.rawValue)
                w.key("errorMessage")
                w.string(error.message)
                w.key("path")
                w.string(error.path.description)
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
        if counts.created > 0 { metrics.entities(tenant: tenant, outcome: "created").increment(by: Int64(counts.created)) }
        if counts.updated > 0 { metrics.entities(tenant: tenant, outcome: "updated").increment(by: Int64(counts.updated)) }
        if counts.unchanged > 0 {
            metrics.entities(tenant: tenant, outcome: "unchanged").increment(by: Int64(counts.unchanged))
        }
        if counts.failed > 0 { metrics.entities(tenant: tenant, outcome: "failed").increment(by: Int64(counts.failed)) }
        return w.bytes
    }
}
