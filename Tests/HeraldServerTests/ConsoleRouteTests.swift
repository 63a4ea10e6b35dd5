import Foundation
import HeraldConfig
import HeraldJSON
import HTTPTypes
import HeraldTestSupport
import Hummingbird
import NIOCore
import Testing

@testable import HeraldServer

/// The operator console's files (`/console/`) and `GET /api/whoami`: served from the binary with their content
/// types and the console's security headers, small, without inline scripts or styles; whoami names the caller.
@Suite(.timeLimit(.minutes(3)))
struct ConsoleRouteTests {
    static let csp =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func expectConsoleHeaders(_ r: RouteResponse, _ what: String) {
        #expect(r.headers[.contentSecurityPolicy] == csp, "\(what): CSP")
        #expect(r.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(what): nosniff")
        #expect(r.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(what): Referrer-Policy")
        #expect(r.headers[.cacheControl] == "no-cache", "\(what): Cache-Control")
    }

    @Test func theConsoleIsServedWithoutATokenWithItsTypesAndHeaders() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            let bare = try await client.send(.get, "/console")
            #expect(bare.status == 301 && bare.headers[.location] == "/console/", "\(bare.status) \(bare.headers)")
            Self.expectConsoleHeaders(bare, "the redirect")

            let index = try await client.send(.get, "/console/")
            #expect(index.status == 200)
            #expect(index.headers[.contentType] == "text/html; charset=utf-8")
            #expect(index.text.contains(#"<script type="module" src="console.js"></script>"#))
            Self.expectConsoleHeaders(index, "index.html")

            for (name, file) in APIServer.consoleFiles {
                let r = try await client.send(.get, "/console/\(name)")
                #expect(r.status == 200, "\(name)")
                #expect(r.headers[.contentType] == file.contentType, "\(name)")
                #expect(Array(r.text.utf8) == file.bytes, "\(name): the embedded bytes")
                Self.expectConsoleHeaders(r, name)
            }
            let missing = try await client.send(.get, "/console/nosuch.js")
            #expect(missing.status == 404 && missing.errorCode == "NOT_FOUND")
        }
        await harness.close()
    }

    /// Under 150 KB in all, and nothing the CSP would refuse or that renders data as markup.
    @Test func theFilesAreSmallAndHoldNoInlineCodeNorMarkupSinks() throws {
        let total = APIServer.consoleFiles.values.reduce(0) { $0 + $1.bytes.count }
        #expect(total < 150_000, "the console is \(total) bytes")
        let index = String(decoding: APIServer.consoleFiles["index.html"]!.bytes, as: UTF8.self)
        #expect(!index.contains("<style"), "no inline style element")
        #expect(!index.contains("style="), "no style attribute")
        let scripts = index.components(separatedBy: "<script").dropFirst()
        #expect(scripts.allSatisfy { $0.hasPrefix(#" type="module" src=""#) }, "every script has a src")
        for (name, file) in APIServer.consoleFiles where name.hasSuffix(".js") {
            let text = String(decoding: file.bytes, as: UTF8.self)
            for sink in [
                "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", ".style.",
            ]
            where text.contains(sink) {
                Issue.record("\(name) uses \(sink)")
            }
        }
    }

    @Test func whoamiNamesTheCallerItsRoleAndItsTenants() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            let reader = try await client.send(.get, "/api/whoami", token: "t1-reader")
            #expect(reader.status == 200)
            #expect(
                reader.json?["user"] == .string("t1-reader") && reader.json?["role"] == .string("read"),
                "\(reader.text)")
            #expect(reader.json?["tenants"] == .array([.string("t1")]), "\(reader.text)")
            let root = try await client.send(.get, "/api/whoami", token: "root")
            #expect(root.json?["role"] == .string("admin"))
            #expect(root.json?["tenants"] == .array([.string("t1"), .string("t2")]), "\(root.text)")
            let t2 = try await client.send(.get, "/api/whoami", token: "t2-admin")
            #expect(t2.json?["tenants"] == .array([.string("t2")]))

            let none = try await client.send(.get, "/api/whoami")
            #expect(none.status == 401 && none.errorCode == "UNAUTHORIZED")
            let wrong = try await client.send(
                .get, "/api/whoami", headers: [.authorization: "Bearer not-a-configured-token"])
            #expect(wrong.status == 401 && wrong.errorCode == "UNAUTHORIZED")
        }
        await harness.close()
    }

    /// Without tokens (loopback only) every caller is `anonymous`, with every right.
    @Test func withoutTokensTheCallerIsAnonymousAdmin() throws {
        let request = Request(
            head: HTTPRequest(method: .get, scheme: "http", authority: "127.0.0.1", path: "/api/whoami"),
            body: RequestBody(buffer: ByteBuffer()))
        let identity = try AccessControl(tokens: []).identify(request)
        #expect(identity.user == "anonymous" && identity.role == .admin && identity.tenants == .all)
    }
}
