import HeraldConfig
import Hummingbird

/// Bearer-token checks. With no tokens configured (loopback only) every request is allowed as `anonymous`.
struct AccessControl: Sendable {
    let tokens: [String: AccessToken]

    init(tokens: [AccessToken]) {
        var map: [String: AccessToken] = [:]
        for t in tokens { map[t.token] = t }
        self.tokens = map
    }

    /// Returns the caller's name, or throws 401/403.
    func authorize(_ request: Request, _ needed: AccessToken.Role) throws -> String {
        if tokens.isEmpty { return "anonymous" }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "UNAUTHORIZED", "missing 'Authorization: Bearer <token>' header")
        }
        guard header.hasPrefix("Bearer "), let token = tokens[String(header.dropFirst(7))] else {
            throw APIError(.unauthorized, "UNAUTHORIZED", "the bearer token is not one of the configured tokens")
        }
        guard token.role >= needed else {
            throw APIError(
                .forbidden, "FORBIDDEN", "token '\(token.name)' has role '\(token.role.rawValue)'; this needs '\(needed.rawValue)'")
        }
        return token.name
    }
}
