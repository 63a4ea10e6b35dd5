import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldTestSupport
import Testing

/// Hostile and broken clients against the real `herald serve`: slow requests, too many connections,
/// malformed requests. Slow clients connect from 127.0.0.2 and others, so that `/health` from 127.0.0.1 is
/// another client. Serialized: one burst of 2,000 connections at a time is load enough for a 2-core machine.
///
/// Times are checked strictly from below (nothing is closed before its timeout) and loosely from above: the
/// client notices a close only when its task runs, which in a full parallel test run can be seconds late.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HardeningTests {
    static let slowHead = "GET /health HTTP/1.1\r\nHost: herald\r\n"

    func start(_ dir: TemporaryDirectory, server: String = "", tokens: String = "[]", openFileLimit: Int? = nil)
        throws -> HeraldProcess
    {
        try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path, tokens: tokens, server: server), logPath: dir.file("log"),
            openFileLimit: openFileLimit)
    }

    /// Seconds `GET /health` from 127.0.0.1 takes; fails the test if it does not answer 200 within 5 s.
    func timeHealth(_ server: HeraldProcess) throws -> Double {
        let client = HTTPClient(timeout: 5, connectTimeout: 5)
        let start = Date()
        let response = try client.send(method: "GET", url: server.baseURL + "/health", headers: [], body: nil)
        let elapsed = Date().timeIntervalSince(start)
        #expect(response.status == 200)
        return elapsed
    }

    func json(_ outcome: ConnectionOutcome) -> JSONValue? { try? JSONParser.parse(outcome.body) }

    /// Waits (up to 20 s) until `done` holds: the server has worked through a burst of connections. While it is
    /// still accepting them, a new connection queues behind them in the listen backlog; that is a flood of
    /// connections, not what this suite measures (slow connections that hang once accepted).
    func waitUntil(_ what: String, _ done: () -> Bool) async {
        let deadline = Date().addingTimeInterval(20)
        while !done() && Date() < deadline { try? await Task.sleep(for: .milliseconds(100)) }
        #expect(done(), "timed out waiting until \(what)")
    }

    /// The issue's report: half-open requests held a file each until accept() failed with EMFILE, and `/health`
    /// waited in the listen backlog for over a minute. Here the open-file limit is the common default, 1024.
    @Test func slowClientsCannotStarveHealthUnderTheDefaultOpenFileLimit() async throws {
        let dir = TemporaryDirectory()
        let server = try start(dir, server: #""headerTimeoutMs": 10000"#, openFileLimit: 1024)
        #expect(server.log.contains("the open-file limit is 1024: accepting at most 896 connections"), "\(server.log)")

        let slow = try await SlowClients(count: 2000, port: server.port, source: "127.0.0.2", prefix: Self.slowHead)
        await waitUntil("1,744 connections over the per-client cap of 256 were refused") {
            slow.readAvailable()
            return slow.outcomes.count { $0.status == 429 } >= 1744
        }
        for _ in 0..<3 {
            let seconds = try timeHealth(server)
            #expect(seconds < 1, "GET /health took \(seconds) s while 256 of 2,000 slow connections hang")
        }
        // Over the per-client cap: 429 at accept. Admitted: 408 once the header timeout passes.
        #expect(await slow.waitUntilAllClosed(timeout: 30) == 2000, "every slow connection is closed")
        let refused = slow.outcomes.count { $0.status == 429 }
        let timedOut = slow.outcomes.count { $0.status == 408 }
        #expect(timedOut >= 256, "the 256 admitted ones (server.maxConnectionsPerClient) time out")
        #expect(refused + timedOut == 2000, "refused \(refused), timed out \(timedOut)")
        #expect(
            json(try #require(slow.outcomes.first { $0.status == 429 }))?["errorCode"]
                == .string("TOO_MANY_CONNECTIONS"))
        #expect(try timeHealth(server) < 1)
    }

    /// 2,000 slow connections all admitted and held: `/health` still answers at once, and each slow one is
    /// closed with 408 once the header timeout passes, not before. (The default 10 s timeout: accepting 2,000
    /// connections took a 2-core machine running other builds up to 5 s, and all must be held at once.)
    @Test func theHeaderTimeoutClosesSlowConnectionsWhileHealthAnswers() async throws {
        let dir = TemporaryDirectory()
        let server = try start(
            dir, server: #""maxConnections": 5000, "maxConnectionsPerClient": 5000"#)
        let files = server.openFileCount
        let slow = try await SlowClients(count: 2000, port: server.port, source: "127.0.0.2", prefix: Self.slowHead)
        await waitUntil("the server holds the 2,000 connections") { server.openFileCount >= files + 2000 }
        for _ in 0..<3 {
            let seconds = try timeHealth(server)
            #expect(seconds < 1, "GET /health took \(seconds) s while 2,000 slow connections hang")
        }
        #expect(await slow.waitUntilAllClosed(timeout: 30) == 2000)
        let lifetimes = zip(slow.openedAt, slow.outcomes).compactMap { opened, outcome in
            outcome.closedAt.map { $0.timeIntervalSince(opened) }
        }
        #expect(lifetimes.count == 2000)
        #expect(lifetimes.min()! >= 9.99, "closed before server.headerTimeoutMs (10 s): \(lifetimes.min()!) s")
        #expect(slow.outcomes.allSatisfy { $0.status == 408 })
        let body = try #require(json(slow.outcomes[0]))
        #expect(body["errorCode"] == .string("REQUEST_TIMEOUT"))
        #expect(body["errorMessage"]?.stringValue?.contains("within 10000 ms (server.headerTimeoutMs)") == true)
        let metrics = try TestClient(baseURL: server.baseURL).get("/metrics").text
        #expect(metrics.contains(#"herald_http_timeouts_total{kind="header"} 2000"#), "\(metrics)")
    }

    @Test func connectionCapsRefuseAtAcceptAndFreeSlotsOnClose() async throws {
        let dir = TemporaryDirectory()
        let server = try start(dir, server: #""maxConnections": 6, "maxConnectionsPerClient": 3"#)
        func served(from source: String) async throws -> RawConnection {
            let c = try RawConnection(port: server.port, source: source)
            try c.send("GET /health HTTP/1.1\r\nHost: herald\r\n\r\n")
            let answer = await c.readAnswer(timeout: 5)
            #expect(answer.status == 200, "\(source): \(String(decoding: answer.received, as: UTF8.self))")
            c.clearReceived()
            return c
        }
        var first: [RawConnection] = []
        for _ in 0..<3 { first.append(try await served(from: "127.0.0.2")) }
        let fourth = try await RawConnection(port: server.port, source: "127.0.0.2").readUntilClosed(timeout: 5)
        #expect(fourth.status == 429)
        #expect(fourth.closedAt != nil)
        #expect(json(fourth)?["errorCode"] == .string("TOO_MANY_CONNECTIONS"))
        #expect(json(fourth)?["errorMessage"]?.stringValue?.contains("server.maxConnectionsPerClient") == true)

        var second: [RawConnection] = []
        for _ in 0..<3 { second.append(try await served(from: "127.0.0.3")) }
        let full = try await RawConnection(port: server.port, source: "127.0.0.4").readUntilClosed(timeout: 5)
        #expect(full.status == 503)
        #expect(json(full)?["errorCode"] == .string("SERVER_BUSY"))
        #expect(json(full)?["errorMessage"]?.stringValue?.contains("server.maxConnections") == true)

        // Closing one frees its slot (the server notices the close; allow it a moment).
        first.removeFirst()
        var admitted = false
        for _ in 0..<50 where !admitted {
            let c = try RawConnection(port: server.port, source: "127.0.0.4")
            try c.send("GET /health HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n")
            admitted = await c.readUntilClosed(timeout: 5).status == 200
            if !admitted { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(admitted, "a slot freed by a closed connection is given to the next one")
        first.removeAll()
        second.removeAll()
        var metrics = ""
        for _ in 0..<50 where !metrics.contains("herald_http") {
            let r = try TestClient(baseURL: server.baseURL).get("/metrics")
            if r.status == 200 { metrics = r.text } else { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(metrics.contains(#"herald_http_connections_refused_total{reason="client_limit"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"herald_http_connections_refused_total{reason="server_limit"}"#), "\(metrics)")
    }

    @Test func aSlowBodyGets408AndAnUnauthenticatedOneIsCutOff() async throws {
        let dir = TemporaryDirectory()
        let tokens = #"[{"name": "loader", "token": "write-token-0123456789", "role": "write"}]"#
        let server = try start(dir, server: #""bodyTimeoutMs": 2000"#, tokens: tokens)
        let head =
            "POST /api/t1/entities HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"

        let writer = try RawConnection(port: server.port)
        try writer.send(head + "Authorization: Bearer write-token-0123456789\r\n\r\n[{")
        let sent = Date()
        let answer = await writer.readUntilClosed(timeout: 30)
        #expect(answer.status == 408)
        #expect(json(answer)?["errorCode"] == .string("REQUEST_TIMEOUT"))
        #expect(json(answer)?["errorMessage"]?.stringValue?.contains("server.bodyTimeoutMs") == true)
        #expect(answer.closedAt.map { $0.timeIntervalSince(sent) } ?? 0 >= 1.99)
        let text = String(decoding: answer.received, as: UTF8.self)
        #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "exactly one answer: \(text)")

        // No token: 401 before the body arrives; the body is still drained, so the connection is closed when the
        // body times out, with nothing more sent.
        let stranger = try RawConnection(port: server.port)
        try stranger.send(head + "\r\n[{")
        let start = Date()
        let unauthorized = await stranger.readAnswer(timeout: 5)
        #expect(unauthorized.status == 401)
        #expect(unauthorized.closedAt == nil, "answered while the body is still awaited")
        stranger.clearReceived()
        let after = await stranger.readUntilClosed(timeout: 30)
        #expect(after.closedAt != nil)
        #expect(after.received.isEmpty, "nothing after the 401")
        #expect(after.closedAt.map { $0.timeIntervalSince(start) } ?? 0 >= 1.99)
        #expect(try timeHealth(server) < 1)
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let dir = TemporaryDirectory()
        let server = try start(dir, server: #""idleTimeoutMs": 5000"#)
        let c = try RawConnection(port: server.port)
        var answered: Date?
        for _ in 0..<2 {
            try c.send("GET /health HTTP/1.1\r\nHost: herald\r\n\r\n")
            let answer = await c.readAnswer(timeout: 5)
            #expect(answer.status == 200, "keep-alive requests within the idle timeout are served")
            answered = answer.lastDataAt
            c.clearReceived()
            try await Task.sleep(for: .milliseconds(300))
        }
        let lastAnswer = try #require(answered)
        let outcome = await c.readUntilClosed(timeout: 30)
        let closedAfter = outcome.closedAt.map { $0.timeIntervalSince(lastAnswer) } ?? -1
        #expect(closedAfter >= 4.9 && closedAfter < 30, "closed \(closedAfter) s after the last answer")
        #expect(outcome.received.isEmpty, "an idle close sends nothing")
    }

    /// After an answer the connection waits under the idle timeout; once the next request starts, the header
    /// timeout applies again, so a slow second request cannot use the (longer) idle timeout.
    @Test func aSlowSecondRequestOnAKeepAliveConnectionGetsTheHeaderTimeout() async throws {
        let dir = TemporaryDirectory()
        let server = try start(dir, server: #""headerTimeoutMs": 1000, "idleTimeoutMs": 20000"#)
        let c = try RawConnection(port: server.port)
        try c.send("GET /health HTTP/1.1\r\nHost: herald\r\n\r\n")
        #expect(await c.readAnswer(timeout: 5).status == 200)
        c.clearReceived()
        try await Task.sleep(for: .milliseconds(1500))  // longer than the header timeout: the idle wait is not bounded by it
        try c.send("GET /health HTTP/1.1\r\n")
        let started = Date()
        let outcome = await c.readUntilClosed(timeout: 30)
        #expect(outcome.status == 408)
        let closedAfter = outcome.closedAt.map { $0.timeIntervalSince(started) } ?? -1
        #expect(closedAfter >= 0.99 && closedAfter < 30, "closed \(closedAfter) s after the request started")
    }

    @Test func unknownRoutesAndMalformedIdsGetJSONErrors() async throws {
        let dir = TemporaryDirectory()
        let server = try start(dir)
        let client = TestClient(baseURL: server.baseURL)
        func expectError(_ method: String, _ path: String, _ status: Int, _ code: String, _ words: String) throws {
            let r = try client.request(method, path)
            #expect(r.status == status, "\(method) \(path): \(r.status) \(r.text)")
            #expect(r.json?["errorCode"] == .string(code), "\(method) \(path): \(r.text)")
            let message = r.json?["errorMessage"]?.stringValue ?? ""
            #expect(message.contains(words), "\(method) \(path): \(message)")
            #expect(message.utf8.count < 400, "messages quote at most 200 bytes of the request")
        }
        try expectError("GET", "/nope", 404, "NOT_FOUND", "no route for GET /nope")
        try expectError("PUT", "/api/t1/entities", 404, "NOT_FOUND", "no route for PUT /api/t1/entities")
        try expectError("GET", "/api/t1/entities/", 404, "NOT_FOUND", "GET /api/t1/entities/")
        try expectError("GET", "/" + String(repeating: "x", count: 5000), 404, "NOT_FOUND", "xxx…(5001 bytes)")
        try expectError("GET", "/api/t1/entities/%zz", 400, "INVALID_PARAMETER", "ids are letters and digits")
        try expectError("GET", "/api/t1/streaming/dlq/abc", 400, "INVALID_PARAMETER", "'abc' is not a dead-letter id")
        try expectError("GET", "/api/t1/streaming/dlq/-1", 400, "INVALID_PARAMETER", "'-1' is not a dead-letter id")
        // Well-formed but unknown: the routes' own 404s.
        try expectError("GET", "/api/t1/entities/0Ab3xY9z", 404, "ENTITY_NOT_FOUND", "entities/0Ab3xY9z")
        try expectError("GET", "/api/t1/streaming/dlq/42", 404, "DEAD_LETTER_NOT_FOUND", "no dead letter")
        try expectError("GET", "/api/t9/events", 404, "UNKNOWN_TENANT", "'t9'")

        // Requests HTTP/1.1 cannot parse: JSON instead of an empty 400.
        let spaces = try RawConnection(port: server.port)
        try spaces.send("GET /api/t1/entities/a b HTTP/1.1\r\nHost: herald\r\n\r\n")
        let malformed = await spaces.readUntilClosed(timeout: 5)
        #expect(malformed.status == 400)
        #expect(json(malformed)?["errorCode"] == .string("MALFORMED_REQUEST"))
        let huge = try RawConnection(port: server.port)
        try huge.send(
            "GET /health HTTP/1.1\r\nHost: herald\r\nX-Big: " + String(repeating: "b", count: 100_000) + "\r\n\r\n")
        let tooLarge = await huge.readUntilClosed(timeout: 5)
        #expect(tooLarge.status == 431)
        #expect(json(tooLarge)?["errorCode"] == .string("REQUEST_HEADERS_TOO_LARGE"))
        #expect(try timeHealth(server) < 1)
    }
}
