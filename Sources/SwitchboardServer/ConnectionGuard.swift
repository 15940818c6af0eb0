import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
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

    func markGone() {
        let callbacks = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.gone else { return [] }
            s.gone = true
            defer { s.callbacks = [:] }
            return Array(s.callbacks.values)
        }
        for c in callbacks { c() }
    }

    /// The connections open now, by channel, for request contexts to find theirs.
    private static let open = Mutex<[ObjectIdentifier: ClientConnection]>([:])
    static func of(_ channel: any Channel) -> ClientConnection? { open.withLock { $0[ObjectIdentifier(channel)] } }
    static func register(_ c: ClientConnection, _ channel: any Channel) { open.withLock { $0[ObjectIdentifier(channel)] = c } }
    static func unregister(_ channel: any Channel) { _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
}

/// Runs `body` in a task that is cancelled when the client of `connection` goes away.
func cancellingOnDisconnect<T: Sendable>(_ connection: ClientConnection?, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    guard let connection else { return try await body() }
    let task = Task { try await body() }
    let token = connection.onGone { task.cancel() }
    defer { if let token { connection.remove(token) } }
    return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
}

/// The HTTP/1 rules Hummingbird leaves to the application, on each client connection (on the HTTP/1 side of the
/// codec, where the request's version and keep-alive are still known):
/// - HTTP/1.0 and `Connection: close` requests: the answer says `connection: close` and the connection is closed
///   once it is written.
/// - `CONNECT` (which the HTTP parser treats as a tunnel, after which it reads nothing more): 405 and close.
/// - A request body must arrive within `server.request_timeout_s` of the request's head: 408 and close.
/// - The client's going away (closed input or connection) is reported to its `ClientConnection`.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let connection = ClientConnection()
    let requestTimeout: TimeAmount
    private var closeAfterResponse = false
    private var http10 = false
    /// Set once the guard answered itself (CONNECT, timeout): everything else on the connection is dropped.
    private var tookOver = false
    private var bodyTimer: Scheduled<Void>?

    init(requestTimeout: TimeAmount) { self.requestTimeout = requestTimeout }

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
            closeAfterResponse = !head.isKeepAlive || head.headers.contains(name: "upgrade")
            http10 = head.version.major == 1 && head.version.minor == 0
            bodyTimer?.cancel()
            let loop = context.eventLoop
            bodyTimer = loop.assumeIsolated().scheduleTask(in: requestTimeout) { [weak self] in
                guard let self, !self.tookOver else { return }
                self.refuse(context, status: .requestTimeout,
                            #"{"error":{"message":"The request body did not arrive in time.","type":"invalid_request_error","param":null,"code":"request_timeout"}}"#)
            }
        case .end:
            bodyTimer?.cancel()
            bodyTimer = nil
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
        switch unwrapOutboundIn(data) {
        case .head(var head) where closeAfterResponse || http10:
            if closeAfterResponse { head.headers.replaceOrAdd(name: "connection", value: "close") }
            if http10 { head.version = .http1_0 }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closeAfterResponse:
            // Close only once the end is written (closing at once would drop what is queued).
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.write(data, promise: written)
            context.flush()
            written.futureResult.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { connection.markGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        connection.markGone()
        context.fireChannelInactive()
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

/// Hummingbird's HTTP/1 child channel with a `ConnectionGuard` right after the HTTP decoder.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let requestTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let ops = channel.pipeline.syncOperations
            let decoder = try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try ops.addHandler(ConnectionGuard(requestTimeout: requestTimeout), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async { await base.handle(value: value, logger: logger) }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the gateway's connection rules (`ConnectionGuard`).
    static func guardedHTTP1(idleTimeout: Duration, requestTimeout: Duration) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(idleTimeout))),
                                requestTimeout: TimeAmount(requestTimeout))
        }
    }
}
