import HeraldJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ServerConfiguration {
    /// Reads the connection keys of `server`: timeouts and connection caps.
    ///
    /// `read` reads the other keys from the same reader, so unknown keys are still reported once, by the caller.
    mutating func readConnectionSettings(_ r: inout JSONObjectReader) {
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
