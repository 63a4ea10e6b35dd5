import Foundation
import HeraldJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The certificate and key `herald serve` answers TLS with (`server.tls`).
public struct ServerTLSFiles: Sendable, Equatable {
    /// Absolute path of a PEM file: the server certificate, then any intermediate certificates.
    public var certificateFile: String
    /// Absolute path of a PEM file with the certificate's private key (not encrypted).
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

extension ServerConfiguration {
    /// Reads the connection keys of `server`: timeouts, connection caps, `tls` and `allowPlaintext`.
    ///
    /// `read` reads the other keys from the same reader, so unknown keys are still reported once, by the caller.
    /// Relative certificate and key paths resolve against `baseDirectory`.
    mutating func readConnectionSettings(_ r: inout JSONObjectReader, baseDirectory: String) {
        if let ms = r.int("headerTimeoutMs", in: 100...600_000) { headerTimeoutMs = Int(ms) }
        if let ms = r.int("bodyTimeoutMs", in: 100...3_600_000) { bodyTimeoutMs = Int(ms) }
        if let ms = r.int("idleTimeoutMs", in: 100...3_600_000) { idleTimeoutMs = Int(ms) }
        if let n = r.int("maxConnections", in: 1...1_000_000) { maxConnections = Int(n) }
        if let n = r.int("maxConnectionsPerClient", in: 1...1_000_000) {
            maxConnectionsPerClient = Int(n)
            if n > maxConnections {
                r.report(
                    "maxConnectionsPerClient",
                    "\(n) is more than maxConnections (\(maxConnections)); lower it or raise maxConnections")
            }
        } else {
            maxConnectionsPerClient = min(maxConnectionsPerClient, maxConnections)
        }
        if let allow = r.bool("allowPlaintext") { allowPlaintext = allow }
        tls = r.object("tls") { t -> ServerTLSFiles? in
            let certificate = t.string("certificateFile", required: true).map {
                HeraldConfiguration.resolve($0, against: baseDirectory)
            }
            let key = t.string("keyFile", required: true).map {
                HeraldConfiguration.resolve($0, against: baseDirectory)
            }
            if let certificate, let problem = Self.pemProblem(certificate, expecting: "CERTIFICATE") {
                t.report("certificateFile", problem)
            }
            if let key, let problem = Self.pemProblem(key, expecting: "PRIVATE KEY") {
                t.report("keyFile", problem)
            }
            guard let certificate, let key else { return nil }
            return ServerTLSFiles(certificateFile: certificate, keyFile: key)
        }
    }

    /// Why `path` cannot be a PEM file holding a `label` block, or nil when it looks like one.
    /// Only a shape check: `herald serve` parses the file and says what is wrong with its contents.
    static func pemProblem(_ path: String, expecting label: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return "cannot read '\(path)' (missing or not readable)"
        }
        defer { try? handle.close() }
        let limit = 1 << 20
        let data = (try? handle.read(upToCount: limit + 1)) ?? Data()
        if data.count > limit { return "'\(path)' is over 1 MiB; that is not a PEM \(label.lowercased()) file" }
        let text = String(decoding: data, as: UTF8.self)
        // "-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----", …
        guard text.contains("-----BEGIN "), text.contains(label + "-----") else {
            let hint = label == "CERTIFICATE" ? "the certificate" : "an unencrypted private key"
            return "'\(path)' holds no PEM '\(label)' block; give \(hint) in PEM form (-----BEGIN \(label)-----)"
        }
        if label == "PRIVATE KEY" && text.contains("ENCRYPTED") {
            return "'\(path)' is an encrypted key; decrypt it (openssl pkey -in KEY -out PLAIN) and make the "
                + "plain key readable by herald only"
        }
        return nil
    }

    /// Files kept for everything but client connections (the store, plugins and their sockets, logs) when
    /// fitting the caps to an open-file limit.
    public static func reservedFiles(forLimit limit: Int) -> Int { max(64, limit / 8) }

    /// Lowers `maxConnections` (and the per-client cap) to what `limit` open files can hold. Without this, accept()
    /// would fail with EMFILE once the files run out, and every new connection, `/health` too, would wait in the
    /// listen backlog until an old one closed.
    ///
    /// - Returns: a warning to log when the caps were lowered.
    public mutating func fitConnections(toOpenFileLimit limit: Int) -> String? {
        let room = max(1, limit - Self.reservedFiles(forLimit: limit))
        guard maxConnections > room else { return nil }
        let configured = maxConnections
        maxConnections = room
        maxConnectionsPerClient = min(maxConnectionsPerClient, room)
        return "server.maxConnections is \(configured) but the open-file limit is \(limit): accepting at most \(room) "
            + "connections; raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) to allow more"
    }

    /// Whether `host` only reaches this machine: `localhost`, an IPv4 literal in 127.0.0.0/8, `::1`, or an
    /// IPv4-mapped `::ffff:127.x.y.z`. A DNS name is never loopback, whatever it starts with (`127.example.com`).
    public static func isLoopbackHost(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let b = withUnsafeBytes(of: &v6) { Array($0) }
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
            let mapped = b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF
            return mapped && b[12] == 127
        }
        return false
    }
}
