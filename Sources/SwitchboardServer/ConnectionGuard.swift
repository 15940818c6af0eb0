import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import SwitchboardCore
import Synchronization

/// One client connection as the request handlers see it: whether the client is still there.
///
/// Hummingbird does not cancel a handler whose client went away; `cancellingOnDisconnect` does, so a request that
/// nobody waits for no longer keeps its upstream busy (nor gets billed as answered).
final class ClientConnection: Sendable {
    private struct State {
        var gone = false
        var next = 0
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    /// Runs `callback` once the client is gone (at once if it already is); returns a token for `remove`.
    func onGone(_ callback: @escaping @Sendable () -> Void) -> Int? {
        let token: Int? = state.withLock { s in
            guard !s.gone else { return nil }
            s.next += 1
            s.callbacks[s.next] = callback
            return s.next
        }
        if token == nil { callback() }
        return token
    }

    func remove(_ token: Int) { _ = state.withLock { $0.callbacks.removeValue(forKey: token) } }

    /// Marks the client gone and runs the callbacks. They run under the lock, so one is never running after its
    /// `remove` returned (`cancellingOnDisconnect` relies on it: its task is alive while it is cancelled).
    func markGone() {
        state.withLock { s in
            guard !s.gone else { return }
            s.gone = true
            for c in s.callbacks.values { c() }
            s.callbacks = [:]
        }
    }

    /// The connections open now, by channel, for request contexts to find theirs.
    private static let open = Mutex<[ObjectIdentifier: ClientConnection]>([:])
    static func of(_ channel: any Channel) -> ClientConnection? { open.withLock { $0[ObjectIdentifier(channel)] } }
    static func register(_ c: ClientConnection, _ channel: any Channel) { open.withLock { $0[ObjectIdentifier(channel)] = c } }
    static func unregister(_ channel: any Channel) { _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
}

/// Runs `body`, cancelling the current task if the client of `connection` goes away meanwhile. No task is made:
/// the request's own task is cancelled, through a handle that is only used while `body` runs (the callback is
/// removed, under the connection's lock, before this returns).
func cancellingOnDisconnect<T: Sendable>(_ connection: ClientConnection?, _ body: () async throws -> T) async throws -> T {
    guard let connection else { return try await body() }
    let token = withUnsafeCurrentTask { task in
        task.flatMap { task in
            let handle = CurrentTaskHandle(task)
            return connection.onGone { handle.task.cancel() }
        }
    }
    defer { if let token { connection.remove(token) } }
    return try await body()
}

/// The request's task, for `cancellingOnDisconnect` only (see there why it is safe to use from the callback).
private struct CurrentTaskHandle: @unchecked Sendable {
    let task: UnsafeCurrentTask
    init(_ task: UnsafeCurrentTask) { self.task = task }
}

/// The HTTP/1 rules Hummingbird leaves to the application, on each client connection (on the HTTP/1 side of the
/// codec, where the request's version and keep-alive are still known):
/// - HTTP/1.0 and `Connection: close` requests: the answer says `connection: close` and the connection is closed
///   once it is written.
/// - `CONNECT` (which the HTTP parser treats as a tunnel, after which it reads nothing more): 405 and close.
/// - A request body must arrive within `server.request_timeout_s` of the request's head, and with
///   `waf.client_timeout_s` the whole request (head and body) within that of its first byte (`RequestBytesWatch`
///   reports the bytes): 408 `request_timeout` (in Anthropic's shape on `/v1/messages`), counted, and close.
/// - The client's going away (closed input or connection) is reported to its `ClientConnection`.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let connection = ClientConnection()
    let requestTimeout: TimeAmount
    let clientTimeout: TimeAmount?
    let logger: Logger
    /// Counts a refusal by its reason (`switchboard_refused_total`).
    let refused: (@Sendable (String) -> Void)?
    /// Per request received and not yet answered (HTTP/1.1 may pipeline): whether its answer closes the connection,
    /// and whether it is HTTP/1.0.
    private var answers: [(close: Bool, http10: Bool)] = []
    /// Set once the guard answered itself (CONNECT, timeout): everything else on the connection is dropped.
    private var tookOver = false
    /// One timer per connection at a time, not one per request: it fires at the oldest unfinished request's deadline.
    private var bodyTimer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// When the request being received sent its head, while its end has not arrived.
    private var receivingSince: NIODeadline?
    /// When the request being received sent its first byte (only with `clientTimeout`), while its end has not arrived.
    private var startedAt: NIODeadline?
    /// No byte of the next request has arrived yet.
    private var betweenRequests = true
    /// The target of the request being received, once its head is in (kept as is: looked at only on a timeout).
    private var uri: String?

    init(requestTimeout: TimeAmount, clientTimeout: TimeAmount? = nil, logger: Logger = Logger(label: "switchboard"),
         refused: (@Sendable (String) -> Void)? = nil) {
        self.requestTimeout = requestTimeout
        self.clientTimeout = clientTimeout
        self.logger = logger
        self.refused = refused
    }

