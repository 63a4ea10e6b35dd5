import HeraldConfig
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Prometheus

/// What `GuardedChannel.setup` hands to `handle`: the wrapped channel's value, or a connection refused at accept.
enum GuardedValue<Admitted: ServerChildChannelValue>: ServerChildChannelValue {
    case admitted(Admitted)
    case refused(any Channel)

    var channel: any Channel {
        switch self {
        case .admitted(let value): return value.channel
        case .refused(let channel): return channel
        }
    }
}

/// Sets up each accepted connection. Over a connection cap: only `ConnectionRefusalHandler`. Otherwise
/// `ReadActivityHandler` first (it sees the raw bytes, before TLS), then the wrapped channel: TLS when
/// configured, and Hummingbird's HTTP/1 pipeline with `RequestTimeoutHandler`.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = GuardedValue<Base.Value>

    let base: Base
    let limits: ConnectionLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // The remote address is known from accept, before the channel is registered.
        let client = ConnectionLimiter.clientKey(channel.remoteAddress)
        let limiter = limits.limiter
        let refusal: APIError
        switch limiter.admit(client: client) {
        case .admitted:
            channel.closeFuture.whenComplete { _ in limiter.close(client: client) }
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ReadActivityHandler())
            }.flatMap {
                base.setup(channel: channel, logger: logger)
            }.map { .admitted($0) }
        case .serverFull:
            limits.refusedServerFull.increment()
            refusal = APIError(
                .serviceUnavailable, "SERVER_BUSY",
                "the server has \(limiter.maxConnections) connections open, its limit (server.maxConnections); "
                    + "retry in a moment")
        case .clientFull:
            limits.refusedClientFull.increment()
            refusal = APIError(
                .tooManyRequests, "TOO_MANY_CONNECTIONS",
                "\(client) has \(limiter.maxPerClient) connections open, the limit per client "
                    + "(server.maxConnectionsPerClient); reuse or close connections")
        }
        logger.debug("connection from \(client) refused: \(refusal.code)")
        let answersPlaintext = limits.answersPlaintext
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                ConnectionRefusalHandler(refusal, answersPlaintext: answersPlaintext))
            return .refused(channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        if case .admitted(let admitted) = value {
            await base.handle(value: admitted, logger: logger)
        }
    }
}

/// The connection caps of one server and their counters.
struct ConnectionLimits: Sendable {
    let limiter: ConnectionLimiter
    let refusedServerFull: Counter
    let refusedClientFull: Counter
    /// Plain HTTP: a refused connection gets a JSON answer before it is closed.
    let answersPlaintext: Bool
}

extension APIServer {
    /// Connections the kernel completes and queues before the server accepts them (Linux caps it at
    /// net.core.somaxconn). Hummingbird's 256 overflows under a burst of connections: the kernel then drops new
    /// SYNs, and a client (a `/health` probe too) waits a second or more for its retransmission.
    static let listenBacklog = 4096

    /// Builds the server's connection setup from `server`: caps, timeouts and (with `tls`) TLS.
    static func serverBuilder(
        _ server: HeraldConfig.ServerConfiguration, tls: TLSConfiguration?, metrics: HeraldMetrics
    ) -> HTTPServerBuilder {
        let timeouts = ConnectionTimeouts(
            headerMs: server.headerTimeoutMs, bodyMs: server.bodyTimeoutMs, idleMs: server.idleTimeoutMs,
            headerExpired: metrics.connectionTimeouts(kind: "header"),
            bodyExpired: metrics.connectionTimeouts(kind: "body"), idleExpired: metrics.connectionTimeouts(kind: "idle")
        )
        let limits = ConnectionLimits(
            limiter: ConnectionLimiter(
                maxConnections: server.maxConnections, maxPerClient: server.maxConnectionsPerClient,
                open: metrics.openConnections()),
            refusedServerFull: metrics.refusedConnections(reason: "server_limit"),
            refusedClientFull: metrics.refusedConnections(reason: "client_limit"), answersPlaintext: tls == nil)
        return HTTPServerBuilder { responder in
            // Hummingbird's own idle timeout stays off: RequestTimeoutHandler keeps all three timers.
            let http = HTTP1Channel(
                responder: responder,
                configuration: .init(additionalChannelHandlers: [RequestTimeoutHandler(timeouts: timeouts)]))
            if let tls {
                return GuardedChannel(base: try TLSChannel(http, tlsConfiguration: tls), limits: limits)
            }
            return GuardedChannel(base: http, limits: limits)
        }
    }
}
