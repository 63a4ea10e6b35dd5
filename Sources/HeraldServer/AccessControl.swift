import HeraldConfig
import HeraldJSON
import Hummingbird

/// Bearer-token checks: who is calling, with which role, on which tenant.
///
/// With no tokens configured (loopback only) every request is allowed as `anonymous`. Otherwise:
/// - no or unknown token → 401 `UNAUTHORIZED`;
/// - a token whose `tenants` do not include the request's tenant → 403 `FORBIDDEN`, decided before the
///   tenant is looked up, with the same answer whether the tenant exists or not;
/// - a route that spans tenants (`/metrics`, `/api/plugins`, reload) needs a token for `"*"`;
/// - a role below the route's → 403 `FORBIDDEN`.
///
/// The scheme is matched case-insensitively (RFC 7235) and the token is compared with every configured
/// token in constant time, so the time taken does not tell how much of a guess was right.
struct AccessControl: Sendable {
    let tokens: [AccessToken]

    init(tokens: [AccessToken]) {
        self.tokens = tokens
    }

    /// Returns the caller's name, or throws 401/403.
    /// - Parameter tenant: the tenant the request acts on; nil for what spans tenants (needs `"*"`).
    func authorize(_ request: Request, _ needed: AccessToken.Role, tenant: String?) throws -> String {
        if tokens.isEmpty { return "anonymous" }
        let token = try presentedToken(request)
        if let tenant {
            guard token.tenants.allows(tenant) else {
                throw APIError(
                    .forbidden, "FORBIDDEN", "token '\(token.name)' may not act on tenant '\(Echo.cut(tenant))'")
            }
        } else if token.tenants != .all {
            throw APIError(
                .forbidden, "FORBIDDEN",
                "token '\(token.name)' is limited to some tenants; this spans every tenant and needs a token with \"tenants\": \"*\"")
        }
        guard token.role >= needed else {
            throw APIError(
                .forbidden, "FORBIDDEN", "token '\(token.name)' has role '\(token.role.rawValue)'; this needs '\(needed.rawValue)'")
        }
        return token.name
    }

    /// Who is calling, with which role and tenants (`GET /api/whoami`): any configured token, or `anonymous` with
    /// role `admin` on every tenant when no tokens are configured (loopback only). Throws 401 otherwise.
    func identify(_ request: Request) throws -> Identity {
        if tokens.isEmpty { return Identity(user: "anonymous", role: .admin, tenants: .all) }
        let token = try presentedToken(request)
        return Identity(user: token.name, role: token.role, tenants: token.tenants)
    }

    /// A caller as `identify` found it.
    struct Identity: Sendable {
        let user: String
        let role: AccessToken.Role
        let tenants: AccessToken.Tenants
    }

    /// The configured token the request presents, or 401 `UNAUTHORIZED`.
    private func presentedToken(_ request: Request) throws -> AccessToken {
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "UNAUTHORIZED", "missing 'Authorization: Bearer <token>' header")
        }
        guard let presented = AccessControl.bearerToken(header), let token = match(presented) else {
            throw APIError(.unauthorized, "UNAUTHORIZED", "the bearer token is not one of the configured tokens")
        }
        return token
    }

    /// The credentials of `Authorization: Bearer <token>`, the scheme in any case; nil for another scheme.
    static func bearerToken(_ header: String) -> Substring? {
        let trimmed = header.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        guard trimmed[..<space].lowercased() == "bearer" else { return nil }
        let credentials = trimmed[space...].drop { $0 == " " }
        var end = credentials.endIndex
        while end > credentials.startIndex, credentials[credentials.index(before: end)] == " " {
            end = credentials.index(before: end)
        }
        return credentials[..<end]
    }

    /// The configured token equal to `presented`. Every token is compared, each over the presented length,
    /// without an early exit.
    private func match(_ presented: Substring) -> AccessToken? {
        let candidate = Array(presented.utf8)
        var found: AccessToken?
        for token in tokens where AccessControl.constantTimeEqual(Array(token.token.utf8), candidate) {
            found = token
        }
        return found
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<b.count {
            difference |= (i < a.count ? a[i] : 0) ^ b[i]
        }
        return difference == 0 && a.count == b.count
    }
}
