import Prometheus
import NIOCore
import Synchronization

/// Counts open connections, in all and per client address, and decides at accept whether one more may stay.
///
/// Shared by every event loop of the server (hence the lock); one instance per server.
final class ConnectionLimiter: Sendable {
    enum Decision: Equatable {
        case admitted
        /// `server.maxConnections` connections are open.
        case serverFull
        /// This client already has `server.maxConnectionsPerClient` connections open.
        case clientFull
    }

    let maxConnections: Int
    let maxPerClient: Int
    private let open: Gauge
    private let state = Mutex(State())

    private struct State {
        var total = 0
        var perClient: [String: Int] = [:]
    }

    init(maxConnections: Int, maxPerClient: Int, open: Gauge) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
        self.open = open
    }

    /// Counts a new connection from `client` if it fits under both caps; call `close` when an admitted one ends.
    func admit(client: String) -> Decision {
        let (decision, total) = state.withLock { s -> (Decision, Int) in
            if s.total >= maxConnections { return (.serverFull, s.total) }
            let mine = s.perClient[client, default: 0]
            if mine >= maxPerClient { return (.clientFull, s.total) }
            s.perClient[client] = mine + 1
            s.total += 1
            return (.admitted, s.total)
        }
        if decision == .admitted { open.set(Int64(total)) }
        return decision
    }

    /// Releases a connection that `admit` admitted.
    func close(client: String) {
        let total = state.withLock { s -> Int in
            let mine = s.perClient[client, default: 1] - 1
            s.perClient[client] = mine > 0 ? mine : nil
            s.total -= 1
            return s.total
        }
        open.set(Int64(total))
    }

    /// The key connections are counted under: the IPv4 address, or the /64 prefix of an IPv6 address (one
    /// host usually holds a whole /64, so counting single IPv6 addresses would not limit it).
    static func clientKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4:
            return address?.ipAddress ?? "unknown"
        case .v6(let a):
            var raw = a.address.sin6_addr
            let b = withUnsafeBytes(of: &raw) { Array($0) }
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
                return "\(b[12]).\(b[13]).\(b[14]).\(b[15])"  // an IPv4 client of a dual-stack listener
            }
            var groups: [String] = []
            for i in stride(from: 0, to: 8, by: 2) {
                groups.append(String(UInt16(b[i]) << 8 | UInt16(b[i + 1]), radix: 16))
            }
            return groups.joined(separator: ":") + "::/64"
        case .unixDomainSocket:
            return "unix"
        case nil:
            return "unknown"
        }
    }
}
