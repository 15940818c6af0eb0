import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The one handler of a `DirectHTTP1Channel` behind the HTTP decoder: it turns each request's parts into a `Request`
/// and runs it in a task of its own, one of its loop's workers (see there), and writes the answer's bytes into the
/// connection itself. Lives on the connection's event loop; the task reaches it only through `ChannelResponseWriter`.
///
/// It does, on its own, what five handlers did between the decoder and the socket, each passed by every part of every
/// request and answer: the conversion between NIO's types and HTTP types (`ServerCodec`), Hummingbird's idle timeout,
/// NIO's pipelining assistance and graceful-shutdown quiescing, the connection rules Hummingbird leaves to the
/// application (this file's `+Edge`), and NIO's response encoder (`ResponseFraming`).
///
/// - A body that arrived with its head (before the read that brought them completed) goes as one buffer.
/// - Otherwise the request starts with what has arrived, and the rest follows through a `RequestBodyStream`; reading
///   from the socket pauses while more than `RequestBodyStream.highWater` bytes wait for the handler.
/// - One request at a time (HTTP/1.1 pipelining): what arrives after a request's end while its answer is still being
///   written waits (parts, a parse error, the client's half-close, in order), and reading from the socket pauses;
///   once the answer has ended, whatever of the body the handler did not read is dropped as it arrives, and what
///   waited comes in.
/// - A malformed request gets 400 and the connection closes, as with Hummingbird.
/// - A connection with nothing to read or answer for `idleTimeout` closes; one whose request is read and being
///   answered does not (the answer may take long: a stream, a slow model).
/// - Graceful shutdown (`ChannelShouldQuiesceEvent`): an idle connection closes at once; a busy one once the request
///   being received and its answer have ended (the answer says `connection: close`); nothing after it is read.
final class RequestDispatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData
    typealias Respond = @Sendable (Request, any Channel, ChannelResponseWriter) async -> Void

    enum Receiving {
        /// Between requests.
        case idle
        /// A head, not dispatched yet (the body bytes that came with it so far are in `pendingBody`).
        case head(HTTPRequest)
        /// Dispatched; the rest of the body goes to the stream.
        case streaming(RequestBodyStream)
        /// Dispatched; the rest of the body is not wanted.
        case dropping
    }

    /// What arrived while an answer was being written, in order.
    enum Waiting {
        case part(HTTPServerRequestPart)
        case error(HTTPParserError)
        case halfClose
    }

    let respond: Respond
    var receiving = Receiving.idle
    /// Kept out of `receiving` so that it is this handler's alone: parts are appended in place, never copied.
    var pendingBody: ByteBuffer?
    var context: ChannelHandlerContext?
    /// Reads held back while a streamed body waits for its handler.
    var paused = false
    var readPending = false
    /// A request's head has come in and its end not yet.
    var requestOpen = false
    /// A request is being answered (dispatched, its answer's end not yet written).
    var answering = false
    /// What arrived after a request's end while its answer was being written.
    var waiting = CircularBuffer<Waiting>(initialCapacity: 0)
    /// The client closed its side: the connection closes once the answer in progress has ended.
    var closeWhenAnswered = false
    /// Graceful shutdown: the connection closes once the request in progress and its answer have ended.
    var quiescing = false
    /// The connection is closing once what is written has gone: nothing more is read or delivered.
    var closing = false
    /// The executor the connection's requests run on: its event loop's (found with the first request).
    var executor: LoopExecutor?
    /// The idle limit, when the last part was read or the last answer ended, and the timer that checks it.
    let idleTimeout: TimeAmount?
    var lastActive = NIODeadline.now()
    var idleTimer: Scheduled<Void>?
    /// Parts were read since the read began (the time is taken once per read, when it completes).
    var readParts = false
    /// The framing of the answer being written.
    var framing = ResponseFraming()

    // The connection's rules (`+Edge`).
    let connection = ClientConnection()
    let requestTimeout: TimeAmount
    let clientTimeout: TimeAmount?
    let logger: Logger
    /// Counts a refusal by its reason (`switchboard_refused_total`).
    let refused: (@Sendable (String) -> Void)?
    /// Per request received and not yet answered: whether its answer closes the connection, and whether it is HTTP/1.0.
    var answers: [(close: Bool, http10: Bool)] = []
    /// Set once the connection answered on its own (CONNECT, timeout): everything else on it is dropped.
    var tookOver = false
    /// One timer per connection at a time, not one per request: it fires at the oldest unfinished request's deadline.
    var bodyTimer: Scheduled<Void>?
    var timerDeadline: NIODeadline?
    /// When the request being received sent its head, while its end has not arrived.
    var receivingSince: NIODeadline?
    /// When the request being received sent its first byte (only with `clientTimeout`), while its end has not arrived.
    var startedAt: NIODeadline?
    /// No byte of the next request has arrived yet.
    var betweenRequests = true
    /// The target of the request being received, once its head is in (kept as is: looked at only on a timeout).
    var uri: String?

    init(idleTimeout: TimeAmount? = nil, requestTimeout: TimeAmount, clientTimeout: TimeAmount? = nil,
         logger: Logger = Logger(label: "switchboard"), refused: (@Sendable (String) -> Void)? = nil, respond: @escaping Respond) {
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.clientTimeout = clientTimeout
        self.logger = logger
        self.refused = refused
        self.respond = respond
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        ClientConnection.register(connection, context.channel)
        if context.channel.isActive { armIdleTimer(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        idleTimer?.cancel()
        idleTimer = nil
        bodyTimer?.cancel()
        ClientConnection.unregister(context.channel)
        connection.markGone()
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !tookOver, !closing else { return }
        let part = unwrapInboundIn(data)
        guard arrived(part, context) else { return }
        readParts = true
        // After the last request before a shutdown, nothing more is read.
        if quiescing, !requestOpen { return }
        if !waiting.isEmpty || awaitingAnswer {
            waiting.append(.part(part))
            return
        }
        deliver(part, context)
    }

    /// The request has ended and its answer not yet: what comes now waits.
    var awaitingAnswer: Bool { answering && !requestOpen }

    func deliver(_ part: HTTPServerRequestPart, _ context: ChannelHandlerContext) {
        switch (part, receiving) {
        case (.head(let head), .idle):
            requestOpen = true
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
            (receiving, requestOpen) = (.idle, false)
            let body = pendingBody.take() ?? ByteBuffer()
            dispatch(head, RequestBody(buffer: body), onLoop: body.readableBytes <= Self.onLoopBytes, context)
        case (.body(let part), .streaming(let stream)):
            if !stream.yield(part) { paused = true }
        case (.end, .streaming(let stream)):
            stream.finish()
            (receiving, requestOpen) = (.idle, false)
        case (.body, .dropping):
            break
        case (.end, .dropping):
            (receiving, requestOpen) = (.idle, false)
            // Its answer has ended already: a shutdown waiting for this request's end closes now.
            if quiescing { closeWhenWritten(context) }
        default:
            // A head before the last request ended: the decoder never delivers that.
            context.close(promise: nil)
        }
    }

    /// The read is done: a request whose body is still to come starts now, with what is here.
    func channelReadComplete(context: ChannelHandlerContext) {
        readCompleted(context)
        context.fireChannelReadComplete()
    }

    func readCompleted(_ context: ChannelHandlerContext) {
        if readParts {
            readParts = false
            lastActive = .now()
        }
        if case .head = receiving { dispatchStreaming(context) }
    }

    /// Makes sure a timer checks the idle limit by `lastActive` + the limit (keeping one already set: it re-arms
    /// itself). The timer holds the dispatcher strongly until it fires or is cancelled (when the handler is removed):
    /// a weak reference would give the dispatcher a side table, and every retain of it the runtime's slow path.
    func armIdleTimer(_ context: ChannelHandlerContext) {
        guard let idleTimeout, idleTimer == nil, self.context != nil else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActive + idleTimeout) {
            guard let context = self.context else { return }
            self.idleTimer = nil
            // A request read and being answered: the timer starts again when its answer ends.
            if self.answering, case .idle = self.receiving { return }
            if self.answering, case .dropping = self.receiving { return }
            if NIODeadline.now() >= self.lastActive + idleTimeout { return context.close(promise: nil) }
            self.armIdleTimer(context)
        }
    }

    func dispatchStreaming(_ context: ChannelHandlerContext) {
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

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is RequestBytesWatch.Arrived:
            if betweenRequests, !tookOver, !closing { requestStarted(context) }
        case is ChannelShouldQuiesceEvent:
            quiesce(context)
        case let e as ChannelEvent where e == .inputClosed:
            connection.markGone()
            if awaitingAnswer, !waiting.isEmpty { waiting.append(.halfClose) } else { halfClosed(context) }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// The client closed its side (half-closure is on): nothing more will come, so the connection closes, once the
    /// answer in progress has ended (as when Hummingbird's loop saw the end of its input).
    func halfClosed(_ context: ChannelHandlerContext) {
        if case .streaming(let stream) = receiving { stream.finish(throwing: ChannelError.eof) }
        if answering { closeWhenAnswered = true } else { closeWhenWritten(context) }
    }

    func resumeReading() {
        guard paused else { return }
        paused = false
        startReading()
    }

    /// Passes on a read held back, unless one is still to be held back.
    func startReading() {
        guard readPending, !paused, !awaitingAnswer, !(quiescing && !requestOpen), !closing, let context else { return }
        readPending = false
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        if paused || awaitingAnswer || (quiescing && !requestOpen) || closing { readPending = true } else { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        bodyTimer?.cancel()
        connection.markGone()
        if case .streaming(let stream) = receiving { stream.finish(throwing: ChannelError.eof) }
        receiving = .idle
        pendingBody = nil
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? HTTPParserError else {
            // Anything else (the socket's errors): the connection is done, as Hummingbird's loop ends it.
            context.close(promise: nil)
            return
        }
        // Once the connection has answered on its own or is closing, nothing more is written to it.
        guard !tookOver, !closing else { return }
        // A parse error after a request's end waits for that request's answer.
        if awaitingAnswer { return waiting.append(.error(error)) }
        parseFailed(error, context)
    }
}
