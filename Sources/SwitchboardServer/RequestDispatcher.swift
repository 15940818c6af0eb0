import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The last handler of a `DirectHTTP1Channel`: turns each request's parts into a `Request` and runs it in a task of
/// its own, one of its loop's workers (see there). Lives on the connection's event loop; the task reaches it only
/// through `ChannelResponseWriter`. It converts the parts between NIO's types and HTTP types itself (`ServerCodec`),
/// and closes a connection left idle, as Hummingbird's `HTTPConnectionStateHandler` does: two handlers fewer, each
/// passed by every part of every request and answer.
///
/// - A body that arrived with its head (before the read that brought them completed) goes as one buffer.
/// - Otherwise the request starts with what has arrived, and the rest follows through a `RequestBodyStream`; reading
///   from the socket pauses while more than `RequestBodyStream.highWater` bytes wait for the handler.
/// - Once the answer has ended, whatever of the body the handler did not read is dropped as it arrives, and the next
///   request (held back by NIO's pipelining handler until then) comes in.
/// - A malformed request gets 400 and the connection closes, as with Hummingbird.
/// - A connection with nothing to read or answer for `idleTimeout` closes; one whose request is read and being
///   answered does not (the answer may take long: a stream, a slow model).
final class RequestDispatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    typealias Respond = @Sendable (Request, any Channel, ChannelResponseWriter) async -> Void

    private enum Receiving {
        /// Between requests.
        case idle
        /// A head, not dispatched yet (the body bytes that came with it so far are in `pendingBody`).
        case head(HTTPRequest)
        /// Dispatched; the rest of the body goes to the stream.
        case streaming(RequestBodyStream)
        /// Dispatched; the rest of the body is not wanted.
        case dropping
    }

    private let respond: Respond
    private var receiving = Receiving.idle
    /// Kept out of `receiving` so that it is this handler's alone: parts are appended in place, never copied.
    private var pendingBody: ByteBuffer?
    private var context: ChannelHandlerContext?
    /// Reads held back while a streamed body waits for its handler.
    private var paused = false
    private var readPending = false
    /// A request is being answered (dispatched, its answer's end not yet written).
    private var answering = false
    /// The client closed its side: the connection closes once the answer in progress has ended.
    private var closeWhenAnswered = false
    /// The executor the connection's requests run on: its event loop's (found with the first request).
    private var executor: LoopExecutor?
    /// The idle limit, when the last part was read or the last answer ended, and the timer that checks it.
    private let idleTimeout: TimeAmount?
    private var lastActive = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    /// Parts were read since the read began (the time is taken once per read, when it completes).
    private var readParts = false

    init(idleTimeout: TimeAmount? = nil, respond: @escaping Respond) {
        self.idleTimeout = idleTimeout
        self.respond = respond
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armIdleTimer(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        idleTimer?.cancel()
        idleTimer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readParts = true
        switch (unwrapInboundIn(data), receiving) {
        case (.head(let head), .idle):
            do {
                receiving = .head(try ServerCodec.request(head))
            } catch {
                // A method HTTP types cannot carry: the connection ends, as when the library's codec refused it.
                context.close(promise: nil)
            }
        case (.body(let part), .head):
            if pendingBody == nil { pendingBody = part } else { pendingBody!.writeImmutableBuffer(part) }
            // A large body does not wait in one buffer: the handler gets it as a stream.
            if pendingBody!.readableBytes > RequestBodyStream.highWater { dispatchStreaming(context) }
        case (.end, .head(let head)):
            receiving = .idle
            let body = pendingBody.take() ?? ByteBuffer()
            dispatch(head, RequestBody(buffer: body), onLoop: body.readableBytes <= Self.onLoopBytes, context)
        case (.body(let part), .streaming(let stream)):
            if !stream.yield(part) { paused = true }
        case (.end, .streaming(let stream)):
            stream.finish()
            receiving = .idle
        case (.body, .dropping):
            break
        case (.end, .dropping):
            receiving = .idle
        default:
            // A head before the last request ended: the pipelining handler never lets that through.
            context.close(promise: nil)
        }
    }

    /// The read is done: a request whose body is still to come starts now, with what is here.
    func channelReadComplete(context: ChannelHandlerContext) {
        if readParts {
            readParts = false
            lastActive = .now()
        }
        if case .head = receiving { dispatchStreaming(context) }
        context.fireChannelReadComplete()
    }

    /// Makes sure a timer checks the idle limit by `lastActive` + the limit (keeping one already set: it re-arms
    /// itself).
    private func armIdleTimer(_ context: ChannelHandlerContext) {
        guard let idleTimeout, idleTimer == nil else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActive + idleTimeout) { [weak self] in
            guard let self, let context = self.context else { return }
            self.idleTimer = nil
            // A request read and being answered: the timer starts again when its answer ends.
            if self.answering, case .idle = self.receiving { return }
            if self.answering, case .dropping = self.receiving { return }
            if NIODeadline.now() >= self.lastActive + idleTimeout { return context.close(promise: nil) }
            self.armIdleTimer(context)
        }
    }

    private func dispatchStreaming(_ context: ChannelHandlerContext) {
        guard case .head(let head) = receiving else { return }
        let body = pendingBody.take()
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let stream = RequestBodyStream { loop.execute { handler.value.resumeReading() } }
        if let body, !stream.yield(body) { paused = true }
        receiving = .streaming(stream)
        // A small body that came in a read of its own still says its length.
        let small = head.headerFields.value(.contentLength).flatMap { Int($0) }.map { $0 <= Self.onLoopBytes } ?? false
        dispatch(head, RequestBody(asyncSequence: stream), onLoop: small, context)
    }

    /// The largest body whose request runs on the connection's event loop. A larger one (parsed, scanned by
    /// guardrails, redacted: milliseconds of work for a body of megabytes) runs on Swift's pool, as every request did
    /// before, so that it does not hold up the other connections the loop serves; so does one whose body streams in
    /// without a length.
    static let onLoopBytes = 64 * 1024

    private func dispatch(_ head: HTTPRequest, _ body: RequestBody, onLoop: Bool, _ context: ChannelHandlerContext) {
        let executor = self.executor ?? LoopExecutor.of(context.eventLoop)
        self.executor = executor
        let writer = ChannelResponseWriter(handler: NIOLoopBound(self, eventLoop: context.eventLoop), executor: executor,
                                           channel: context.channel)
        let request = Request(head: head, body: body)
        let channel = context.channel
        answering = true
        let respond = self.respond
        if onLoop {
            executor.run { await respond(request, channel, writer) }
        } else {
            Task { await respond(request, channel, writer) }
        }
    }

    /// On the loop, from the task: response parts, in order, then a flush.
    func emit(_ parts: [HTTPResponsePart], promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var ended = false
        for (i, part) in parts.enumerated() {
            context.write(wrapOutboundOut(ServerCodec.response(part)), promise: i == parts.count - 1 ? promise : nil)
            if case .end = part { ended = true }
        }
        context.flush()
        if ended { answered() }   // after the flush: it may close the connection
    }

    /// The answer has ended: what the handler did not read of its body is dropped (or, when the client has closed
    /// its side, the connection closes).
    private func answered() {
        answering = false
        if idleTimeout != nil, let context {
            lastActive = .now()
            armIdleTimer(context)
        }
        if case .streaming(let stream) = receiving {
            stream.finish()
            receiving = .dropping
        }
        if closeWhenAnswered, let context { return context.close(promise: nil) }
        resumeReading()
    }

    /// The client closed its side (half-closure is on): nothing more will come, so the connection closes, once the
    /// answer in progress has ended (as when Hummingbird's loop saw the end of its input).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            if case .streaming(let stream) = receiving { stream.finish(throwing: ChannelError.eof) }
            if answering { closeWhenAnswered = true } else { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func resumeReading() {
        guard paused else { return }
        paused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused { readPending = true } else { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        if case .streaming(let stream) = receiving { stream.finish(throwing: ChannelError.eof) }
        receiving = .idle
        pendingBody = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            // Anything else (the socket's errors): the connection is done, as Hummingbird's loop ends it.
            context.close(promise: nil)
            return
        }
        // NIO's pipelining handler holds a parse error back until the answer before it has ended.
        if case .streaming(let stream) = receiving { stream.finish(throwing: error) }
        receiving = .dropping
        pendingBody = nil
        var head = HTTPResponseHead(version: .http1_1, status: .badRequest)
        head.headers.add(name: "connection", value: "close")
        head.headers.add(name: "content-length", value: "0")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

/// Writes a `Response` into its connection from the request's task: head, body and end of a one-buffer answer in one
/// job on the event loop; a streamed answer part by part, each flushed, waiting for the socket only when the channel
/// is not writable. A job of its own even when the task already runs on the loop (as it prefers to): the answers of
/// one pass of the loop then go out after its reads, together, which measured better than writing each at once (a
/// client woken once per burst of answers rather than once per answer).
struct ChannelResponseWriter: ResponseBodyWriter, Sendable {
    let handler: NIOLoopBound<RequestDispatcher>
    /// The connection's event loop, as the executor its tasks prefer.
    let executor: LoopExecutor
    var eventLoop: any EventLoop { executor.loop }
    let channel: any Channel
    /// The head, until the first part of the body goes with it.
    private var head: HTTPResponse?
    /// The whole body's length when the response said it (the one buffer then waits for the end, to go with it).
    private var length: Int?
    private var held: ByteBuffer?

    init(handler: NIOLoopBound<RequestDispatcher>, executor: LoopExecutor, channel: any Channel) {
        self.handler = handler
        self.executor = executor
        self.channel = channel
    }

    consuming func write(_ response: Response) async throws {
        head = response.head
        length = response.body.contentLength
        try await response.body.write(self)
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        if head != nil, held == nil, length == buffer.readableBytes {
            held = buffer   // the whole body: it goes with the head and the end
            return
        }
        var parts: [HTTPResponsePart] = []
        parts.reserveCapacity(3)
        if let head { parts.append(.head(head)) }
        if let held { parts.append(.body(held)) }
        parts.append(.body(buffer))
        (head, held) = (nil, nil)
        try await send(parts)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        var parts: [HTTPResponsePart] = []
        parts.reserveCapacity(3)
        if let head { parts.append(.head(head)) }
        if let held { parts.append(.body(held)) }
        parts.append(.end(trailingHeaders))
        try await send(parts)
    }

    private func send(_ parts: [HTTPResponsePart]) async throws {
        let handler = handler
        // The client went away: the answer stops here (a stream's relay ends, and with it the upstream's).
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        guard !channel.isWritable else {
            eventLoop.execute { handler.value.emit(parts, promise: nil) }
            return
        }
        // Back-pressure: the client reads slowly; wait until this is written.
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { handler.value.emit(parts, promise: promise) }
        try await promise.futureResult.get()
    }
}
