import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

@Suite(.blocking, .timeLimit(.minutes(10)))
struct AccessTests {
    static let tokens = """
        [{"name": "reader", "token": "read-token-0123456789", "role": "read"},
         {"name": "loader", "token": "write-token-0123456789", "role": "write"}]
        """

    @Test func bearerTokensAreCheckedPerRole() throws {
        let dir = TemporaryDirectory()
        let server = try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path, tokens: AccessTests.tokens), logPath: dir.file("log"))
        let anonymous = TestClient(baseURL: server.baseURL)
        let none = try anonymous.post("/api/t1/entities", "[]")
        #expect(none.status == 401)
        #expect(none.json?["errorCode"] == .string("UNAUTHORIZED"))

        let wrong = TestClient(baseURL: server.baseURL, token: "not-a-token-at-all")
        #expect(try wrong.get("/api/t1/events").status == 401)

        let reader = TestClient(baseURL: server.baseURL, token: "read-token-0123456789")
        let forbidden = try reader.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "A"))]")
        #expect(forbidden.status == 403)
        #expect(forbidden.json?["errorCode"] == .string("FORBIDDEN"))
        #expect(try reader.get("/api/t1/events").status == 200)

        let writer = TestClient(baseURL: server.baseURL, token: "write-token-0123456789")
        let ok = try writer.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "A"))]")
        #expect(ok.status == 200)
        let uri = try #require(ok.json?.arrayValue?.first?["uri"]?.stringValue)
        #expect(try reader.get("/api/t1/\(uri)").json?["createdBy"] == .string("loader"))
        #expect(try anonymous.get("/health").status == 200, "health needs no token")
    }

    @Test func refusesToExposeTheAPIWithoutTokens() throws {
        let dir = TemporaryDirectory()
        let config = TestConfiguration.write(in: dir.path)
        let result = try runCommand(BuildProducts.herald, ["serve", "--config", config, "--host", "0.0.0.0", "--port", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("refusing to listen on 0.0.0.0 without access tokens"))
    }

    // MARK: tenant scopes

    static let scopedTokens = """
        [{"name": "t1-admin", "token": "t1-admin-token-0123456789", "role": "admin", "tenants": ["t1"]},
         {"name": "t2-admin", "token": "t2-admin-token-0123456789", "role": "admin", "tenants": ["t2"]},
         {"name": "t1-reader", "token": "t1-read-token-0123456789", "role": "read", "tenants": ["t1"]},
         {"name": "root", "token": "root-admin-token-0123456789", "role": "admin", "tenants": "*"},
         {"name": "legacy", "token": "legacy-admin-token-0123456789", "role": "admin"}]
        """

    /// Every route of the API: method, path (with {t} for the tenant), body.
    static let tenantRoutes: [(String, String, String?)] = [
        ("POST", "/api/{t}/entities", "[]"), ("GET", "/api/{t}/entities/nosuch", nil),
        ("DELETE", "/api/{t}/entities/nosuch", nil), ("GET", "/api/{t}/events", nil),
        ("POST", "/api/{t}/objectFilter/validate", #"{"filter": "exists(attributes.FirstName)"}"#),
        ("GET", "/api/{t}/streaming/status", nil), ("GET", "/api/{t}/streaming/dlq", nil),
        ("GET", "/api/{t}/streaming/dlq/1", nil), ("POST", "/api/{t}/streaming/dlq/_replay?all=true", ""),
        ("POST", "/api/{t}/streaming/dlq/_purge?all=true", ""), ("GET", "/api/{t}/entities/nosuch/_potentialMatches", nil),
        ("POST", "/api/{t}/entities/nosuch/_notMatch?uri=entities/other", ""),
        ("POST", "/api/{t}/entities/nosuch/_sameAs?uri=entities/other", ""),
        ("POST", "/api/{t}/entities/nosuch/_unmerge?contributorURI=entities/other", ""), ("POST", "/api/{t}/relations", "[]"),
        ("GET", "/api/{t}/relations/nosuch", nil), ("DELETE", "/api/{t}/relations/nosuch", nil),
        ("GET", "/api/{t}/entities/nosuch/_merges", nil), ("GET", "/api/{t}/streaming/throughput", nil),
        ("POST", "/api/{t}/objectFilter/_test", "{}"),
    ]
    static let globalRoutes: [(String, String, String?)] = [
        ("GET", "/metrics", nil), ("GET", "/api/plugins", nil), ("POST", "/api/admin/_reload", ""),
    ]

    /// Each route with a token for the right tenant, for another tenant, for a tenant that does not exist,
    /// and for every tenant; what spans tenants with a scoped token and with "*".
    @Test func everyRouteChecksTheTokensTenants() throws {
        let dir = TemporaryDirectory()
        let t2 = TestConfiguration.tenantJSON.replacingOccurrences(of: "\"id\": \"t1\"", with: "\"id\": \"t2\"")
        let config = TestConfiguration.write(
            in: dir.path, tokens: AccessTests.scopedTokens, tenants: TestConfiguration.tenantJSON + ",\n" + t2)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("log"))
        let t1 = TestClient(baseURL: server.baseURL, token: "t1-admin-token-0123456789")
        let t2admin = TestClient(baseURL: server.baseURL, token: "t2-admin-token-0123456789")
        let root = TestClient(baseURL: server.baseURL, token: "root-admin-token-0123456789")
        let legacy = TestClient(baseURL: server.baseURL, token: "legacy-admin-token-0123456789")
        func call(_ client: TestClient, _ route: (String, String, String?), tenant: String) throws -> (Int, JSONValue?) {
            let r = try client.request(route.0, route.1.replacingOccurrences(of: "{t}", with: tenant), body: route.2)
            return (r.status, r.json)
        }
        for route in AccessTests.tenantRoutes {
            let name = "\(route.0) \(route.1)"
            let own = try call(t1, route, tenant: "t1")
            #expect(own.0 != 401 && own.0 != 403, "\(name) with t1's token on t1: \(own.0)")
            let other = try call(t2admin, route, tenant: "t1")
            #expect(other.0 == 403 && other.1?["errorCode"] == .string("FORBIDDEN"), "\(name) with t2's token on t1: \(other.0)")
            let missing = try call(t1, route, tenant: "nosuch")
            #expect(missing.0 == 403, "\(name) with t1's token on a missing tenant: \(missing.0) (must not tell it is missing)")
            #expect(missing.1?["errorCode"] == .string("FORBIDDEN"))
            #expect(
                missing.1?["errorMessage"]?.stringValue == "token 't1-admin' may not act on tenant 'nosuch'",
                "\(name): a missing tenant gets the same answer as a foreign one")
            let star = try call(root, route, tenant: "t1")
            #expect(star.0 == own.0, "\(name) with the '*' token: \(star.0), with t1's: \(own.0)")
            let starMissing = try call(root, route, tenant: "nosuch")
            #expect(starMissing.0 == 404 && starMissing.1?["errorCode"] == .string("UNKNOWN_TENANT"), "\(name): \(starMissing.0)")
            #expect(try call(legacy, route, tenant: "t2").0 == (try call(root, route, tenant: "t2").0), "\(name): no tenants = every tenant")
        }
        for route in AccessTests.globalRoutes {
            let name = "\(route.0) \(route.1)"
            let scoped = try call(t1, route, tenant: "")
            #expect(scoped.0 == 403 && scoped.1?["errorCode"] == .string("FORBIDDEN"), "\(name) with a scoped token: \(scoped.0)")
            let star = try call(root, route, tenant: "")
            #expect(star.0 == 200, "\(name) with the '*' token: \(star.0)")
        }
        let reader = TestClient(baseURL: server.baseURL, token: "t1-read-token-0123456789")
        #expect(try reader.post("/api/t1/entities", "[]").status == 403, "the role still counts within the tenant")
        #expect(try reader.get("/api/t1/events").status == 200)
        #expect(server.log.contains("token 'legacy' has no 'tenants'"), "serve warns about a token without tenants")
    }

    @Test func theBearerSchemeIsCaseInsensitiveAndTokensMustMatchWhole() throws {
        let dir = TemporaryDirectory()
        let server = try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path, tokens: AccessTests.tokens), logPath: dir.file("log"))
        let client = TestClient(baseURL: server.baseURL)
        for header in ["bearer read-token-0123456789", "BEARER  read-token-0123456789", "Bearer read-token-0123456789 "] {
            #expect(try client.request("GET", "/api/t1/events", headers: [("Authorization", header)]).status == 200, "\(header)")
        }
        for header in ["Basic read-token-0123456789", "Bearer read-token-012345678", "Bearer read-token-01234567890",
                       "Bearer", "Bearerread-token-0123456789"] {
            #expect(try client.request("GET", "/api/t1/events", headers: [("Authorization", header)]).status == 401, "\(header)")
        }
    }

    @Test func configCheckWarnsAboutUnscopedTokensAndRefusesUnknownTenants() throws {
        let dir = TemporaryDirectory()
        let config = TestConfiguration.write(in: dir.path, tokens: AccessTests.tokens)
        let ok = try runCommand(BuildProducts.herald, ["config", "check", config])
        #expect(ok.status == 0)
        #expect(ok.stderr.contains("warning: server.tokens[0]: token 'reader' has no 'tenants'"), "\(ok.stderr)")
        let bad = TestConfiguration.write(
            in: dir.path, tokens: #"[{"name": "x", "token": "x-token-0123456789", "role": "read", "tenants": ["t1", "t9"]}, {"name": "y", "token": "y-token-0123456789", "role": "read", "tenants": []}]"#)
        let refused = try runCommand(BuildProducts.herald, ["config", "check", bad])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("server.tokens[0].tenants: unknown tenant 't9' (configured: t1)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("server.tokens[1].tenants: expected \"*\""), "\(refused.stderr)")
    }
}
