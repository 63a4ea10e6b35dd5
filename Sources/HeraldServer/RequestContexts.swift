import HeraldConfig
import Hummingbird

/// Who is calling, as the authorization middleware of the route's group decided it.
struct Caller: Sendable {
    /// The token's name (`anonymous` without tokens): recorded as `createdBy`/`updatedBy`.
    let user: String
    /// The tenant of `/api/{tenant}/…`, looked up after the token was found to allow it; nil for routes that
    /// span tenants.
    let tenant: TenantConfiguration?
}

/// The request context of every route. `caller` is set by `AuthorizationMiddleware` on the route's group; the
/// groups then hand their handlers a `TenantRequestContext` or `GlobalRequestContext`, which hold it without
/// optionals.
struct HeraldRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Nil until the group's authorization middleware ran, and on routes that need no token (`/health`).
    var caller: Caller?
    /// Set by the middleware of `RouteGroups.signedIn` only.
    var identity: AccessControl.Identity?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
    }
}

/// The context of an `/api/{tenant}/…` route: its caller passed the group's role and tenant checks, and the
/// tenant is configured.
struct TenantRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let user: String
    let tenant: TenantConfiguration

    init(context: HeraldRequestContext) throws {
        guard let caller = context.caller, let tenant = caller.tenant else {
            throw APIError.unauthorizedGroup(context.endpointPath)
        }
        coreContext = context.coreContext
        user = caller.user
        self.tenant = tenant
    }
}

/// The context of a route that spans tenants (`/metrics`, `/api/plugins`, `/api/admin/_reload`): its caller
/// passed the group's role check with a token for every tenant.
struct GlobalRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let user: String

    init(context: HeraldRequestContext) throws {
        guard let caller = context.caller, caller.tenant == nil else {
            throw APIError.unauthorizedGroup(context.endpointPath)
        }
        coreContext = context.coreContext
        user = caller.user
    }
}

/// The context of a route for any signed-in caller (`/api/whoami`): the token is valid, nothing more was checked.
struct SignedInRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let identity: AccessControl.Identity

    init(context: HeraldRequestContext) throws {
        guard let identity = context.identity else { throw APIError.unauthorizedGroup(context.endpointPath) }
        coreContext = context.coreContext
        self.identity = identity
    }
}

extension APIError {
    /// A route whose group has no authorization middleware: a bug, refused rather than served unchecked.
    static func unauthorizedGroup(_ route: String?) -> APIError {
        APIError(
            .internalServerError, "INTERNAL_ERROR",
            "the route \(route ?? "?") was registered without an authorization group; nothing was done")
    }
}
