import HeraldConfig
import HeraldFilter
import HeraldJSON
import HeraldModel
import Hummingbird
import NIOCore

extension APIServer {
    /// `POST /api/{tenant}/objectFilter/validate` with
    /// `{"objectFilter", "typeFilter"?, "ovOnly"?, "event"}` or `{…, "sourceObjectUri": "entities/ID"}`:
    /// whether the filter is valid, whether the event passes, and the tree of sub-expressions.
    func addFilterRoutes(to routes: RouteGroups) {
        let maxBytes = configuration.server.maxRequestBytes
        routes.tenant(.read).post("/objectFilter/validate") { request, context -> Response in
            let tenant = context.tenant
            let json = try await readJSON(request, maxBytes: maxBytes)
            let issues = JSONShapeIssues()
            guard var r = JSONObjectReader(json, at: .root, issues: issues) else {
                throw APIError(
                    .badRequest, "INVALID_REQUEST", "expected an object with objectFilter and event", path: "$")
            }
            let filter = r.string("objectFilter")
            let types = r.stringArray("typeFilter")
            let ovOnly = r.bool("ovOnly") ?? false
            _ = r.choice("payloadType", PayloadType.allCases.map(\.rawValue))
            let eventJSON = r.value("event")
            let uri = r.string("sourceObjectUri")
            r.finish()
            if let first = issues.issues.first {
                throw APIError(.badRequest, "INVALID_REQUEST", first.message, path: first.path.description)
            }
            // The filter first, against the tenant's data model (as the configuration loader checks it): a bad
            // event must not hide the filter's own error.
            if let invalid = FilterCheck.validate(objectFilter: filter, typeFilter: types, schema: tenant.schema) {
                return jsonResponse(APIServer.renderCheck(invalid))
            }
            let event: FilterCheck.SampleEvent
            if let eventJSON {
                do {
                    event = try FilterCheck.SampleEvent(json: eventJSON)
                } catch {
                    throw APIError(.badRequest, "INVALID_EVENT", "\(error)", path: "event")
                }
            } else if let uri, uri.hasPrefix("entities/") {
                let id = String(uri.dropFirst("entities/".count))
                if let problem = ObjectID.problem(id) {
                    throw APIError(
                        .badRequest, "INVALID_PARAMETER", "sourceObjectUri: \(problem)", path: "sourceObjectUri")
                }
                guard let stored = try await ingest.store.entity(tenant: tenant.id, id: id), !stored.removed else {
                    throw APIError(.notFound, "ENTITY_NOT_FOUND", "\(uri) does not exist in tenant '\(tenant.id)'")
                }
                event = FilterCheck.SampleEvent(type: .entityChanged, entity: stored.entity)
            } else {
                throw APIError(
                    .badRequest, "INVALID_REQUEST",
                    "give 'event' (an event or an entity) or 'sourceObjectUri' (entities/ID)")
            }
            let outcome = FilterCheck.evaluate(
                objectFilter: filter, typeFilter: types, ovOnly: ovOnly, event: event, schema: tenant.schema)
            return jsonResponse(APIServer.renderCheck(outcome))
        }
        addFilterTestRoutes(to: routes)
    }

    /// `{"valid": false, "error": {"message", "position"?, "expected"?}}` or
    /// `{"valid": true, "passes", "typeFilterPasses", "objectFilterPasses", "explanation"?}`.
    static func renderCheck(_ outcome: FilterCheck.Outcome) -> [UInt8] {
        var w = JSONWriter(capacity: 1024)
        w.beginObject()
        renderCheckFields(outcome, into: &w)
        w.endObject()
        return w.bytes
    }

    /// The members of `renderCheck`'s object, into an object the caller opened.
    static func renderCheckFields(_ outcome: FilterCheck.Outcome, into w: inout JSONWriter) {
        switch outcome {
        case .invalid(let message, let position, let expected):
            w.key("valid")
            w.bool(false)
            w.key("error")
            w.beginObject()
            w.key("message")
            w.string(message)
            if let position {
                w.key("position")
                w.int(position)
            }
            if let expected {
                w.key("expected")
                w.string(expected)
            }
            w.endObject()
        case .evaluated:
            w.key("valid")
            w.bool(true)
            renderEvaluation(outcome, into: &w)
        }
    }

    /// `"passes", "typeFilterPasses", "objectFilterPasses", "explanation"?` of an evaluated outcome (nothing for an
    /// invalid one), into an object the caller opened.
    static func renderEvaluation(_ outcome: FilterCheck.Outcome, into w: inout JSONWriter) {
        switch outcome {
        case .invalid:
            break
        case .evaluated(let passes, let typePasses, let objectPasses, let explanation):
            w.key("passes")
            w.bool(passes)
            w.key("typeFilterPasses")
            w.bool(typePasses)
            w.key("objectFilterPasses")
            w.bool(objectPasses)
            if let explanation {
                w.key("explanation")
                explanation.render(into: &w)
            }
        }
    }
}
