import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldSinkSupport

/// The fields of a Google service-account key file that the sink uses.
public struct ServiceAccountKey: Sendable, Equatable {
    public var clientEmail: String
    /// PEM (PKCS#8 as Google issues it, or PKCS#1).
    public var privateKey: String
    public var privateKeyId: String?
    public var tokenURI: String

    public init(clientEmail: String, privateKey: String, privateKeyId: String? = nil, tokenURI: String) {
        self.clientEmail = clientEmail
        self.privateKey = privateKey
        self.privateKeyId = privateKeyId
        self.tokenURI = tokenURI
    }

    /// Parses the JSON of a key file; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(AuthError) -> ServiceAccountKey {
        guard let json = try? JSONParser.parse(text) else {
            throw AuthError("\(source) is not a JSON service-account key file")
        }
        if let type = json["type"]?.stringValue, type != "service_account" {
            throw AuthError(
                "\(source) is a '\(type)' credential; the pubsub sink needs a service-account key (\"type\": \"service_account\")"
            )
        }
        var missing: [String] = []
        func field(_ name: String) -> String {
            guard let v = json[name]?.stringValue, !v.isEmpty else {
                missing.append(name)
                return ""
            }
            return v
        }
        let email = field("client_email")
        let pem = field("private_key")
        let tokenURI = json["token_uri"]?.stringValue ?? "https://oauth2.googleapis.com/token"
        if !missing.isEmpty {
            throw AuthError("\(source) has no \(missing.joined(separator: ", ")): not a service-account key file")
        }
        return ServiceAccountKey(
            clientEmail: email, privateKey: pem, privateKeyId: json["private_key_id"]?.stringValue, tokenURI: tokenURI)
    }
}

public struct AuthError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// OAuth2 access tokens for a service account: an RS256-signed JWT (RFC 7523) exchanged at the
/// key's `token_uri`, cached, and fetched again `refreshMarginSeconds` before it expires.
/// Safe from any thread: one fetch at a time, the others wait for its token.
public final class ServiceAccountAuth: @unchecked Sendable {
    public static let scope = "https://www.googleapis.com/auth/pubsub"
    public static let grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    /// Lifetime asked for in the JWT (Google's maximum).
    public static let assertionLifetime: Int64 = 3600

    public let key: ServiceAccountKey
    public let refreshMarginSeconds: Int64
    let timeoutMs: Int
    let connectTimeoutMs: Int
    let clock: @Sendable () -> Int64
    private let lock = NSLock()
    private var cached: (token: String, expiresAt: Int64)?
    private var client: HTTPClient?

    public init(
        key: ServiceAccountKey, refreshMarginSeconds: Int64 = 300, timeoutMs: Int = 10_000,
        connectTimeoutMs: Int = 5_000,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.key = key
        self.refreshMarginSeconds = refreshMarginSeconds
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.clock = clock
    }

    /// Checks that the private key can sign (at start, before any message depends on it).
    public func checkKey() throws(AuthError) {
        do {
            _ = try Crypto.rs256Sign(pemPrivateKey: key.privateKey, data: Array("check".utf8))
        } catch {
            throw AuthError("the service-account key of \(key.clientEmail) cannot sign: \(error.description)")
        }
    }

    /// The signed JWT assertion: header `{"alg":"RS256","typ":"JWT","kid":…}`, claims
    /// `iss` (the service account), `scope`, `aud` (the token URI), `iat`, `exp` = `iat` + 3600.
    public func assertion(issuedAt: Int64) throws(AuthError) -> String {
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("alg")
        w.string("RS256")
        w.key("typ")
        w.string("JWT")
        if let kid = key.privateKeyId {
            w.key("kid")
            w.string(kid)
        }
        w.endObject()
        let header = Base64.string(w.bytes, alphabet: .url)
        w.reset()
        w.beginObject()
        w.key("iss")
        w.string(key.clientEmail)
        w.key("scope")
        w.string(Self.scope)
        w.key("aud")
        w.string(key.tokenURI)
        w.key("iat")
        w.int(issuedAt)
        w.key("exp")
        w.int(issuedAt + Self.assertionLifetime)
        w.endObject()
        let claims = Base64.string(w.bytes, alphabet: .url)
        let signingInput = header + "." + claims
        let signature: [UInt8]
        do {
            signature = try Crypto.rs256Sign(pemPrivateKey: key.privateKey, data: Array(signingInput.utf8))
        } catch {
            throw AuthError("cannot sign the token request with the key of \(key.clientEmail): \(error.description)")
        }
        return signingInput + "." + Base64.string(signature, alphabet: .url)
    }

    /// A valid access token: the cached one, or a new one when it is within the refresh margin of
    /// its expiry. When a refresh fails while the cached token still has a minute left, that one is used.
    public func accessToken() throws(AuthError) -> String {
        lock.lock()
        defer { lock.unlock() }
        let now = clock()
        if let cached, now < cached.expiresAt - refreshMarginSeconds {
            return cached.token
        }
        do {
            let fresh = try fetch(now: now)
            cached = fresh
            return fresh.token
        } catch {
            if let cached, now < cached.expiresAt - 60 { return cached.token }
            throw error
        }
    }

    /// Forgets `token` (the API refused it), so the next call fetches a new one.
    public func invalidate(_ token: String) {
        lock.lock()
        if cached?.token == token { cached = nil }
        lock.unlock()
    }

    private func fetch(now: Int64) throws(AuthError) -> (token: String, expiresAt: Int64) {
        let jwt = try assertion(issuedAt: now)
        let body = "grant_type=\(PercentEncoding.encode(Self.grantType))&assertion=\(PercentEncoding.encode(jwt))"
        if client == nil {
            client = HTTPClient(timeout: Double(timeoutMs) / 1000, connectTimeout: Double(connectTimeoutMs) / 1000)
        }
        let response: HTTPResponse
        do {
            response = try client!.send(
                method: "POST", url: key.tokenURI,
                headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                body: Array(body.utf8))
        } catch {
            client = nil  // a fresh connection next time
            throw AuthError("cannot reach the token endpoint \(key.tokenURI): \(error.message)")
        }
        let json = try? JSONParser.parse(response.body)
        guard response.status == 200 else {
            let code = json?["error"]?.stringValue ?? "HTTP \(response.status)"
            let detail = json?["error_description"]?.stringValue ?? String(response.bodyText.prefix(300))
            throw AuthError(
                "the token endpoint \(key.tokenURI) refused the service account \(key.clientEmail): \(code)\(detail.isEmpty ? "" : ": \(detail)")"
            )
        }
        guard let token = json?["access_token"]?.stringValue, !token.isEmpty else {
            throw AuthError("the token endpoint \(key.tokenURI) answered without an access_token")
        }
        let lifetime = json?["expires_in"]?.int64Value ?? json?["expires_in"]?.doubleValue.map { Int64($0) } ?? 3600
        return (token, now + max(1, lifetime))
    }
}
