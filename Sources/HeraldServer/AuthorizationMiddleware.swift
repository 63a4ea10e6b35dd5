import HeraldConfig
import Hummingbird

/// Decides who may call the routes of one router group, before any of them runs, and puts the caller (and the
/// tenant) into the request context.
///
/// - `.tenant` (`/api/{tenant}/…`): the token must hold `role` and the tenant of the path; a token for other
///   tenants gets 403 whether or not the tenant exists. Only then is the tenant looked up: 404
///   `UNKNOWN_TENANT` to callers allowed to know.
/// - `.global` (what spans tenants): the token must hold `role` and `"tenants": "*"`.
/// - `.signedIn` (`/api/whoami`): any configured token; `role` is not checked.
///
/// `AccessControl.authorize` orders the answers: 401 (no or unknown token) before 403 (tenant, then role). Before
/// either, a write without tokens configured must pass `CrossOriginWriteCheck`.
struct AuthorizationMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext

    enum Scope: Sendable {
        /// The route acts on the `:tenant` of its path; `lookup` resolves it (nil: not configured).
        case tenant(lookup: @Sendable (String) -> TenantConfiguration?)
        /// The route spans tenants.
        case global
        /// Any valid token (or anonymous without tokens); the route itself decides what the caller sees.
        case signedIn
    }

    let access: AccessControl
    let role: AccessToken.Role
    let scope: Scope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        try CrossOriginWriteCheck.check(request, tokensConfigured: !access.tokens.isEmpty)
        switch scope {
        case .tenant(let lookup):
            let id = context.parameters.get("tenant") ?? ""
            let user = try access.authorize(request, role, tenant: id)
            guard let tenant = lookup(id) else { throw APIError.unknownTenant(id) }
            context.caller = Caller(user: user, tenant: tenant)
        case .global:
            context.caller = Caller(user: try access.authorize(request, role, tenant: nil), tenant: nil)
        case .signedIn:
            context.identity = try access.identify(request)
        }
        return try await next(request, context)
    }
}
