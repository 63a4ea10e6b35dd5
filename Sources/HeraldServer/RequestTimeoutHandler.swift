import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Prometheus

/// The timeouts of one HTTP/1 connection (`server.headerTimeoutMs`, `bodyTimeoutMs`, `idleTimeoutMs`).
struct ConnectionTimeouts: Sendable {
    var headerMs: Int
    var bodyMs: Int
    var idleMs: Int
    let headerExpired: Counter
    let bodyExpired: Counter
    let idleExpired: Counter
}

/// Keeps every connection moving: one timer at a time, for the phase the connection is in.
///
/// - awaiting a request head: from accept, or from the first byte after an idle wait, until the head is
///   complete (`headerMs`). A slow or silent client (slowloris) gets 408 `REQUEST_TIMEOUT` and is closed.
/// - reading a body: from the head to the end of the body (`bodyMs`); 408 if no answer was started yet,
///   else the connection is closed (a handler may answer before reading the body, e.g. 401).
/// - handling: no timer; the route's own work is not bounded here.
/// - idle: from the end of an answer until the next request starts (`idleMs`); closed without an answer.
///
/// It also answers malformed HTTP with JSON (400 `MALFORMED_REQUEST`, 431 `REQUEST_HEADERS_TOO_LARGE`)
/// where Hummingbird would send an empty 400.
///
/// Sits between Hummingbird's HTTP codec and its request handling; `ReadActivityHandler`, at the front of the
/// pipeline, reports bytes that arrive while the connection is idle.
final class RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        case awaitingHead, readingBody, handling, idle
    }

    private let timeouts: ConnectionTimeouts
    private var context: ChannelHandlerContext?
    private var phase = Phase.awaitingHead
    private var timer: Scheduled<Void>?
    /// Requests whose head was read and whose answer has not ended.
    private var unanswered = 0
    /// The answer to the oldest unanswered request has started.
    private var answering = false
    /// The connection was given up on (timeout or malformed request): nothing more is written.
    private var finished = false

    init(timeouts: ConnectionTimeouts) {
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let front = try? context.pipeline.syncOperations.handler(type: ReadActivityHandler.self) {
            front.timing = self
        }
        if context.channel.isActive { arm(.awaitingHead) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(.awaitingHead)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    /// Bytes arrived at the front of the pipeline: on an idle connection the next request has begun.
    func bytesArrived() {
        if phase == .idle { arm(.awaitingHead) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if finished { return }
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            arm(.readingBody)
        case .body:
            break
        case .end:
            if unanswered == 0 {
                arm(.idle)  // answered before its body was read (e.g. 401); now it is read
            } else {
                disarm()
                phase = .handling
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if finished {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head:
            answering = true
        case .body:
            break
        case .end:
            answering = false
            unanswered = max(0, unanswered - 1)
            if unanswered == 0 && phase == .handling { arm(.idle) }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, unanswered == 0, !finished else {
            context.fireErrorCaught(error)
            return
        }
        disarm()
        if parseError == .headerOverflow {
            finish(
                APIError(
                    .requestHeaderFieldsTooLarge, "REQUEST_HEADERS_TOO_LARGE",
                    "the request line and headers are over the server's limit of 80 KiB"))
        } else {
            finish(
                APIError(
                    .badRequest, "MALFORMED_REQUEST",
                    "the request is not valid HTTP/1.1 (\(parseError)); a path must be percent-encoded: "
                        + "no spaces, control characters or raw non-ASCII bytes"))
        }
    }

    private func arm(_ next: Phase) {
        timer?.cancel()
        timer = nil
        phase = next
        let ms: Int
        switch next {
        case .awaitingHead: ms = timeouts.headerMs
        case .readingBody: ms = timeouts.bodyMs
        case .idle: ms = timeouts.idleMs
        case .handling: return
        }
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(ms))) { [weak self] in
            self?.expire()
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func expire() {
        timer = nil
        guard !finished else { return }
        switch phase {
        case .awaitingHead:
            timeouts.headerExpired.increment()
            if unanswered == 0 {
                finish(
                    APIError(
                        .requestTimeout, "REQUEST_TIMEOUT",
                        "the request line and headers did not arrive within \(timeouts.headerMs) ms "
                            + "(server.headerTimeoutMs); send each request whole"))
            } else {
                finish(nil)
            }
        case .readingBody:
            timeouts.bodyExpired.increment()
            if unanswered > 0 && !answering {
                finish(
                    APIError(
                        .requestTimeout, "REQUEST_TIMEOUT",
                        "the request body did not arrive within \(timeouts.bodyMs) ms (server.bodyTimeoutMs)"))
            } else {
                finish(nil)
            }
        case .idle:
            timeouts.idleExpired.increment()
            finish(nil)
        case .handling:
            break
        }
    }

    /// Gives up on the connection: writes `error` (if any) as the last answer, then closes.
    private func finish(_ error: APIError?) {
        guard let context, !finished else { return }
        finished = true
        guard let error else {
            context.close(promise: nil)
            return
        }
        let body = error.jsonBody
        var head = HTTPResponse(status: error.status)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.count)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        // The answer may never be written: TLS holds it until a handshake the client never starts, or the
        // client does not read. Close anyway after a moment.
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
            context.close(promise: nil)
        }
    }
}
