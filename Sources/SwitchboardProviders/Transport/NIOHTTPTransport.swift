import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A lean HTTP/1.1 client for plain-`http://` upstreams, built directly on SwiftNIO: keep-alive connections
/// pooled per host, the whole exchange driven by one channel handler on the connection's event loop.
///
/// Same contract as `HTTPClientTransport`: connect timeout, a deadline for the response head, an idle limit between
/// body chunks, the same error codes. Non-streamed responses are collected on the event loop (bounded); streamed
/// ones are delivered through a back-pressured sequence, so a slow client slows the upstream read instead of
/// buffering without bound. A stale pooled connection that the upstream closed is retried once on a new one.
public final class NIOHTTPTransport: UpstreamTransport {
    let group: any EventLoopGroup
    let connectTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxResponseBytes: Int
    let maxIdlePerHost: Int
    private let idle = Mutex<[String: [any Channel]]>([:])

    public init(connectTimeout: Duration, idleTimeout: Duration, maxResponseBytes: Int = 64 << 20, maxIdlePerHost: Int = 256,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        group = eventLoopGroup
        self.connectTimeout = TimeAmount(connectTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
        self.maxResponseBytes = maxResponseBytes
        self.maxIdlePerHost = maxIdlePerHost
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        guard let target = PlainHTTPTarget(request.url) else { throw UpstreamError(.other) }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: target.pathAndQuery)
        head.headers.reserveCapacity(request.headers.count + 2)
        head.headers.add(name: "host", value: target.hostHeader)
        for (name, value) in request.headers { head.headers.add(name: name, value: value) }
        head.headers.add(name: "content-length", value: String(request.body?.readableBytes ?? 0))
        for attempt in 0..<2 {
            let (channel, reused) = try await connection(to: target, connectTimeout: request.limits.connect.map(TimeAmount.init) ?? connectTimeout)
            do {
                return try await exchange(head: head, body: request.body, stream: request.streamResponse,
                                          timeout: TimeAmount(request.timeout), limits: request.limits, on: channel, key: target.key)
            } catch let error as StaleConnection where reused && attempt == 0 && !Task.isCancelled {
                _ = error   // the upstream closed an idle keep-alive connection: try once more on a new one
            } catch let error as StaleConnection {
                _ = error
                throw UpstreamError(.connectionClosed)
            } catch let error as UpstreamError {
                throw error
            } catch {
                throw HTTPClientTransport.classify(error)
            }
        }
        throw UpstreamError(.connectionClosed)
    }

    /// Closes the pooled idle connections.
    public func shutdown() async {
        let channels = idle.withLock { pools in
            defer { pools = [:] }
            return pools.values.flatMap { $0 }
        }
        for c in channels { try? await c.close() }
    }

    // MARK: Connections

    private func connection(to target: PlainHTTPTarget, connectTimeout: TimeAmount) async throws(UpstreamError) -> (any Channel, reused: Bool) {
        while let channel = idle.withLock({ $0[target.key]?.popLast() }) {
            if channel.isActive { return (channel, true) }
        }
        let key = target.key
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.currentEventLoop ?? group.next())
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [idleTimeout, maxResponseBytes] channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHTTPClientHandlers()
                    try ops.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try ops.addHandler(UpstreamExchangeHandler(maxResponseBytes: maxResponseBytes) { [weak self] channel in
                        self?.release(channel, key: key)
                    })
                }
            }
        do {
            return (try await bootstrap.connect(host: target.host, port: target.port).get(), false)
        } catch {
            throw UpstreamError(.connectFailed)
        }
    }

    /// Puts a connection whose exchange ended cleanly back into the pool (or closes it when the pool is full).
    private func release(_ channel: any Channel, key: String) {
        let kept = idle.withLock { pools -> Bool in
            guard pools[key, default: []].count < maxIdlePerHost else { return false }
            pools[key, default: []].append(channel)
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    // MARK: One exchange

    private func exchange(head: HTTPRequestHead, body: ByteBuffer?, stream: Bool, timeout: TimeAmount, limits: AttemptLimits,
                          on channel: any Channel, key: String) async throws -> UpstreamResponse {
        let promise = channel.eventLoop.makePromise(of: ExchangeResult.self)
        let start = Exchange(head: head, body: body, stream: stream, headTimeout: timeout, idleTimeout: limits.idle.map(TimeAmount.init),
                             total: limits.total.map(TimeAmount.init), result: promise)
        channel.writeAndFlush(start, promise: nil)
        let result = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(result.head.headers.count)
        for h in result.head.headers { headers.append((h.name, h.value)) }
        switch result.body {
        case .collected(let buffer):
            return UpstreamResponse(status: Int(result.head.status.code), headers: headers, body: UpstreamBody(buffer))
        case .streaming(let sequence):
            return UpstreamResponse(status: Int(result.head.status.code), headers: headers, body: UpstreamBody(producer: sequence))
        }
    }
}

/// The parts of a plain-HTTP URL a connection needs.
struct PlainHTTPTarget {
    var host: String
    var port: Int
    var pathAndQuery: String
    var hostHeader: String
    var key: String { hostHeader }

    init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        pathAndQuery = slash == rest.endIndex ? "/" : String(rest[slash...])
        hostHeader = String(authority)
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 80
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = 80
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }
}

