import HeraldConfig
import HeraldModel
import Hummingbird

/// Where routes are added. There is no other way to reach the router: a route is added to a group, and the
/// group decides who may call it (its role and scope), so no route can be added without that decision.
struct RouteGroups {
    private let router: Router<HeraldRequestContext>
    private let access: AccessControl
    private let lookup: @Sendable (String) -> TenantConfiguration?

    init(
        router: Router<HeraldRequestContext>, access: AccessControl,
        lookup: @escaping @Sendable (String) -> TenantConfiguration?
    ) {
        self.router = router
        self.access = access
        self.lookup = lookup
    }

    /// Routes that need no token: `/health` and the console's static files (they hold no data).
    var open: RouterGroup<HeraldRequestContext> { router.group() }

    /// `/api/{tenant}` + the route's path, for tokens with `role` (or above) on that tenant.
    func tenant(_ role: AccessToken.Role) -> RouterGroup<TenantRequestContext> {
        router.group("/api/:tenant")
            .add(middleware: AuthorizationMiddleware(access: access, role: role, scope: .tenant(lookup: lookup)))
            .group(context: TenantRequestContext.self)
    }

    /// Routes that span tenants, for tokens with `role` (or above) and `"tenants": "*"`.
    func global(_ role: AccessToken.Role) -> RouterGroup<GlobalRequestContext> {
        router.group()
            .add(middleware: AuthorizationMiddleware(access: access, role: role, scope: .global))
            .group(context: GlobalRequestContext.self)
    }

    /// Routes for any valid token, whatever its role and tenants (`/api/whoami`).
    var signedIn: RouterGroup<SignedInRequestContext> {
        router.group()
            .add(middleware: AuthorizationMiddleware(access: access, role: .read, scope: .signedIn))
            .group(context: SignedInRequestContext.self)
    }
}

extension APIServer {
    /// The router: the middleware every request passes (metrics, the one JSON error path, path parameters),
    /// then every route in its group.
    func makeRouter() -> Router<HeraldRequestContext> {
        let router = Router(context: HeraldRequestContext.self)
        // Router middleware wraps the routes added after it, and the answer for unknown routes.
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: RouteParameterMiddleware())
        let ingest = self.ingest
        let routes = RouteGroups(router: router, access: access, lookup: { ingest.tenant($0) })
        addHealthRoutes(to: routes)
        addEntityRoutes(to: routes)
        addEventRoutes(to: routes)
        addStreamingRoutes(to: routes)
        addThroughputRoutes(to: routes)
        addStreamingManagementRoutes(to: routes)
        addFilterRoutes(to: routes)
        addMergeRoutes(to: routes)
        addAdminRoutes(to: routes)
        addConsoleRoutes(to: routes)
        return router
    }

    /// The `:id` path parameter of an entity or relation route: 400 `INVALID_PARAMETER` unless it can be an id.
    func objectId(_ context: TenantRequestContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        if let problem = ObjectID.problem(id) { throw APIError(.badRequest, "INVALID_PARAMETER", problem) }
        return id
    }
}
