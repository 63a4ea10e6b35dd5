import HeraldConfig
import HeraldJSON
import HeraldTestSupport
import Hummingbird
import Testing

@testable import HeraldServer

/// Every route's role and scope, as its router group decides them: no token 401, a token for another tenant 403
/// (before the tenant is looked up), a role below the route's 403, the right token through to the handler.
@Suite(.timeLimit(.minutes(3)))
struct RouteAuthorizationTests {
    struct Route: Sendable, CustomStringConvertible {
        let method: HTTPRequest.Method
        /// As the router names it (`{tenant}`, `{id}`).
        let template: String
        /// A path to call, `{t}` standing for the tenant.
        let path: String
        let role: AccessToken.Role
        var body: String? = nil

        var description: String { "\(method) \(template)" }
        func uri(_ tenant: String) -> String { path.replacingOccurrences(of: "{t}", with: tenant) }
    }

    static let tenantRoutes: [Route] = [
        Route(method: .post, template: "/api/{tenant}/entities", path: "/api/{t}/entities", role: .write, body: "[]"),
        Route(method: .get, template: "/api/{tenant}/entities/{id}", path: "/api/{t}/entities/nosuch", role: .read),
        Route(method: .delete, template: "/api/{tenant}/entities/{id}", path: "/api/{t}/entities/nosuch", role: .write),
        Route(
            method: .get, template: "/api/{tenant}/entities/{id}/_potentialMatches",
            path: "/api/{t}/entities/nosuch/_potentialMatches", role: .read),
        Route(
            method: .post, template: "/api/{tenant}/entities/{id}/_notMatch",
            path: "/api/{t}/entities/nosuch/_notMatch?uri=entities/other", role: .write),
        Route(
            method: .post, template: "/api/{tenant}/entities/{id}/_sameAs",
            path: "/api/{t}/entities/nosuch/_sameAs?uri=entities/other", role: .write),
        Route(
            method: .post, template: "/api/{tenant}/entities/{id}/_unmerge",
            path: "/api/{t}/entities/nosuch/_unmerge?contributorURI=entities/other", role: .write),
        Route(method: .post, template: "/api/{tenant}/relations", path: "/api/{t}/relations", role: .write, body: "[]"),
        Route(method: .get, template: "/api/{tenant}/relations/{id}", path: "/api/{t}/relations/nosuch", role: .read),
        Route(method: .delete, template: "/api/{tenant}/relations/{id}", path: "/api/{t}/relations/nosuch", role: .write),
        Route(
            method: .get, template: "/api/{tenant}/entities/{id}/_merges", path: "/api/{t}/entities/nosuch/_merges",
            role: .read),
        Route(method: .get, template: "/api/{tenant}/events", path: "/api/{t}/events", role: .read),
        Route(
            method: .post, template: "/api/{tenant}/objectFilter/validate", path: "/api/{t}/objectFilter/validate",
            role: .read, body: #"{"objectFilter": "exists(attributes.FirstName)", "event": {}}"#),
        Route(
            method: .post, template: "/api/{tenant}/objectFilter/_test", path: "/api/{t}/objectFilter/_test",
            role: .read, body: #"{"objectFilter": "exists(attributes.FirstName)"}"#),
        Route(method: .get, template: "/api/{tenant}/streaming/status", path: "/api/{t}/streaming/status", role: .read),
        Route(
            method: .get, template: "/api/{tenant}/streaming/throughput", path: "/api/{t}/streaming/throughput",
            role: .read),
        Route(method: .get, template: "/api/{tenant}/streaming/dlq", path: "/api/{t}/streaming/dlq", role: .read),
        Route(method: .get, template: "/api/{tenant}/streaming/dlq/{id}", path: "/api/{t}/streaming/dlq/1", role: .read),
        Route(
            method: .post, template: "/api/{tenant}/streaming/dlq/_replay", path: "/api/{t}/streaming/dlq/_replay?all=true",
            role: .admin),
        Route(
            method: .post, template: "/api/{tenant}/streaming/dlq/_purge", path: "/api/{t}/streaming/dlq/_purge?all=true",
            role: .admin),
        // The management API, on settings that do not exist (so every allowed role gets the same answer).
        Route(method: .get, template: "/api/{tenant}/streaming/destinations", path: "/api/{t}/streaming/destinations", role: .read),
        Route(
            method: .post, template: "/api/{tenant}/streaming/destinations", path: "/api/{t}/streaming/destinations",
            role: .admin, body: "{}"),
        Route(
            method: .get, template: "/api/{tenant}/streaming/destinations/{id}", path: "/api/{t}/streaming/destinations/no%2Fsuch",
            role: .read),
        Route(
            method: .put, template: "/api/{tenant}/streaming/destinations/{id}", path: "/api/{t}/streaming/destinations/no%2Fsuch",
            role: .admin, body: "{}"),
        Route(
            method: .patch, template: "/api/{tenant}/streaming/destinations/{id}", path: "/api/{t}/streaming/destinations/no%2Fsuch",
            role: .admin, body: "{}"),
        Route(
            method: .delete, template: "/api/{tenant}/streaming/destinations/{id}", path: "/api/{t}/streaming/destinations/no%2Fsuch",
            role: .admin),
        Route(
            method: .post, template: "/api/{tenant}/streaming/destinations/{id}/_pause",
            path: "/api/{t}/streaming/destinations/no%2Fsuch/_pause", role: .write, body: "{}"),
        Route(
            method: .post, template: "/api/{tenant}/streaming/destinations/{id}/_resume",
            path: "/api/{t}/streaming/destinations/no%2Fsuch/_resume", role: .write, body: "{}"),
        Route(
            method: .post, template: "/api/{tenant}/streaming/destinations/{id}/_seek",
            path: "/api/{t}/streaming/destinations/no%2Fsuch/_seek", role: .admin, body: #"{"seq": 1}"#),
        Route(method: .get, template: "/api/{tenant}/streaming/providers", path: "/api/{t}/streaming/providers", role: .read),
        Route(
            method: .get, template: "/api/{tenant}/streaming/providers/{id}", path: "/api/{t}/streaming/providers/nosuch",
            role: .read),
        Route(
            method: .put, template: "/api/{tenant}/streaming/providers/{id}", path: "/api/{t}/streaming/providers/nosuch",
            role: .admin, body: "{}"),
        Route(method: .get, template: "/api/{tenant}/streaming/changes", path: "/api/{t}/streaming/changes", role: .read),
    ]
    static let globalRoutes: [Route] = [
        Route(method: .get, template: "/metrics", path: "/metrics", role: .read),
        Route(method: .get, template: "/api/plugins", path: "/api/plugins", role: .read),
        Route(method: .get, template: "/api/cluster", path: "/api/cluster", role: .admin),
        Route(method: .post, template: "/api/admin/_reload", path: "/api/admin/_reload", role: .admin),
    ]
    /// The scoped token of each role for t1.
    static let t1Token: [AccessToken.Role: String] = [.read: "t1-reader", .write: "t1-writer", .admin: "t1-admin"]
    static let roles: [AccessToken.Role] = [.read, .write, .admin]

    /// The tables above are the whole API: a route added without a decided role and a row here fails this.
    @Test func theTablesListEveryRouteOfTheRouter() async throws {
        let harness = try await RouteHarness()
        let router = harness.server.makeRouter()
        let registered = Set(router.routes.map(\.description))
        // Open: /health and the console's static files; any signed-in caller: /api/whoami (ConsoleRouteTests).
        let ungrouped = ["GET /health", "GET /console", "GET /console/{file}", "GET /api/whoami"]
        let listed = Set((Self.tenantRoutes + Self.globalRoutes).map(\.description) + ungrouped)
        #expect(registered == listed, "not listed: \(registered.subtracting(listed)); gone: \(listed.subtracting(registered))")
        try router.validate()
        await harness.close()
    }

    @Test func everyTenantRouteAnswersByItsGroupsRoleAndTenant() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            for route in Self.tenantRoutes {
                // 401 first: no token, or one that is not configured, whatever the tenant.
                for tenant in ["t1", "nosuch"] {
                    let none = try await client.send(route.method, route.uri(tenant), body: route.body)
                    #expect(none.status == 401 && none.errorCode == "UNAUTHORIZED", "\(route) without a token: \(none.status)")
                    #expect(none.errorMessage == "missing 'Authorization: Bearer <token>' header")
                }
                let unknown = try await client.send(
                    route.method, route.uri("t1"), body: route.body, headers: [.authorization: "Bearer not-a-token-at-all"])
                #expect(unknown.status == 401 && unknown.errorCode == "UNAUTHORIZED", "\(route) with an unknown token")

                // 403 for another tenant's token, and the same 403 for a tenant that does not exist.
                let foreign = try await client.send(route.method, route.uri("t1"), token: "t2-admin", body: route.body)
                #expect(foreign.status == 403 && foreign.errorCode == "FORBIDDEN", "\(route) with t2's token on t1")
                #expect(foreign.errorMessage == "token 't2-admin' may not act on tenant 't1'", "\(route)")
                let missing = try await client.send(route.method, route.uri("nosuch"), token: "t1-admin", body: route.body)
                #expect(missing.status == 403, "\(route) with t1's token on a missing tenant: \(missing.status)")
                #expect(missing.errorMessage == "token 't1-admin' may not act on tenant 'nosuch'", "\(route)")
                // 404 for a missing tenant only to a caller allowed on every tenant.
                let rootMissing = try await client.send(route.method, route.uri("nosuch"), token: "root", body: route.body)
                #expect(rootMissing.status == 404 && rootMissing.errorCode == "UNKNOWN_TENANT", "\(route): \(rootMissing.status)")

                // Each role below the route's: 403 naming both; the route's role and above: through to the handler.
                var passed: Int?
                for role in Self.roles {
                    let r = try await client.send(route.method, route.uri("t1"), token: Self.t1Token[role]!, body: route.body)
                    if role < route.role {
                        #expect(r.status == 403 && r.errorCode == "FORBIDDEN", "\(route) with role \(role): \(r.status)")
                        #expect(
                            r.errorMessage == "token '\(Self.t1Token[role]!)' has role '\(role.rawValue)'; this needs "
                                + "'\(route.role.rawValue)'", "\(route)")
                    } else {
                        #expect(![401, 403].contains(r.status), "\(route) with role \(role): \(r.status) \(r.text)")
                        #expect(r.errorCode != "UNKNOWN_TENANT", "\(route)")
                        #expect(r.headers[.contentType] == "application/json", "\(route)")
                        #expect(passed == nil || passed == r.status, "\(route): the same answer for every allowed role")
                        passed = r.status
                    }
                }
                let root = try await client.send(route.method, route.uri("t1"), token: "root", body: route.body)
                #expect(root.status == passed, "\(route) with the '*' token: \(root.status), with t1's: \(passed ?? 0)")
            }
        }
        await harness.close()
    }

