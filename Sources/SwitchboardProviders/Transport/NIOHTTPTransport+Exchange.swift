import NIOCore
import NIOHTTP1

/// Thrown when a connection turns out to be closed before any response byte arrived: a pooled one the upstream
/// closed while it was idle (the request may have been sent), or any connection that closed before the request was
/// written (`neverSent`: its idle limit passed while the caller was slow to use it, say).
struct StaleConnection: Error {
    var neverSent = false
}

typealias BodyProducer = NIOThrowingAsyncSequenceProducer<ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand>

/// What a request asks of its connection's handler. A class: it is kept in the handler's states, each a copy of a
/// struct (its head's fields, its body, its promise) where this is one reference.
final class Exchange: Sendable {
    /// The request as it goes out (its head in wire format).
    let request: UpstreamWrite
    let stream: Bool
    let headTimeout: TimeAmount
    /// The longest gap between body parts (beyond the connection's idle limit), when set.
    let idleTimeout: TimeAmount?
    /// The whole exchange, when set.
    let total: TimeAmount?
    let result: EventLoopPromise<ExchangeResult>

    init(request: UpstreamWrite, stream: Bool, headTimeout: TimeAmount, idleTimeout: TimeAmount?, total: TimeAmount?,
         result: EventLoopPromise<ExchangeResult>) {
        (self.request, self.stream, self.headTimeout) = (request, stream, headTimeout)
        (self.idleTimeout, self.total, self.result) = (idleTimeout, total, result)
    }
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

/// A pooled keep-alive connection: its channel, and the handler that drives its exchanges (called directly on the
/// connection's loop rather than reached by a write through the pipeline, whose generic `Channel.write` tests every
/// value it is given against NIO's buffer types at run time — failed casts of a class, 1.7% of a proxied request).
struct UpstreamConnection: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<UpstreamExchangeHandler>
}

/// Drives one exchange at a time on a keep-alive connection: writes the request, answers with the head (and the
/// collected body, or a back-pressured body stream), enforces the head deadline and the idle limit, and hands the
/// connection back for reuse only after a clean end.
final class UpstreamExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = UpstreamWrite
    typealias OutboundOut = UpstreamWrite

    private enum State {
        case idle
        case awaitingHead(Exchange, sawBytes: Bool)
        case collecting(Exchange, HTTPResponseHead, ByteBuffer)
        case streaming(BodyProducer.Source, keepAlive: Bool)
        /// The consumer went away mid-body: the connection cannot be reused.
        case closing
    }

    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// When the head of the exchange in flight is due (nil once it came), and when the whole exchange must have
    /// ended (nil when the request sets no total). One timer per connection checks both, not one each per exchange:
    /// a timer still pending from an earlier exchange fires no later than this one's next due time and re-arms
    /// itself for it, so a busy keep-alive connection schedules about one timer per head timeout, not two (and two
    /// cancellations) per request.
    private var headDue: NIODeadline?
    private var totalDue: NIODeadline?
    private var deadlineTimer: (task: Scheduled<Void>, at: NIODeadline)?
    /// The exchange's idle watch (only when the request sets an idle limit).
    private var idleWatch: Scheduled<Void>?
    private var idleLimit: TimeAmount?
    private var lastRead = NIODeadline.now()
    private var readHeld = false
    private var producing = true
    private let maxResponseBytes: Int
    private let release: @Sendable (UpstreamConnection) -> Void

    init(maxResponseBytes: Int, release: @escaping @Sendable (UpstreamConnection) -> Void) {
        self.maxResponseBytes = maxResponseBytes
        self.release = release
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    /// The timers hold the handler strongly until they fire or are cancelled, here at the latest: a weak reference
    /// would give the handler a side table, and every retain of it (several a request) the runtime's slow path.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        cancelTimers()
    }

    /// Starts `exchange` (on the connection's loop): its request goes out, its deadlines start.
    func start(_ exchange: Exchange) {
        guard case .idle = state, let context, context.channel.isActive else {
            return exchange.result.fail(StaleConnection(neverSent: true))
        }
        state = .awaitingHead(exchange, sawBytes: false)
        producing = true
        let now = NIODeadline.now()
        headDue = now + exchange.headTimeout
        totalDue = exchange.total.map { now + $0 }
        armDeadlineTimer(context: context)
        idleLimit = exchange.idleTimeout
        context.writeAndFlush(wrapOutboundOut(exchange.request), promise: nil)
    }

    /// The exchange's next due time: its head's, or its end's.
    private var nextDue: NIODeadline? {
        switch (headDue, totalDue) {
        case (let head?, let total?): min(head, total)
        case (let head, let total): head ?? total
        }
    }

    /// Makes sure a timer fires by the exchange's next due time (keeping one that fires sooner: it re-arms itself).
    /// The timers run on this channel's event loop, where the handler and its context live: isolated scheduling lets
    /// them use both without crossing threads (and checks that this is the loop).
    private func armDeadlineTimer(context: ChannelHandlerContext) {
        guard let due = nextDue, self.context != nil else { return }
        if let timer = deadlineTimer {
            guard timer.at > due else { return }
            timer.task.cancel()
        }
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) {
            self.deadlineTimer = nil
            switch self.state {
            case .awaitingHead, .collecting, .streaming: break
            case .idle, .closing: return
            }
            let now = NIODeadline.now()
            if let head = self.headDue, now >= head { return self.fail(UpstreamError(.timeout), context: context) }
            if let total = self.totalDue, now >= total { return self.fail(UpstreamError(.timeout), context: context) }
            self.armDeadlineTimer(context: context)
        }
        deadlineTimer = (task, due)
    }

    /// Checks the gap since the last body part when the idle limit could have passed; re-arms itself otherwise.
    private func armIdleWatch(context: ChannelHandlerContext) {
        guard let limit = idleLimit, self.context != nil else { return }
        idleWatch = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastRead + limit) {
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

    /// The exchange's timers end with it; the deadline timer (when the connection stays open) is left to fire and
    /// find nothing due, or to serve the next exchange.
    private func cancelTimers(keepingDeadlineTimer: Bool = false) {
        headDue = nil
        totalDue = nil
        if !keepingDeadlineTimer {
            deadlineTimer?.task.cancel()
            deadlineTimer = nil
        }
        idleWatch?.cancel()
        idleWatch = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if idleLimit != nil { lastRead = .now() }
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingHead(let exchange, _)):
            if head.status.code < 200 { state = .awaitingHead(exchange, sawBytes: true); return }   // 1xx: wait on
            headDue = nil
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
        // The connection goes back to the pool before the caller hears of the end: a caller that sends its next
        // request at once finds it there rather than opening another.
        case (.end, .collecting(let exchange, let head, let buffer)):
            state = .idle
            finishExchange(keepAlive: head.isKeepAlive, context: context)
            exchange.result.succeed(ExchangeResult(head: head, body: .collected(buffer)))
        case (.end, .streaming(let source, let keepAlive)):
            state = .idle
            finishExchange(keepAlive: keepAlive, context: context)
            source.finish()
        case (_, .closing):
            break
        default:
            fail(UpstreamError(.other), context: context)    // a response part out of order
        }
    }

    private func finishExchange(keepAlive: Bool, context: ChannelHandlerContext) {
        cancelTimers(keepingDeadlineTimer: keepAlive)
        idleLimit = nil
        producing = true
        if readHeld { readHeld = false; context.read() }
        if keepAlive {
            release(UpstreamConnection(channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop)))
        } else {
            context.close(promise: nil)
        }
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
