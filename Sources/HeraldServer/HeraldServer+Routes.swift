import HeraldConfig
import HeraldModel
import Hummingbird

/// A request that passed authorization for one tenant: who made it, and the tenant it acts on.
struct TenantCaller: Sendable {
    let user: String
    let tenant: TenantConfiguration
}

extension HeraldServer {
    /// Registers `/api/{tenant}` + `path`. Before `handler` runs, the token is checked for `role` and for the
    /// tenant (a token scoped to other tenants gets 403 whether or not the tenant exists), then the tenant is
    /// resolved (404 when it is not configured). Handlers get the tenant only from here.
    func tenantRoute(
        _ router: Router<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: String, _ role: AccessToken.Role,
        _ handler: @escaping @Sendable (Request, BasicRequestContext, TenantCaller) async throws -> Response
    ) {
        let access = self.access
        let ingest = self.ingest
        router.on(RouterPath("/api/:tenant" + path), method: method) { request, context -> Response in
            let id = context.parameters.get("tenant") ?? ""
            let user = try access.authorize(request, role, tenant: id)
            guard let tenant = ingest.tenant(id) else { throw APIError.unknownTenant(id) }
            return try await handler(request, context, TenantCaller(user: user, tenant: tenant))
        }
    }

    /// Registers a route that spans tenants: its token needs `role` and `"tenants": "*"`.
    func globalRoute(
        _ router: Router<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: String, _ role: AccessToken.Role,
        _ handler: @escaping @Sendable (Request, BasicRequestContext, String) async throws -> Response
    ) {
        let access = self.access
        router.on(RouterPath(path), method: method) { request, context -> Response in
            let user = try access.authorize(request, role, tenant: nil)
            return try await handler(request, context, user)
        }
    }

    /// The `:id` path parameter of an entity or relation route: 400 `INVALID_PARAMETER` unless it can be an id.
    func objectId(_ context: BasicRequestContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        if let problem = ObjectID.problem(id) { throw APIError(.badRequest, "INVALID_PARAMETER", problem) }
        return id
    }
}
