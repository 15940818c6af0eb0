import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
@testable import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardStore
import Synchronization
import Testing

/// A client connection that keeps what it reads and says when an answer (a JSON body) has come in full.
private final class Reader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let state = Mutex((text: "", waiter: Optional<(count: Int, promise: EventLoopPromise<Void>)>.none))

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = String(buffer: unwrapInboundIn(data))
        let ready: EventLoopPromise<Void>? = state.withLock { s in
            s.text += part
            guard let w = s.waiter, Self.answers(s.text) >= w.count else { return nil }
            s.waiter = nil
            return w.promise
        }
        ready?.succeed()
    }

    /// Answers read in full: each ends its JSON body.
    static func answers(_ text: String) -> Int { text.hasSuffix("}") ? answerCount(text) : answerCount(text) - 1 }

    var text: String { state.withLock { $0.text } }

    /// Completes once `count` answers have been read.
    func answered(_ count: Int, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let now: Bool = state.withLock { s in
            if Self.answers(s.text) >= count { return true }
            s.waiter = (count, promise)
            return false
        }
        if now { promise.succeed() }
        return promise.futureResult
    }
}

/// `GatewayListener`, the socket the gateway binary listens on (the live tests run Hummingbird's server around the
/// same connections, as HummingbirdTesting does).
@Suite struct GatewayListenerTests {
    /// The application's `run` serves with the listener: requests are answered; past `max_connections` a new
    /// connection waits (accepted by the kernel, not by the gateway) until one closes; a graceful shutdown closes the
    /// idle connections and `run` returns.
    @Test func servesHoldsPastItsMaximumAndDrains() async throws {
        var config = try ConfigLoader.load(yaml: DirectHTTP1Tests.yaml + "\nserver: { max_connections: 4 }", environment: [:])
        config.server.host = "127.0.0.1"
        config.server.port = 0
        let (ports, found) = AsyncStream.makeStream(of: Int.self)
        let logger = Logger(label: "test")
        let app = try await buildApplication(config: config, storage: MemoryStorage(), logger: logger) { found.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var next = ports.makeAsyncIterator()
            let port = try #require(await next.next())
            @Sendable func connect() async throws -> (channel: any Channel, reader: Reader) {
                let reader = Reader()
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelInitializer { $0.pipeline.addHandler(reader) }
                    .connect(host: "127.0.0.1", port: port).get()
                try await channel.writeAndFlush(ByteBuffer(string: DirectHTTP1Tests.chat("hi"))).get()
                return (channel, reader)
            }
            try await within(20) {
                var held: [(channel: any Channel, reader: Reader)] = []
                for _ in 0..<4 {
                    let c = try await connect()
                    try await c.reader.answered(1, on: c.channel.eventLoop).get()
                    #expect(c.reader.text.hasPrefix("HTTP/1.1 200 OK"))
                    held.append(c)
                }
                // The 5th is not taken while the 4 stay open (a bounded look: nothing may arrive).
                let waiting = try await connect()
                let early = waiting.reader.answered(1, on: waiting.channel.eventLoop)
                try await Task.sleep(for: .milliseconds(300))
                #expect(waiting.reader.text.isEmpty, "answered past max_connections")
                try await held.removeFirst().channel.close().get()
                try await early.get()
                #expect(waiting.reader.text.hasPrefix("HTTP/1.1 200 OK"))
                held.append(waiting)
                await group.triggerGracefulShutdown()
                for c in held { try await c.channel.closeFuture.get() }
            }
            try await tasks.next()
        }
    }

    /// A listening socket that closes on its own (not through a shutdown) ends the listener's `run`, as the end of its
    /// accept sequence ended Hummingbird's server: the service group around it is not left waiting forever.
    @Test func aListeningSocketThatClosesEndsTheListener() async throws {
        let router = Router(context: GatewayRequestContext.self)
        router.get("/") { _, _ in "ok" }
        let connection = DirectHTTP1Channel(responder: router.buildResponder(), idleTimeout: .seconds(5), requestTimeout: .seconds(5),
                                            logger: Logger(label: "test"))
        let (servers, found) = AsyncStream.makeStream(of: (any Channel).self)
        let listener = GatewayListener(host: "127.0.0.1", port: 0, backlog: 16, connections: MaximumAvailableConnections(16), connection: connection,
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test")) { found.yield($0) }
        try await within(20) {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await listener.run() }
                var next = servers.makeAsyncIterator()
                let server = try #require(await next.next())
                try await server.close()
                try await tasks.next()
            }
        }
    }

    /// `server.max_connections` is lowered to fit the descriptor limit (half of what a reserve leaves, at least 16),
    /// never raised: a configured value below 16 stays as it is.
    @Test func maxConnectionsIsLoweredToFitTheDescriptorsNeverRaised() {
        let logger = Logger(label: "test")
        #expect(FileDescriptorLimit.cap(10_000, descriptors: 20_000, logger: logger) == 9_000)
        #expect(FileDescriptorLimit.cap(5_000, descriptors: 20_000, logger: logger) == 5_000)
        #expect(FileDescriptorLimit.cap(10_000, descriptors: 256, logger: logger) == 96)
        #expect(FileDescriptorLimit.cap(10_000, descriptors: 64, logger: logger) == 16)
        #expect(FileDescriptorLimit.cap(5, descriptors: 20_000, logger: logger) == 5)
        #expect(FileDescriptorLimit.cap(8, descriptors: 64, logger: logger) == 8)
    }
}