    func handlerAdded(context: ChannelHandlerContext) { ClientConnection.register(connection, context.channel) }

    func handlerRemoved(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        ClientConnection.unregister(context.channel)
        connection.markGone()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !tookOver else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            if head.method == .CONNECT {
                // NIO's encoder sends no body (nor length) in an answer to CONNECT: the close ends it.
                refuse(context, status: .methodNotAllowed, nil)
                return
            }
            answers.append((!head.isKeepAlive || head.headers.contains(name: "upgrade"), head.version.major == 1 && head.version.minor == 0))
            if betweenRequests { requestStarted(context) }   // its bytes came with the previous request's
            receivingSince = context.eventLoop.now
            uri = head.uri
            armTimer(context)
        case .end:
            (receivingSince, startedAt, betweenRequests, uri) = (nil, nil, true, nil)
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !tookOver else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let answer = answers.first ?? (false, false)
        switch unwrapOutboundIn(data) {
        case .head(var head) where answer.close || answer.http10:
            var close = answer.close
            if answer.http10 {
                head.version = .http1_0
                // HTTP/1.0 has no chunked encoding: an answer of unknown length (a stream) ends with the connection.
                if !head.headers.contains(name: "content-length") { close = true }
            }
            if close {
                answers[0].close = true
                head.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where answer.close:
            answers.removeFirst()
            // Close only once the end is written (closing at once would drop what is queued).
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.write(data, promise: written)
            context.flush()
            written.futureResult.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .end:
            if !answers.isEmpty { answers.removeFirst() }
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is RequestBytesWatch.Arrived {
            if betweenRequests, !tookOver { requestStarted(context) }
            return
        }
        if let e = event as? ChannelEvent, e == .inputClosed { connection.markGone() }
        context.fireUserInboundEventTriggered(event)
    }

    /// The first byte of a request arrived: with `clientTimeout`, the whole request is due by then + that.
    private func requestStarted(_ context: ChannelHandlerContext) {
        betweenRequests = false
        guard clientTimeout != nil else { return }
        startedAt = context.eventLoop.now
        armTimer(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        connection.markGone()
        context.fireChannelInactive()
    }

    /// When the request being received is due: its body `requestTimeout` after its head, all of it `clientTimeout`
    /// after its first byte, whichever comes first (nil between requests).
    private var deadline: NIODeadline? {
        let body = receivingSince.map { $0 + requestTimeout }
        let whole = clientTimeout.flatMap { t in startedAt.map { $0 + t } }
        guard let body, let whole else { return body ?? whole }
        return min(body, whole)
    }

    /// Makes sure the timer fires by the current request's deadline. At the deadline, a request still being received
    /// gets 408; otherwise the timer waits for the next deadline (it is re-armed only while a request is being
    /// received).
    private func armTimer(_ context: ChannelHandlerContext) {
        guard let due = deadline, timerDeadline.map({ due < $0 }) ?? true else { return }
        bodyTimer?.cancel()
        timerDeadline = due
        bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [weak self] in
            guard let self else { return }
            (self.bodyTimer, self.timerDeadline) = (nil, nil)
            guard !self.tookOver, let due = self.deadline else { return }
            guard context.eventLoop.now >= due else { return self.armTimer(context) }
            let error = GatewayError(.requestTimeout, self.receivingSince == nil ? "The request did not arrive in time."
                                                                                 : "The request body did not arrive in time.")
            self.refused?(error.code.name)
            let path = self.uri.map { String($0.prefix { $0 != "?" }.prefix(256)) }
            self.logger.notice("Refused at the edge", metadata: [
                "reason": "\(error.code.name)", "client.address": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")", "path": "\(path ?? "-")"])
            // Errors on the Anthropic routes come in Anthropic's shape (a head not yet whole has no route: OpenAI's).
            self.refuse(context, status: .requestTimeout, path?.hasPrefix("/v1/messages") == true ? error.anthropicBody : error.openAIBody)
        }
    }

    /// Answers the request itself and closes the connection.
    private func refuse(_ context: ChannelHandlerContext, status: HTTPResponseStatus, _ body: String?) {
        tookOver = true
        bodyTimer?.cancel()
        connection.markGone()
        var headers = HTTPHeaders()
        headers.add(name: "connection", value: "close")
        if status == .methodNotAllowed { headers.add(name: "allow", value: "GET, POST, PUT, DELETE") }
        if let body {
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.utf8.count))
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

/// Tells the `ConnectionGuard` behind the HTTP decoder that bytes arrived (an `Arrived` event ahead of them), so it
/// sees a request's first byte, not only its parsed head. Only there with `waf.client_timeout_s`.
final class RequestBytesWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    struct Arrived {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireUserInboundEventTriggered(Arrived())
        context.fireChannelRead(data)
    }
}
