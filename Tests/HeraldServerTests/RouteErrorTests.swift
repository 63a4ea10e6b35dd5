import Foundation
import HeraldConfig
import HeraldJSON
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import HeraldServer

/// Every error takes one path to the client: `ErrorMiddleware` turns it into an `APIError`, rendered as
/// `{"errorCode", "errorMessage", …}` with `Content-Type: application/json`.
@Suite(.timeLimit(.minutes(3)))
struct RouteErrorTests {
    /// The shape of every error answer.
    static func isJSONError(_ r: RouteResponse, _ status: Int, _ code: String) -> Bool {
        r.status == status && r.headers[.contentType] == "application/json" && r.errorCode == code
            && r.errorMessage?.isEmpty == false
    }

    @Test func unknownRoutesAndMethodsAreJSON404s() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            let nowhere = try await client.send(.get, "/nosuch")
            #expect(Self.isJSONError(nowhere, 404, "NOT_FOUND"), "\(nowhere.status) \(nowhere.text)")
            #expect(nowhere.errorMessage == "no route for GET /nosuch; the routes are listed in docs/api.md")
            // A known path with a method it does not have, and paths under a tenant that no route takes.
            for (method, path) in [(HTTPRequest.Method.put, "/api/t1/entities"), (.get, "/api/t1"), (.post, "/health"),
                                   (.get, "/api/t1/entities/a/b/c")] {
                let r = try await client.send(method, path, token: "root")
                #expect(Self.isJSONError(r, 404, "NOT_FOUND"), "\(method) \(path): \(r.status) \(r.text)")
                #expect(r.errorMessage?.hasPrefix("no route for \(method) \(path)") == true)
            }
        }
        await harness.close()
    }

    @Test func requestErrorsOfTheRoutesAreJSON() async throws {
        let harness = try await RouteHarness()
        try await harness.test { client in
            let malformed = try await client.send(.post, "/api/t1/entities", token: "root", body: "[{\"type\": ")
            #expect(Self.isJSONError(malformed, 400, "MALFORMED_JSON"), "\(malformed.text)")
            #expect(malformed.json?["offset"] != nil && malformed.json?["line"] != nil)
            let badId = try await client.send(.get, "/api/t1/streaming/dlq/abc", token: "root")
            #expect(Self.isJSONError(badId, 400, "INVALID_PARAMETER"), "\(badId.text)")
            let badQuery = try await client.send(.get, "/api/t1/events?limit=0", token: "root")
            #expect(Self.isJSONError(badQuery, 400, "INVALID_PARAMETER"), "\(badQuery.text)")
        }
        await harness.close()
    }

    /// A store that cannot be used: 503 `STORE_UNAVAILABLE`, not a 500.
    @Test func aClosedStoreIsJSON503() async throws {
        let harness = try await RouteHarness()
        await harness.stopDelivery()
        harness.store.close()
        try await harness.test { client in
            let r = try await client.send(
                .post, "/api/t1/entities", token: "root", body: "[\(TestConfiguration.person(id: "1", first: "Ada"))]")
            #expect(Self.isJSONError(r, 503, "STORE_UNAVAILABLE"), "\(r.status) \(r.text)")
        }
    }

    /// A full disk under the real SQLite store: 507 `STORAGE_FULL`.
    @Test func aFullDiskIsJSON507() async throws {
        let disk = try TmpfsMount(sizeKB: 1024)
        let harness = try await RouteHarness(dataDirectory: disk.path + "/data")
        try await harness.test { client in
            var refused: RouteResponse?
            var next = 0
            while refused == nil && next < 20_000 {
                let items = (next..<(next + 50)).map {
                    TestConfiguration.person(id: "\($0)", first: "First\($0)", last: "Last\($0)", email: "p\($0)@example.com")
                }
                next += 50
                let r = try await client.send(.post, "/api/t1/entities", token: "root", body: "[\(items.joined(separator: ","))]")
                if r.status != 200 { refused = r }
            }
            let full = try #require(refused, "the disk never filled")
            #expect(Self.isJSONError(full, 507, "STORAGE_FULL"), "\(full.status) \(full.text)")
            #expect(full.errorMessage?.contains("nothing of this request was written") == true)
        }
        await harness.close()
        disk.unmount()
    }

    struct Boom: Error, CustomStringConvertible {
        var description: String { "secret detail" }
    }

    /// Whatever a handler throws: Hummingbird's `HTTPError` (headers kept), other errors with a status, and
    /// errors that are bugs.
    @Test func whateverAHandlerThrowsIsJSON() async throws {
        let cases: [(any Error & Sendable, Int, String, String?)] = [
            (HTTPError(.conflict, message: "a reload is running"), 409, "CONFLICT", "a reload is running"),
            (HTTPError(.methodNotAllowed, headers: [.allow: "GET"]), 405, "METHOD_NOT_ALLOWED", nil),
            (NIOTooManyBytesError(maxBytes: 1000), 413, "REQUEST_TOO_LARGE", nil),
            (Boom(), 500, "INTERNAL_ERROR", nil),
        ]
        for (error, status, code, message) in cases {
            let harness = try await RouteHarness(reload: { throw error })
            try await harness.test { client in
                let r = try await client.send(.post, "/api/admin/_reload", token: "root")
                #expect(Self.isJSONError(r, status, code), "\(error): \(r.status) \(r.headers) \(r.text)")
                if let message { #expect(r.errorMessage == message) }
                #expect(!r.text.contains("secret detail"), "the detail of a bug stays in the log")
                if status == 405 { #expect(r.headers[.allow] == "GET", "the error's own headers are kept") }
            }
            await harness.close()
        }
    }

    struct Payload: Decodable {
        let name: String
    }

    /// Hummingbird's own decoding of a body fails with an `HTTPError`: the same JSON.
    @Test func decodingErrorsAreJSON() async throws {
        let router = Router(context: HeraldRequestContext.self)
        router.add(middleware: ErrorMiddleware(logger: Logger(label: "test")))
        router.post("/decode") { request, context -> String in
            try await request.decode(as: Payload.self, context: context).name
        }
        try await Application(router: router).test(.router) { client in
            let r = try await RouteClient(client: client).send(.post, "/decode", body: #"{"name": 3}"#)
            #expect(Self.isJSONError(r, 400, "BAD_REQUEST"), "\(r.status) \(r.text)")
            let ok = try await RouteClient(client: client).send(.post, "/decode", body: #"{"name": "x"}"#)
            #expect(ok.status == 200 && ok.text == "x")
        }
    }
}
