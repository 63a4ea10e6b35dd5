import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// TLS (`server.tls`) with a self-signed certificate made by the `openssl` CLI and checked with `curl`,
/// and the refusal to serve bearer tokens over plain HTTP off loopback.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct TransportTests {
    static let tokens = #"[{"name": "reader", "token": "read-token-0123456789", "role": "read"}]"#

    /// Writes `cert.pem` and `key.pem` (P-256, for 127.0.0.1 and localhost) into `dir`.
    func makeCertificate(in dir: TemporaryDirectory, name: String = "") throws {
        let result = try runCommand(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", dir.file("key\(name).pem"), "-out", dir.file("cert\(name).pem"), "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
        #expect(result.status == 0, "openssl: \(result.stderr)")
    }

    func curl(_ arguments: [String]) throws -> CommandResult {
        try runCommand("/usr/bin/env", ["curl", "-sS", "--max-time", "10"] + arguments)
    }

    @Test func servesHTTPSWithTheConfiguredCertificate() async throws {
        let dir = TemporaryDirectory()
        try makeCertificate(in: dir)
        let config = TestConfiguration.write(
            in: dir.path,
            server: #""headerTimeoutMs": 1000, "tls": {"certificateFile": "cert.pem", "keyFile": "key.pem"}"#)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("log"))
        #expect(server.scheme == "https", "the listening line says https")
        let port = server.port

        let trusted = try curl(["--cacert", dir.file("cert.pem"), "https://127.0.0.1:\(port)/health"])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stdout == #"{"status":"UP"}"#)

        let untrusted = try curl(["https://127.0.0.1:\(port)/health"])
        #expect(
            untrusted.status == 60, "curl refuses the self-signed certificate it was not given: \(untrusted.stderr)")

        let plain = try curl(["http://127.0.0.1:\(port)/health"])
        #expect(plain.status != 0, "plain HTTP to the TLS port fails")
        #expect(!plain.stdout.contains("UP"))

        // The header timeout runs from accept, so it also bounds a TLS handshake that never comes.
        let silent = try RawConnection(port: port)
        let opened = Date()
        let outcome = await silent.readUntilClosed(timeout: 30)
        let closedAfter = outcome.closedAt.map { $0.timeIntervalSince(opened) } ?? -1
        #expect(closedAfter >= 0.99 && closedAfter < 30, "a silent TLS client is closed after \(closedAfter) s")

        let again = try curl(["--cacert", dir.file("cert.pem"), "https://localhost:\(port)/nope"])
        #expect(again.stdout.contains(#""errorCode":"NOT_FOUND""#), "\(again.stdout) \(again.stderr)")
    }

    @Test func refusesPlainHTTPOffLoopbackUnlessAProxyTerminatesTLS() throws {
        let dir = TemporaryDirectory()
        let config = TestConfiguration.write(in: dir.path, tokens: Self.tokens)
        let refused = try runCommand(
            BuildProducts.herald, ["serve", "--config", config, "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refusing to serve plain HTTP on 0.0.0.0"), "\(refused.stderr)")
        #expect(refused.stderr.contains("server.tls") && refused.stderr.contains("server.allowPlaintext"))

        let behindProxy = TestConfiguration.write(in: dir.path, tokens: Self.tokens, server: #""allowPlaintext": true"#)
        let server = try HeraldProcess(
            configPath: behindProxy, logPath: dir.file("log"), extraArguments: ["--host", "0.0.0.0"])
        #expect(server.scheme == "http")
        let health = try TestClient(baseURL: server.baseURL).get("/health")
        #expect(health.status == 200)
        #expect(server.stop() == 0)
    }

    @Test func servesHTTPSOffLoopback() throws {
        let dir = TemporaryDirectory()
        try makeCertificate(in: dir)
        let config = TestConfiguration.write(
            in: dir.path, tokens: Self.tokens, server: #""tls": {"certificateFile": "cert.pem", "keyFile": "key.pem"}"#)
        let server = try HeraldProcess(
            configPath: config, logPath: dir.file("log"), extraArguments: ["--host", "0.0.0.0"])
        #expect(server.scheme == "https")
        let events = try curl([
            "--cacert", dir.file("cert.pem"), "-H", "Authorization: Bearer read-token-0123456789",
            "https://127.0.0.1:\(server.port)/api/t1/events",
        ])
        #expect(events.status == 0, "\(events.stderr)")
        #expect(events.stdout.contains(#""events":[]"#), "\(events.stdout)")
    }

    @Test func refusesAKeyThatDoesNotBelongToTheCertificate() throws {
        let dir = TemporaryDirectory()
        try makeCertificate(in: dir)
        try makeCertificate(in: dir, name: "-other")
        let config = TestConfiguration.write(
            in: dir.path, server: #""tls": {"certificateFile": "cert.pem", "keyFile": "key-other.pem"}"#)
        let result = try runCommand(BuildProducts.herald, ["serve", "--config", config, "--port", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("server.tls: the key in '\(dir.path)/key-other.pem'"), "\(result.stderr)")
        #expect(result.stderr.contains("cannot be used together"), "\(result.stderr)")

        try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".write(
            toFile: dir.file("broken.pem"), atomically: true, encoding: .utf8)
        let broken = TestConfiguration.write(
            in: dir.path, server: #""tls": {"certificateFile": "broken.pem", "keyFile": "key.pem"}"#)
        let result2 = try runCommand(BuildProducts.herald, ["serve", "--config", broken, "--port", "0"])
        #expect(result2.status == 2)
        #expect(
            result2.stderr.contains("server.tls.certificateFile: cannot load '\(dir.path)/broken.pem'"),
            "\(result2.stderr)")
    }
}
