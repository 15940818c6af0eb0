import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `floor-proxy PORT UPSTREAM_HOST UPSTREAM_PORT`: the least an HTTP/1.1 reverse proxy on SwiftNIO can do, as the
/// benchmark's floor for the gateway (`scripts/bench.sh`, the "SwiftNIO floor" column). Each client connection takes
/// a keep-alive connection to the upstream on its own event loop (from a pool, or a new one) with its first request
/// and gives it back when it closes; a request's head and body go upstream as they were parsed (the `host` header
/// rewritten), the answer comes back part by part. No routing, no keys, no limits, no logs: what is left is SwiftNIO's
/// HTTP/1 codec on two connections, its channel pipeline and the kernel, which every SwiftNIO server pays before it
/// does anything of its own.
///
/// Two switches add one layer of the gateway's each, to measure what it costs (docs/benchmark.md):
/// - `FLOOR_TASK=1`: each request goes through a Swift task, as the gateway's do: the task is started from the event
///   loop with the whole request, hands it to the upstream's loop and waits for the whole answer, then hands that to
///   the client's loop (two thread hops each way). `FLOOR_TASK=loop`: the same task, started at once on the event
///   loop's thread (`Task.immediate`) with the loop as its executor, so that it never leaves the loop.
/// - `FLOOR_PIPELINING=1`: NIO's HTTP/1 pipelining assistance on client connections, as the gateway has.
let arguments = CommandLine.arguments
guard arguments.count == 4, let port = Int(arguments[1]), let upstreamPort = Int(arguments[3]) else {
    print("usage: floor-proxy PORT UPSTREAM_HOST UPSTREAM_PORT")
    exit(2)
}
let upstream = (host: arguments[2], port: upstreamPort)
let viaTask = getenv("FLOOR_TASK") != nil
let taskOnLoop = getenv("FLOOR_TASK").map { String(cString: $0) } == "loop"
let pipelining = getenv("FLOOR_PIPELINING") != nil

/// Idle upstream connections, by event loop.
let pool = Mutex<[ObjectIdentifier: [Back]]>([:])

/// The client's side: one request at a time (the benchmark's clients do not pipeline).
final class Front: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var context: ChannelHandlerContext?
    private var back: Back?
    private var waiting: [HTTPClientRequestPart] = []
    private var connecting = false
    /// With `FLOOR_TASK`: the request so far, and the answer so far with the task waiting for it.
    private var request: [HTTPClientRequestPart] = []
    private var answer: (parts: [HTTPServerResponsePart], promise: EventLoopPromise<[HTTPServerResponsePart]>)?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part: HTTPClientRequestPart
        switch unwrapInboundIn(data) {
        case .head(var head):
            head.headers.replaceOrAdd(name: "host", value: "\(upstream.host):\(upstream.port)")
            part = .head(head)
        case .body(let buffer):
            part = .body(.byteBuffer(buffer))
        case .end(let trailers):
            part = .end(trailers)
        }
        guard viaTask else { return forward(part) }
        request.append(part)
        guard case .end = part else { return }
        let parts = request
        request = []
        let loop = context.eventLoop
        let front = NIOLoopBound(self, eventLoop: loop)
        // The same work either way; on the loop each step runs in place, from the pool it hops to the loop.
        let exchange: @Sendable () async -> Void = {
            let promise = loop.makePromise(of: [HTTPServerResponsePart].self)
            loop.run {
                front.value.answer = ([], promise)
                for part in parts { front.value.forward(part) }
            }
            guard let answer = try? await promise.futureResult.get() else { return }
            loop.run { for part in answer { front.value.write(part) } }
        }
        if taskOnLoop {
            Task.immediate(executorPreference: LoopExecutor(loop: loop), operation: exchange)
        } else {
            Task(operation: exchange)
        }
    }

    private func forward(_ part: HTTPClientRequestPart) {
        if let back { return back.send(part) }
        waiting.append(part)
        guard !connecting, let context else { return }
        connecting = true
        let loop = ObjectIdentifier(context.eventLoop)
        while let idle = pool.withLock({ $0[loop]?.popLast() }) {
            guard idle.channel?.isActive == true else { continue }
            return attach(idle)
        }
        let front = NIOLoopBound(self, eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(Back())
                }
            }
            .connect(host: upstream.host, port: upstream.port)
            .flatMapThrowing { try $0.pipeline.syncOperations.handler(type: Back.self) }
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let back): front.value.attach(back)
                case .failure: front.value.close()
                }
            }
    }

    private func attach(_ back: Back) {
        self.back = back
        back.front = self
        for part in waiting { back.send(part) }
        waiting = []
    }

    /// A part of the upstream's answer: to the client now, or to the waiting task once it is whole.
    func received(_ part: HTTPServerResponsePart) {
        guard var answer else { return write(part) }
        answer.parts.append(part)
        guard case .end = part else { return self.answer = answer }
        self.answer = nil
        answer.promise.succeed(answer.parts)
    }

    private func write(_ part: HTTPServerResponsePart) {
        guard let context else { return }
        if case .end = part { context.writeAndFlush(wrapOutboundOut(part), promise: nil) } else { context.write(wrapOutboundOut(part), promise: nil) }
    }

    func close() {
        answer?.promise.fail(ChannelError.ioOnClosedChannel)
        answer = nil
        context?.close(promise: nil)
    }

    /// The client went away: its upstream connection goes back to the pool, unless an answer is still coming on it.
    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        answer?.promise.fail(ChannelError.ioOnClosedChannel)
        answer = nil
        if let back {
            back.front = nil
            if back.busy {
                back.channel?.close(promise: nil)
            } else {
                let loop = ObjectIdentifier(context.eventLoop)
                pool.withLock { $0[loop, default: []].append(back) }
            }
        }
        context.fireChannelInactive()
    }
}

extension EventLoop {
    /// Runs `body` on this loop: in place when already there, else in one hop.
    func run(_ body: @escaping @Sendable () -> Void) {
        if inEventLoop { body() } else { execute(body) }
    }
}

/// Runs a task's jobs on an event loop: the gateway's `LoopExecutor` (SwitchboardServer), repeated here so that the
/// floor depends on SwiftNIO alone.
final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop
    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// The upstream's side: its answer goes to the client as it comes.
final class Back: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// Touched on the connection's event loop only (the pool hands it between connections of the same loop).
    var front: Front?
    private(set) var channel: (any Channel)?
    /// A request went out and its answer has not ended.
    private(set) var busy = false

    func handlerAdded(context: ChannelHandlerContext) { channel = context.channel }

    func send(_ part: HTTPClientRequestPart) {
        guard let channel else { return }
        if case .end = part {
            busy = true
            channel.writeAndFlush(part, promise: nil)
        } else {
            channel.write(part, promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            front?.received(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)))
        case .body(let buffer):
            front?.received(.body(.byteBuffer(buffer)))
        case .end(let trailers):
            busy = false
            front?.received(.end(trailers))
        }
    }

    /// The upstream closed: a client still waiting for an answer on it is closed too.
    func channelInactive(context: ChannelHandlerContext) {
        if busy { front?.close() }
        channel = nil
        context.fireChannelInactive()
    }
}

let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: pipelining, withErrorHandling: false)
            try channel.pipeline.syncOperations.addHandler(Front())
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
print("floor-proxy listening on 127.0.0.1:\(port), upstream \(upstream.host):\(upstream.port)"
      + (viaTask ? ", each request through a task" : "") + (pipelining ? ", pipelining assistance" : ""))
try server.closeFuture.wait()
