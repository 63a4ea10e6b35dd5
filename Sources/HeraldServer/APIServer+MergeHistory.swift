import HeraldJSON
import HeraldMatchRules
import HeraldModel
import HeraldStorage
import Hummingbird

extension APIServer {
    /// Merge records `_merges` answers at most (the oldest).
    static let maxMergeHistory = 1000

    /// `GET /api/{tenant}/entities/{id}/_merges`: the merges in effect that involve the entity, oldest first.
    func addMergeHistoryRoutes(to routes: RouteGroups) {
        routes.tenant(.read).get("/entities/:id/_merges") { request, context -> Response in
            let tenant = context.tenant
            let id = try objectId(context)
            guard let stored = try await ingest.store.entity(tenant: tenant.id, id: id) else {
                throw APIError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist in tenant '\(tenant.id)'")
            }
            let records = try await ingest.store.mergeHistory(
                tenant: tenant.id, id: id, limit: APIServer.maxMergeHistory)
            var w = JSONWriter(capacity: 128 * records.count + 32)
            w.beginObject()
            w.key("merges")
            w.beginArray()
            let labels = ingest.relevanceLabels(tenant: tenant.id, type: stored.entity.type)
            for r in records { APIServer.renderMerge(r, labels: labels, into: &w) }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }
    }

    /// `{"winner": "entities/…", "loser": "entities/…", "time", "user"?, "matchRules"?, "relevance"?}`.
    static func renderMerge(_ r: MergeRecord, labels: RecordedMatchGroups.Labels = [:], into w: inout JSONWriter) {
        w.beginObject()
        w.key("winner")
        w.string("entities/" + r.winner)
        w.key("loser")
        w.string("entities/" + r.loser)
        w.key("time")
        w.int(r.time)
        if !r.user.isEmpty {
            w.key("user")
            w.string(r.user)
        }
        if !r.matchRules.isEmpty { RecordedMatchGroups.write(r.matchRules, labels: labels, into: &w) }
        w.endObject()
    }
}
