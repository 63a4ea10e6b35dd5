import Foundation
import HeraldConfig
import HeraldDelivery
import HeraldJSON
import HeraldModel
import HeraldSetup
import HeraldStorage
import Hummingbird

/// The streaming management API (docs/api.md#managing-streaming, decision 0014): destinations and providers read and
/// changed in the configuration file's shape, pause, resume and seek, and the audit list. Every change is validated
/// as `herald config check` validates the file, stored, and applied without a restart.
extension APIServer {
    func addStreamingManagementRoutes(to routes: RouteGroups) {
        guard let settings, let delivery else { return }
        // A destination or provider is a few hundred bytes of JSON: 1 MiB leaves room for long filters and field lists.
        let maxBytes = min(configuration.server.maxRequestBytes, 1 << 20)

        routes.tenant(.read).get("/streaming/destinations") { _, context -> Response in
            let layered = try APIServer.layered(settings)
            let tenant = context.tenant.id
            let overrides = try await delivery.store.streamingOverrides()
            var w = JSONWriter(capacity: 4096)
            w.beginObject()
            w.key("destinations")
            w.beginArray()
            for d in layered.destinations(tenant: tenant) { w.value(d) }
            w.endArray()
            w.key("managed")
            w.beginObject()
            for d in layered.destinations(tenant: tenant) {
                guard let id = d["id"]?.stringValue else { continue }
                let key = StreamingSettingKey(tenant: tenant, kind: .destination, id: id)
                let o = overrides.overrides.first { $0.key == key && $0.body != nil }
                let pause = overrides.pauses.first { $0.key == DestinationKey(tenant: tenant, destination: id) }
                w.key(id)
                w.beginObject()
                w.key("origin")
                w.string(o == nil ? "file" : "api")
                if let o {
                    w.key("updatedBy")
                    w.string(o.updatedBy)
                    w.key("updatedAt")
                    w.int(o.updatedAt)
                }
                w.key("paused")
                w.bool(pause != nil)
                if let pause {
                    w.key("pausedBy")
                    w.string(pause.pausedBy)
                    w.key("pausedAt")
                    w.int(pause.pausedAt)
                }
                w.endObject()
            }
            w.endObject()
            w.endObject()
            return jsonResponse(w.bytes)
        }

        routes.tenant(.admin).post("/streaming/destinations") { request, context -> Response in
            let body = try await readJSON(request, maxBytes: maxBytes)
            let created = try await APIServer.managed {
                try await settings.createDestination(tenant: context.tenant.id, body: body, actor: context.user)
            }
            return jsonResponse(created.serialized(), status: .created)
        }

        routes.tenant(.read).get("/streaming/destinations/:id") { _, context -> Response in
            let id = try APIServer.settingId(context)
            guard let d = try APIServer.layered(settings).destination(tenant: context.tenant.id, id: id) else {
                throw APIServer.noDestination(id, context.tenant.id)
            }
            return jsonResponse(d.serialized())
        }

        routes.tenant(.admin).put("/streaming/destinations/:id") { request, context -> Response in
            let id = try APIServer.settingId(context)
            let body = try await readJSON(request, maxBytes: maxBytes)
            let d = try await APIServer.managed {
                try await settings.replaceDestination(tenant: context.tenant.id, id: id, body: body, actor: context.user)
            }
            return jsonResponse(d.serialized())
        }

        routes.tenant(.admin).patch("/streaming/destinations/:id") { request, context -> Response in
            let id = try APIServer.settingId(context)
            let patch = try await readJSON(request, maxBytes: maxBytes)
            let d = try await APIServer.managed {
                try await settings.patchDestination(tenant: context.tenant.id, id: id, patch: patch, actor: context.user)
            }
            return jsonResponse(d.serialized())
        }

        routes.tenant(.admin).delete("/streaming/destinations/:id") { _, context -> Response in
            let id = try APIServer.settingId(context)
            try await APIServer.managed {
                try await settings.deleteDestination(tenant: context.tenant.id, id: id, actor: context.user)
            }
            return Response(status: .noContent)
        }

        for (action, paused) in [("_pause", true), ("_resume", false)] {
            routes.tenant(.write).post("/streaming/destinations/:id/\(action)") { _, context -> Response in
                let id = try APIServer.settingId(context)
                let was = try await APIServer.managed {
                    try await settings.setPaused(tenant: context.tenant.id, id: id, paused: paused, actor: context.user)
                }
                var w = JSONWriter(capacity: 128)
                w.beginObject()
                w.key("id")
                w.string(id)
                w.key("paused")
                w.bool(paused)
                w.key("changed")
                w.bool(was != paused)
                w.endObject()
                return jsonResponse(w.bytes)
            }
        }

        routes.tenant(.admin).post("/streaming/destinations/:id/_seek") { request, context -> Response in
            let id = try APIServer.settingId(context)
            let tenant = context.tenant.id
            let body = try await readJSON(request, maxBytes: 4096)
            guard let paused = settings.isPaused(tenant: tenant, id: id) else { throw APIServer.noDestination(id, tenant) }
            guard paused else {
                throw APIError(
                    .conflict, "DESTINATION_NOT_PAUSED",
                    "pause destination '\(Echo.cut(id))' first (POST …/_pause): its cursor moves only while nothing delivers it")
            }
            let key = DestinationKey(tenant: tenant, destination: id)
            let last = try await ingest.store.lastSequence(tenant: tenant)
            let next = try await APIServer.seekTarget(body, store: delivery.store, tenant: tenant, last: last)
            let previous = try await delivery.store.cursor(key) ?? 0
            let cursor = next - 1
            let change = StreamingChange(
                tenant: tenant, at: Int64(Date().timeIntervalSince1970 * 1000), actor: context.user, action: "seek",
                kind: "destination", target: id, before: "{\"cursor\":\(previous)}", after: "{\"cursor\":\(cursor)}")
            do {
                try await delivery.seek(key, to: cursor, change: change)
            } catch let refusal as DeliveryService.SeekRefusal {
                switch refusal {
                case .unknownDestination: throw APIServer.noDestination(id, tenant)
                case .notPaused:
                    throw APIError(.conflict, "DESTINATION_NOT_PAUSED", "destination '\(Echo.cut(id))' is not paused on this node yet; try again")
                case .busy(let holder):
                    throw APIError(
                        .conflict, "DESTINATION_BUSY",
                        "node \(holder) still holds the delivery lease of '\(Echo.cut(id))' (it applies the pause within seconds); try again")
                }
            }
            var w = JSONWriter(capacity: 128)
            w.beginObject()
            w.key("id")
            w.string(id)
            w.key("previousCursor")
            w.int(previous)
            w.key("cursor")
            w.int(cursor)
            w.key("nextSeq")
            w.int(next)
            w.endObject()
            return jsonResponse(w.bytes)
        }

        routes.tenant(.read).get("/streaming/providers") { _, context -> Response in
            var w = JSONWriter(capacity: 2048)
            w.beginObject()
            w.key("providers")
            w.beginArray()
            for (alias, json) in try APIServer.layered(settings).providers(tenant: context.tenant.id) {
                APIServer.renderProvider(alias, json, into: &w)
            }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }

        routes.tenant(.read).get("/streaming/providers/:id") { _, context -> Response in
            let alias = try APIServer.settingId(context)
            guard let p = try APIServer.layered(settings).providers(tenant: context.tenant.id).first(where: { $0.alias == alias })
            else {
                throw APIError(.notFound, "PROVIDER_NOT_FOUND", "tenant '\(context.tenant.id)' has no provider '\(Echo.cut(alias))'")
            }
            var w = JSONWriter(capacity: 1024)
            APIServer.renderProvider(p.alias, p.json, into: &w)
            return jsonResponse(w.bytes)
        }

        routes.tenant(.admin).put("/streaming/providers/:id") { request, context -> Response in
            let alias = try APIServer.settingId(context)
            let body = try await readJSON(request, maxBytes: maxBytes)
            let p = try await APIServer.managed {
                try await settings.putProvider(tenant: context.tenant.id, alias: alias, body: body, actor: context.user)
            }
            var w = JSONWriter(capacity: 1024)
            APIServer.renderProvider(alias, p, into: &w)
            return jsonResponse(w.bytes)
        }

        routes.tenant(.read).get("/streaming/changes") { request, context -> Response in
            let limit = try queryInt(request, "limit", default: 100, range: 1...1000)
            let before = try request.uri.queryParameters["before"].map { _ in
                try queryInt(request, "before", default: 0, range: 1...Int64.max)
            }
            let changes = try await delivery.store.streamingChanges(
                tenant: context.tenant.id, beforeId: before, limit: Int(limit))
            var w = JSONWriter(capacity: 4096)
            w.beginObject()
            w.key("changes")
            w.beginArray()
            for c in changes {
                w.beginObject()
                w.key("id")
                w.int(c.id)
                w.key("at")
                w.int(c.at)
                w.key("actor")
                w.string(c.actor)
                w.key("action")
                w.string(c.action)
                w.key("kind")
                w.string(c.kind)
                w.key("target")
                w.string(c.target)
                for (name, text) in [("before", c.before), ("after", c.after)] {
                    w.key(name)
                    if let text, let json = try? JSONParser.parse(Array(text.utf8)) { w.value(json) } else { w.null() }
                }
                w.endObject()
            }
            w.endArray()
            w.key("next")
            if let last = changes.last, changes.count == Int(limit) { w.int(last.id) } else { w.null() }
            w.endObject()
            return jsonResponse(w.bytes)
        }
    }