/// Thrown when a pooled connection turns out to be closed before any response byte arrived.
struct StaleConnection: Error {}

typealias BodyProducer = NIOThrowingAsyncSequenceProducer<ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand>

/// What a request asks of its connection's handler.
struct Exchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var stream: Bool
    var headTimeout: TimeAmount
    /// The longest gap between body parts (beyond the connection's idle limit), when set.
    var idleTimeout: TimeAmount?
    /// The whole exchange, when set.
    var total: TimeAmount?
    var result: EventLoopPromise<ExchangeResult>
}

struct ExchangeResult: Sendable {
    enum Body: Sendable {
        case collected(ByteBuffer)
        case streaming(BodyProducer)
    }
    var head: HTTPResponseHead
    var body: Body
}

/// Demand signals from the body's consumer, delivered to the handler as outbound user events.
struct BodyDemand: NIOAsyncSequenceProducerDelegate {
    enum Event: Sendable { case more, terminated }
    let channel: any Channel
    func produceMore() { channel.triggerUserOutboundEvent(Event.more, promise: nil) }
    func didTerminate() { channel.triggerUserOutboundEvent(Event.terminated, promise: nil) }
}

/// Drives one exchange at a time on a keep-alive connection: writes the request, answers with the head (and the
/// collected body, or a back-pressured body stream), enforces the head deadline and the idle limit, and hands the
/// connection back for reuse only after a clean end.
final class UpstreamExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        case idle
        case awaitingHead(Exchange, sawBytes: Bool)
        case collecting(Exchange, HTTPResponseHead, ByteBuffer)
        case streaming(BodyProducer.Source, keepAlive: Bool)
        /// The consumer went away mid-body: the connection cannot be reused.
        case closing
    }

    private var state = State.idle
    private var headDeadline: Scheduled<Void>?
    /// The exchange's total deadline and its idle watch (only when the request sets them).
    private var totalDeadline: Scheduled<Void>?
    private var idleWatch: Scheduled<Void>?
    private var idleLimit: TimeAmount?
    private var lastRead = NIODeadline.now()
    private var readHeld = false
    private var producing = true
    private let maxResponseBytes: Int
    private let release: @Sendable (any Channel) -> Void

    init(maxResponseBytes: Int, release: @escaping @Sendable (any Channel) -> Void) {
        self.maxResponseBytes = maxResponseBytes
        self.release = release
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard case .idle = state, context.channel.isActive else {
            exchange.result.fail(StaleConnection())
            promise?.fail(StaleConnection())
            return
        }
        state = .awaitingHead(exchange, sawBytes: false)
        producing = true
        // The timers run on this channel's event loop, where the handler and its context live: isolated scheduling
        // lets them use both without crossing threads (and checks that this is the loop).
        let loop = context.eventLoop.assumeIsolated()
        headDeadline = loop.scheduleTask(in: exchange.headTimeout) { [weak self] in
            self?.fail(UpstreamError(.timeout), context: context)
        }
        if let total = exchange.total {
            totalDeadline = loop.scheduleTask(in: total) { [weak self] in
                self?.fail(UpstreamError(.timeout), context: context)
            }
        }
        idleLimit = exchange.idleTimeout
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body, body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    /// Checks the gap since the last body part when the idle limit could have passed; re-arms itself otherwise.
    private func armIdleWatch(context: ChannelHandlerContext) {
        guard let limit = idleLimit else { return }
        idleWatch = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastRead + limit) { [weak self] in
            guard let self else { return }
            self.idleWatch = nil
            switch self.state {
            case .collecting, .streaming:
                // Back-pressure (the client reads slowly) is not the upstream's idleness.
                if !self.producing { self.lastRead = .now() }
                if NIODeadline.now() >= self.lastRead + limit { self.fail(UpstreamError(.timeout), context: context) }
                else { self.armIdleWatch(context: context) }
            default: break
            }
        }
    }

    private func cancelTimers() {
        headDeadline?.cancel()
        headDeadline = nil
        totalDeadline?.cancel()
        totalDeadline = nil
        idleWatch?.cancel()
        idleWatch = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if idleLimit != nil { lastRead = .now() }
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingHead(let exchange, _)):
            if head.status.code < 200 { state = .awaitingHead(exchange, sawBytes: true); return }   // 1xx: wait on
            headDeadline?.cancel()
            headDeadline = nil
            armIdleWatch(context: context)
            if exchange.stream {
                let sequence = BodyProducer.makeSequence(
                    backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
                    delegate: BodyDemand(channel: context.channel))
                state = .streaming(sequence.source, keepAlive: head.isKeepAlive)
                exchange.result.succeed(ExchangeResult(head: head, body: .streaming(sequence.sequence)))
            } else {
                state = .collecting(exchange, head, context.channel.allocator.buffer(capacity: 0))
            }
        case (.body(var part), .collecting(let exchange, let head, var buffer)):
            guard buffer.readableBytes + part.readableBytes <= maxResponseBytes else {
                fail(UpstreamError(.responseTooLarge), context: context)
                return
            }
            state = .idle   // avoid a copy-on-write of the buffer while it is appended to
            buffer.writeBuffer(&part)
            state = .collecting(exchange, head, buffer)
        case (.body(let part), .streaming(let source, _)):
            if source.yield(part) == .stopProducing { producing = false }
        case (.end, .collecting(let exchange, let head, let buffer)):
            state = .idle
            exchange.result.succeed(ExchangeResult(head: head, body: .collected(buffer)))
            finishExchange(keepAlive: head.isKeepAlive, context: context)
        case (.end, .streaming(let source, let keepAlive)):
            state = .idle
            source.finish()
            finishExchange(keepAlive: keepAlive, context: context)
        case (_, .closing):
            break
        default:
            fail(UpstreamError(.other), context: context)    // a response part out of order
        }
    }

    private func finishExchange(keepAlive: Bool, context: ChannelHandlerContext) {
        cancelTimers()
        idleLimit = nil
        producing = true
        if readHeld { readHeld = false; context.read() }
        if keepAlive { release(context.channel) } else { context.close(promise: nil) }
    }

    /// Fails the exchange in flight (if any) and closes the connection.
    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        cancelTimers()
        let previous = state
        state = .closing
        switch previous {
        case .awaitingHead(let exchange, _):
            exchange.result.fail(error)
        case .collecting(let exchange, _, _):
            exchange.result.fail(error)
        case .streaming(let source, _):
            source.finish(error)
        case .idle, .closing:
            break
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .awaitingHead(let exchange, let sawBytes) = state, !sawBytes {
            cancelTimers()
            state = .closing
            exchange.result.fail(StaleConnection())
        } else {
            fail(UpstreamError(.connectionClosed), context: context)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The connection is established, so any I/O or protocol error here means it broke.
        fail(UpstreamError(.connectionClosed), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // Idle in the pool: evict. Idle mid-exchange: the upstream stalled.
            if case .idle = state { context.close(promise: nil) } else { fail(UpstreamError(.timeout), context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let demand = event as? BodyDemand.Event else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed(())
        switch demand {
        case .more:
            producing = true
            if readHeld { readHeld = false; context.read() }
        case .terminated:
            // The consumer stopped listening before the end: this connection's response cannot be finished.
            if case .streaming = state { fail(CancellationError(), context: context) }
        }
    }

    func read(context: ChannelHandlerContext) {
        if case .streaming = state, !producing {
            readHeld = true      // back-pressure: the consumer has enough buffered
            return
        }
        context.read()
    }
}
