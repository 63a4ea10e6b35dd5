import HeraldFilter
import HeraldJSON
import HeraldModel
import HeraldStorage
import Hummingbird

extension APIServer {
    /// `last` at most: the newest events `_test` reads.
    static let maxFilterTestEvents: Int64 = 500
    /// The longest object filter `_test` takes (UTF-8 bytes): its explanation is rendered once per event.
    static let maxFilterTestBytes = 16 * 1024

    /// `POST /api/{tenant}/objectFilter/_test` with `{"objectFilter", "typeFilter"?, "ovOnly"?, "last"?}`: the filter
    /// as `/objectFilter/validate` checks it, then run against the tenant's newest `last` events of the queue
    /// (compiled once).
    func addFilterTestRoutes(to routes: RouteGroups) {
        let maxBytes = configuration.server.maxRequestBytes
        routes.tenant(.read).post("/objectFilter/_test") { request, context -> Response in
            let tenant = context.tenant
            let json = try await readJSON(request, maxBytes: maxBytes)
            let issues = JSONShapeIssues()
            guard var r = JSONObjectReader(json, at: .root, issues: issues) else {
                throw APIError(.badRequest, "INVALID_REQUEST", "expected an object with objectFilter", path: "$")
            }
            let filter = r.string("objectFilter")
            let types = r.stringArray("typeFilter")
            let ovOnly = r.bool("ovOnly") ?? false
            let last = r.int("last", in: 1...APIServer.maxFilterTestEvents) ?? 50
            r.finish()
            if let first = issues.issues.first {
                throw APIError(.badRequest, "INVALID_REQUEST", first.message, path: first.path.description)
            }
            if let filter, filter.utf8.count > APIServer.maxFilterTestBytes {
                throw APIError(
                    .badRequest, "INVALID_REQUEST",
                    "objectFilter is \(filter.utf8.count) bytes; _test takes at most \(APIServer.maxFilterTestBytes)",
                    path: "objectFilter")
            }
            let compiled: FilterCheck.Compiled
            switch FilterCheck.compile(objectFilter: filter, typeFilter: types, schema: tenant.schema) {
            case .failure(let failure): return jsonResponse(APIServer.renderCheck(failure.outcome))
            case .success(let c): compiled = c
            }
            let records = try await ingest.store.events(tenant: tenant.id, EventQuery(limit: Int(last), newest: true))
            let outcomes = records.map { record -> Result<FilterCheck.Outcome, any Error> in
                Result {
                    let entity = try record.event.entity()
                    let event = FilterCheck.SampleEvent(
                        type: record.type, entity: entity, delta: record.event.delta(for: entity))
                    return compiled.evaluate(event, ovOnly: ovOnly)
                }
            }
            let passed = outcomes.filter { if case .success(.evaluated(true, _, _, _)) = $0 { true } else { false } }
                .count
            var w = JSONWriter(capacity: 1024 * records.count + 128)
            w.beginObject()
            w.key("valid")
            w.bool(true)
            w.key("tested")
            w.int(records.count)
            w.key("passed")
            w.int(passed)
            w.key("events")
            w.beginArray()
            for (record, outcome) in zip(records, outcomes) {
                w.beginObject()
                w.key("seq")
                w.int(record.seq)
                w.key("type")
                w.string(record.type.rawValue)
                w.key("objectUri")
                w.string(record.event.objectURI)
                switch outcome {
                case .success(let evaluated):
                    APIServer.renderEvaluation(evaluated, into: &w)
                case .failure(let error):
                    // A queued event that does not decode passes nothing (delivery dead-letters it).
                    w.key("passes")
                    w.bool(false)
                    w.key("error")
                    w.string(Echo.cut("the queued event does not decode: \(error)", limit: 1000))
                }
                w.endObject()
            }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }
    }
}
