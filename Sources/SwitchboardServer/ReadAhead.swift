import NIOCore

/// Keeps a client connection registered for reading while the request on it is answered.
///
/// The `RequestDispatcher` (as NIO's pipelining assistance did) holds back the read NIO asks for after each request until
/// that request's answer has ended, so NIO takes the socket out of its poll set after every request and puts it back
/// after every answer: two `epoll_ctl` calls a request. Sitting in front of the HTTP decoder, this handler asks for
/// the next read itself after each one, so the socket stays in the poll set. Whatever that brings before the handlers
/// behind it ask (a pipelined request, a request body past its stream's high-water mark) waits in them as before,
/// bounded: after `limit` bytes that nobody behind asked for, it stops asking, and NIO's own back-pressure holds.
///
/// A client's half-close and errors are seen exactly when they were before: NIO reads up to the end of input as soon
/// as the peer closes its side, whether a read was asked for or not.
final class ReadAhead: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes passed on that no handler behind asked for, at most, before this one stops asking on its own.
    let limit: Int
    /// A handler behind asked for a read since the last one completed.
    private var asked = false
    /// Bytes passed on since a handler behind last asked.
    private var unasked = 0

    init(limit: Int = 16 << 10) { self.limit = limit }

    func read(context: ChannelHandlerContext) {
        asked = true
        unasked = 0
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !asked { unasked += unwrapInboundIn(data).readableBytes }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        asked = false   // before passing it on: a handler behind may ask for the next read as it sees it
        context.fireChannelReadComplete()
        if unasked < limit, context.channel.isActive { context.read() }
    }
}
