import Foundation
import HeraldConfig
import HeraldIngest
import HeraldJSON
import HeraldMatchRules
import HeraldModel
import Hummingbird
import NIOCore

extension APIServer {
    func addMergeRoutes(to routes: RouteGroups) {
        routes.tenant(.read).get("/entities/:id/_potentialMatches") { request, context -> Response in
            let tenant = context.tenant
            let id = try objectId(context)
            guard let stored = try await ingest.store.entity(tenant: tenant.id, id: id), stored.isLive else {
                throw APIError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist, or was merged or removed")
            }
            let matches = try await ingest.store.potentialMatches(tenant: tenant.id, id: id)
            let labels = ingest.relevanceLabels(tenant: tenant.id, type: stored.entity.type)
            return jsonResponse(IngestService.potentialMatchesJSON(matches, labels: labels))
        }

        routes.tenant(.write).post("/entities/:id/_notMatch") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let id = try objectId(context)
            let other = try entityParameter(request, "uri")
            try await mergeCall { try await ingest.notMatch(tenant: tenant, id: id, other: other, user: user) }
            return jsonResponse(Array("{\"status\":\"success\"}".utf8))
        }

        routes.tenant(.write).post("/entities/:id/_sameAs") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let id = try objectId(context)
            let other = try entityParameter(request, "uri")
            let explicit = request.uri.queryParameters["explicitWinner"].map { $0 == "true" } ?? false
            var expected: Int64?
            if let tag = request.headers[.ifMatch] {
                // An ETag of the entity's version ("3", or W/"3"); anything else would silently drop the precondition.
                var version = Substring(tag.trimmingCharacters(in: .whitespaces))
                if version.hasPrefix("W/") { version = version.dropFirst(2) }
                if version.hasPrefix("\""), version.hasSuffix("\""), version.count >= 2 { version = version.dropFirst().dropLast() }
                guard let v = Int64(version), v > 0 else {
                    throw APIError(
                        .badRequest, "INVALID_IF_MATCH",
                        "If-Match must be the entity's version as an ETag, e.g. If-Match: \"3\" (got '\(Echo.cut(tag))')")
                }
                expected = v
            }
            let winner = try await mergeCall {
                try await ingest.sameAs(
                    tenant: tenant, id: id, other: other, explicitWinner: explicit, expectedVersion: expected, user: user)
            }
            return jsonResponse(Array("{\"status\":\"success\",\"uri\":\"entities/\(winner)\"}".utf8))
        }

        routes.tenant(.write).post("/entities/:id/_unmerge") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let id = try objectId(context)
            let spawn = try entityParameter(request, "contributorURI")
            try await mergeCall { try await ingest.unmerge(tenant: tenant, id: id, spawn: spawn, user: user) }
            return jsonResponse(Array("{\"status\":\"success\",\"a\":\"entities/\(id)\",\"b\":\"entities/\(spawn)\"}".utf8))
        }

        let maxBytes = configuration.server.maxRequestBytes
        routes.tenant(.write).post("/relations") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let items = try await readArray(request, maxBytes: maxBytes)
            let results = try await ingest.postRelations(tenant: tenant, items: items, user: user)
            return jsonResponse(renderResults(results, tenant: tenant.id))
        }

        routes.tenant(.read).get("/relations/:id") { request, context -> Response in
            let tenant = context.tenant
            let id = try objectId(context)
            guard let stored = try await ingest.store.relation(tenant: tenant.id, id: id), !stored.removed else {
                throw APIError(.notFound, "RELATION_NOT_FOUND", "relations/\(id) does not exist in tenant '\(tenant.id)'")
            }
            var w = JSONWriter(capacity: 2048)
            stored.entity.render(into: &w)
            return jsonResponse(w.bytes, extraHeaders: [.eTag: "\"\(stored.version)\""])
        }

        routes.tenant(.write).delete("/relations/:id") { request, context -> Response in
            let user = context.user
            let tenant = context.tenant
            let id = try objectId(context)
            switch try await ingest.removeRelation(tenant: tenant, id: id, user: user) {
            case .notFound:
                throw APIError(.notFound, "RELATION_NOT_FOUND", "relations/\(id) does not exist in tenant '\(tenant.id)'")
            case .removed(let uri, let version):
                return jsonResponse(Array("{\"status\":\"success\",\"uri\":\"\(uri)\",\"objectVersion\":\(version)}".utf8))
            }
        }
    }

    /// `?name=entities/ID` → `ID`.
    func entityParameter(_ request: Request, _ name: String) throws -> String {
        guard let value = request.uri.queryParameters[Substring(name)].map(String.init), value.hasPrefix("entities/") else {
            throw APIError(.badRequest, "INVALID_PARAMETER", "query parameter '\(name)' must be an entity URI: entities/ID")
        }
        let id = value.dropFirst("entities/".count)
        if let problem = ObjectID.problem(id) {
            throw APIError(.badRequest, "INVALID_PARAMETER", "query parameter '\(name)' must be an entity URI: \(problem)")
        }
        return String(id)
    }

    /// Maps merge errors to API errors.
    func mergeCall<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as MergeError {
            switch error.kind {
            case .notFound: throw APIError(.notFound, error.code, error.message)
            case .invalid: throw APIError(.badRequest, error.code, error.message)
            case .conflict: throw APIError(.conflict, error.code, error.message)
            }
        }
    }

    /// Reads a JSON body of at most `maxBytes`: too large → 413, not JSON → 400 with the position.
    func readJSON(_ request: Request, maxBytes: Int) async throws -> JSONValue {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(maxBytes)
        }
        do {
            return try buffer.withUnsafeReadableBytes { raw throws(JSONParseError) in
                try JSONParser.parse(raw.bindMemory(to: UInt8.self))
            }
        } catch {
            throw APIError.malformedJSON(error)
        }
    }

    /// Reads a JSON array body (the same rules as entity posts).
    func readArray(_ request: Request, maxBytes: Int) async throws -> [JSONValue] {
        let json = try await readJSON(request, maxBytes: maxBytes)
        guard case .array(let items) = json else {
            throw APIError(.badRequest, "INVALID_REQUEST", "expected a JSON array, found \(json.kindDescription)", path: "$")
        }
        return items
    }
}