    static func layered(_ settings: ConfigurationRuntime) throws -> LayeredConfiguration {
        guard let layered = settings.layered else {
            throw APIError(.serviceUnavailable, "STARTING", "the configuration is not loaded yet")
        }
        return layered
    }

    /// The `:id` of a destination or provider route, percent-decoded (`file%2Fpeople` is `file/people`).
    static func settingId(_ context: TenantRequestContext) throws -> String {
        let raw = context.parameters.get("id") ?? ""
        guard let id = raw.removingPercentEncoding, !id.isEmpty, id.utf8.count <= 512 else {
            throw APIError(
                .badRequest, "INVALID_PARAMETER",
                "'\(Echo.cut(raw))' is not a destination id or provider alias (percent-encode '/' as %2F)")
        }
        return id
    }

    static func noDestination(_ id: String, _ tenant: String) -> APIError {
        APIError(.notFound, "DESTINATION_NOT_FOUND", "tenant '\(tenant)' has no destination '\(Echo.cut(id))'")
    }

    static func renderProvider(_ alias: String, _ json: JSONValue, into w: inout JSONWriter) {
        var members = ProviderSecrets.redact(json).objectValue ?? []
        members.removeAll { $0.key == "alias" }
        members.insert(JSONMember(key: "alias", value: .string(alias)), at: 0)
        w.value(.object(members))
    }