    @Test func everyGlobalRouteNeedsItsRoleOnEveryTenant() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            for route in Self.globalRoutes {
                let none = try await client.send(route.method, route.path)
                #expect(none.status == 401 && none.errorCode == "UNAUTHORIZED", "\(route) without a token")
                let scoped = try await client.send(route.method, route.path, token: "t1-admin")
                #expect(scoped.status == 403 && scoped.errorCode == "FORBIDDEN", "\(route) with a scoped token")
                #expect(scoped.errorMessage?.contains("needs a token with \"tenants\": \"*\"") == true, "\(route)")
                let reader = try await client.send(route.method, route.path, token: "root-reader")
                let admin = try await client.send(route.method, route.path, token: "root")
                #expect(admin.status == 200, "\(route) with the '*' admin token: \(admin.status) \(admin.text)")
                if route.role == .admin {
                    #expect(reader.status == 403 && reader.errorCode == "FORBIDDEN", "\(route) with a read token")
                    #expect(reader.errorMessage == "token 'root-reader' has role 'read'; this needs 'admin'")
                } else {
                    #expect(reader.status == 200, "\(route) with the '*' read token: \(reader.status)")
                }
            }
            let health = try await client.send(.get, "/health")
            #expect(health.status == 200 && health.json?["status"] == .string("UP"), "health needs no token")
        }
        await harness.close()
    }

    /// The group puts the caller into the request context: the handler records the token's name.
    @Test func theCallerReachesTheHandlerThroughTheContext() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            let posted = try await client.send(
                .post, "/api/t1/entities", token: "t1-writer", body: "[\(TestConfiguration.person(id: "1", first: "Ada"))]")
            #expect(posted.status == 200, "\(posted.text)")
            let uri = try #require(posted.json?.arrayValue?.first?["uri"]?.stringValue)
            let read = try await client.send(.get, "/api/t1/\(uri)", token: "t1-reader")
            #expect(read.json?["createdBy"] == .string("t1-writer"), "\(read.text)")
            #expect(read.json?["updatedBy"] == .string("t1-writer"))
            // The tenant too: t2 does not have it.
            let elsewhere = try await client.send(.get, "/api/t2/\(uri)", token: "root")
            #expect(elsewhere.status == 404 && elsewhere.errorCode == "ENTITY_NOT_FOUND")
        }
        await harness.close()
    }
}
