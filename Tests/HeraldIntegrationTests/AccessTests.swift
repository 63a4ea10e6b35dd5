import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

@Suite(.timeLimit(.minutes(3)))
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
}
