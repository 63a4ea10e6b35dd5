import NIOCore

/// The only handler of a connection refused at accept because a connection cap was reached: on plain HTTP it
/// writes the JSON error (503 `SERVER_BUSY` or 429 `TOO_MANY_CONNECTIONS`), then closes.
///
/// No HTTP pipeline is built for such a connection and no TLS handshake is spent on it, so refusing costs
/// little and the accept loop keeps draining the listen backlog during a flood.
final class ConnectionRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let error: APIError
    private let answersPlaintext: Bool
    private var done = false

    init(_ error: APIError, answersPlaintext: Bool) {
        self.error = error
        self.answersPlaintext = answersPlaintext
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}  // the request is not read

    private func refuse(_ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        guard answersPlaintext else {
            context.close(promise: nil)
            return
        }
        let body = error.jsonBody
        let head =
            "HTTP/1.1 \(error.status.code) \(error.status.reasonPhrase)\r\ncontent-type: application/json\r\n"
            + "content-length: \(body.count)\r\nconnection: close\r\nretry-after: 1\r\n\r\n"
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

/// The first handler of an admitted connection: tells `RequestTimeoutHandler` when bytes arrive, so that the
/// header timeout starts when a request begins on an idle keep-alive connection. It sees the raw bytes, before
/// TLS and HTTP decoding.
final class ReadActivityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Set by `RequestTimeoutHandler` when it joins the pipeline.
    weak var timing: RequestTimeoutHandler?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timing?.bytesArrived()
        context.fireChannelRead(data)
    }
}
