import Foundation
import HeraldConfig
import Testing

/// `server`: connection caps, timeouts, TLS files and what counts as loopback.
struct ServerConfigurationTests {
    func parse(server: String, baseDirectory: String = "/etc/herald") throws -> ServerConfiguration {
        let text = #"{"dataDirectory": "d", "tenants": [], "server": {\#(server)}}"#
        return try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: baseDirectory).server
    }

    func issues(server: String, baseDirectory: String = "/etc/herald") -> [String] {
        do {
            _ = try parse(server: server, baseDirectory: baseDirectory)
            return []
        } catch let error as ConfigurationError {
            return error.issues.map { "\($0.path): \($0.message)" }
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func hasDefaultsForTimeoutsAndCaps() throws {
        let s = try parse(server: "")
        #expect(s.headerTimeoutMs == 10_000)
        #expect(s.bodyTimeoutMs == 60_000)
        #expect(s.idleTimeoutMs == 60_000)
        #expect(s.maxConnections == 4096)
        #expect(s.maxConnectionsPerClient == 256)
    }

    @Test func readsTimeoutsAndCaps() throws {
        let s = try parse(
            server: #""headerTimeoutMs": 1500, "bodyTimeoutMs": 2500, "idleTimeoutMs": 3500, "maxConnections": 100, "#
                + #""maxConnectionsPerClient": 10"#)
        #expect(s.headerTimeoutMs == 1500)
        #expect(s.bodyTimeoutMs == 2500)
        #expect(s.idleTimeoutMs == 3500)
        #expect(s.maxConnections == 100)
        #expect(s.maxConnectionsPerClient == 10)
    }

    @Test func aSmallerServerCapLowersTheDefaultPerClientCap() throws {
        let s = try parse(server: #""maxConnections": 50"#)
        #expect(s.maxConnectionsPerClient == 50)
    }

    @Test func refusesOutOfRangeValuesWithTheirPath() {
        let found = issues(
            server: #""headerTimeoutMs": 0, "bodyTimeoutMs": "60s", "idleTimeoutMs": 99999999, "maxConnections": 0"#)
        #expect(found.count == 4, "\(found)")
        #expect(found.contains { $0.hasPrefix("server.headerTimeoutMs:") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("server.bodyTimeoutMs:") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("server.idleTimeoutMs:") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("server.maxConnections:") }, "\(found)")
    }

    @Test func refusesAPerClientCapAboveTheServerCap() {
        let found = issues(server: #""maxConnections": 10, "maxConnectionsPerClient": 11"#)
        #expect(
            found == [
                "server.maxConnectionsPerClient: 11 is more than maxConnections (10); lower it or raise maxConnections"
            ])
    }

    @Test func stillReportsUnknownServerKeysWithASuggestion() {
        let found = issues(server: #""headerTimeoutMS": 1000"#)
        #expect(found.count == 1, "\(found)")
        #expect(
            found.first?.contains("unknown key 'headerTimeoutMS' (did you mean 'headerTimeoutMs'?)") == true, "\(found)"
        )
    }

    @Test(arguments: [
        "127.0.0.1", "127.8.9.10", "127.255.255.254", "localhost", "LocalHost", "::1", "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
    ])
    func loopbackAddresses(_ host: String) {
        #expect(ServerConfiguration.isLoopbackHost(host))
    }

    @Test(arguments: [
        "127.example.com", "127.0.0.1.nip.io", "127.0.0.1evil", "0.0.0.0", "10.1.2.3", "128.0.0.1", "1.127.0.0", "::",
        "::2", "::ffff:10.0.0.1", "fe80::1", "example.com", "", "localhost.example.com",
    ])
    func nonLoopbackAddresses(_ host: String) {
        #expect(!ServerConfiguration.isLoopbackHost(host))
    }

    @Test func theCapsAreLoweredToFitTheOpenFileLimit() {
        var s = ServerConfiguration()
        let warning = s.fitConnections(toOpenFileLimit: 1024)
        #expect(s.maxConnections == 896, "1024 files less the 128 kept for the store, plugins and logs")
        #expect(s.maxConnectionsPerClient == 256)
        #expect(warning?.contains("the open-file limit is 1024: accepting at most 896 connections") == true)

        var tiny = ServerConfiguration()
        _ = tiny.fitConnections(toOpenFileLimit: 100)
        #expect(tiny.maxConnections == 36)
        #expect(tiny.maxConnectionsPerClient == 36)

        var roomy = ServerConfiguration()
        #expect(roomy.fitConnections(toOpenFileLimit: 1 << 20) == nil)
        #expect(roomy.maxConnections == 4096)
    }

    @Test func servesPlainHTTPWithoutTLSByDefault() throws {
        let s = try parse(server: "")
        #expect(s.tls == nil)
        #expect(!s.allowPlaintext)
        #expect(try parse(server: #""allowPlaintext": true"#).allowPlaintext)
        #expect(
            issues(server: #""allowPlaintext": "yes""#) == [
                "server.allowPlaintext: expected true or false, found a string"
            ])
    }

    @Test func readsTLSFilesRelativeToTheConfigurationFile() throws {
        let dir = NSTemporaryDirectory() + "herald-tls-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/tls", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(
            toFile: dir + "/tls/cert.pem", atomically: true, encoding: .utf8)
        try "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n".write(
            toFile: dir + "/tls/key.pem", atomically: true, encoding: .utf8)
        let s = try parse(
            server: #""tls": {"certificateFile": "tls/cert.pem", "keyFile": "\#(dir)/tls/key.pem"}"#, baseDirectory: dir
        )
        #expect(s.tls == ServerTLSFiles(certificateFile: dir + "/tls/cert.pem", keyFile: dir + "/tls/key.pem"))
    }

    @Test func refusesMissingOrWrongTLSFilesWithTheirPath() throws {
        let dir = NSTemporaryDirectory() + "herald-tls-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(
            toFile: dir + "/cert.pem", atomically: true, encoding: .utf8)
        try "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n-----END ENCRYPTED PRIVATE KEY-----\n".write(
            toFile: dir + "/encrypted.pem", atomically: true, encoding: .utf8)

        let missing = issues(
            server: #""tls": {"certificateFile": "nope.pem", "keyFile": "cert.pem"}"#, baseDirectory: dir)
        #expect(missing.count == 2, "\(missing)")
        #expect(missing.contains("server.tls.certificateFile: cannot read '\(dir)/nope.pem' (missing or not readable)"))
        #expect(
            missing.contains { $0.hasPrefix("server.tls.keyFile: '\(dir)/cert.pem' holds no PEM 'PRIVATE KEY' block") })

        let encrypted = issues(
            server: #""tls": {"certificateFile": "cert.pem", "keyFile": "encrypted.pem"}"#, baseDirectory: dir)
        #expect(encrypted.count == 1)
        #expect(encrypted.first?.hasPrefix("server.tls.keyFile: '\(dir)/encrypted.pem' is an encrypted key") == true)

        let incomplete = issues(server: #""tls": {"certificateFile": "cert.pem"}"#, baseDirectory: dir)
        #expect(incomplete.count == 1)
        #expect(incomplete.first?.hasPrefix("server.tls.keyFile:") == true, "\(incomplete)")
    }
}