    /// Runs a change, turning the runtime's refusals into API errors.
    @discardableResult
    static func managed<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refusal as ConfigurationRuntime.Refusal {
            switch refusal {
            case .notFound(let id):
                throw APIError(.notFound, "NOT_FOUND", "no destination or provider '\(Echo.cut(id))' in this tenant")
            case .exists(let id):
                throw APIError(
                    .conflict, "DESTINATION_EXISTS",
                    "destination '\(Echo.cut(id))' exists; change it with PUT or PATCH …/destinations/{id}, or give another id")
            case .limit(let message):
                throw APIError(.conflict, "TOO_MANY_SETTINGS", message)
            case .badRequest(let message, let field):
                throw APIError(.badRequest, "INVALID_REQUEST", message, path: field)
            case .invalid(let problems):
                var error = APIError(
                    .badRequest, "INVALID_CONFIGURATION",
                    "the change was not applied: \(problems.count) configuration error\(problems.count == 1 ? "" : "s")"
                        + (problems.first.map { " (first: \($0.path): \($0.message))" } ?? ""))
                error.issues = problems.map { APIError.Issue(path: $0.path, field: $0.field, message: $0.message) }
                throw error
            }
        }
    }

    /// `{"seq": N}` (deliver from event N on) or `{"time": "ISO-8601" | epoch ms}` (from the first event at or after
    /// it): the first seq to deliver after the seek.
    static func seekTarget(_ body: JSONValue, store: any Store, tenant: String, last: Int64) async throws -> Int64 {
        let seq = body["seq"]
        let time = body["time"]
        guard body.objectValue != nil, (seq == nil) != (time == nil) else {
            throw APIError(
                .badRequest, "INVALID_REQUEST",
                "give either {\"seq\": N} (deliver from event N on) or {\"time\": \"2026-12-07T10:00:00Z\"} (from the first event at or after it)")
        }
        if let seq {
            guard let n = seq.int64Value, n >= 1, n <= last + 1 else {
                throw APIError(
                    .badRequest, "INVALID_REQUEST", "'seq' must be an integer from 1 to \(last + 1) (the next event)",
                    path: "seq")
            }
            return n
        }
        let ms: Int64
        if let n = time?.int64Value {
            ms = n
        } else if let text = time?.stringValue, let date = ISO8601DateFormatter().date(from: text) {
            ms = Int64(date.timeIntervalSince1970 * 1000)
        } else {
            throw APIError(
                .badRequest, "INVALID_REQUEST", "'time' must be ISO 8601 (2026-12-07T10:00:00Z) or epoch milliseconds",
                path: "time")
        }
        return try await store.firstEventSeq(tenant: tenant, atOrAfter: ms) ?? last + 1
    }
}
