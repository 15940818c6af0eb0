import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// The gateway's listening socket: NIO's `ServerBootstrap`, each accepted connection's pipeline set up on its event
/// loop as it is accepted, and nothing else per connection.
///
/// Hummingbird's server hands every accepted connection through an async sequence to a task that waits, in a task
/// group, for the connection to close: two wake-ups of Swift's pool per connection and a fifth of a new connection's
/// CPU (`docs/benchmark.md`). A connection here is NIO's alone from its accept to its close; its requests still run in
/// tasks of their own (`RequestDispatcher`). What Hummingbird's server did around that stays as it was:
/// - `max_connections` (`AvailableConnectionsChannelHandler`): past it, no more are accepted until one closes;
/// - graceful shutdown (NIO's `ServerQuiescingHelper`): the socket stops listening, idle connections close, busy ones
///   once their answer has ended, and `run` returns when the last has closed. Cancellation does the same, and so
///   does the listening socket closing on its own.
struct GatewayListener: Service {
    let host: String
    let port: Int
    let backlog: Int
    /// `max_connections`: how many connections may be open at once (nil: no limit).
    let connections: (any AvailableConnectionsDelegate)?
    /// Sets up an accepted connection's pipeline (HTTP/1, over TLS when configured).
    let setup: @Sendable (any Channel) -> EventLoopFuture<Void>
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let onRunning: @Sendable (any Channel) async -> Void

    init(host: String, port: Int, backlog: Int, connections: (any AvailableConnectionsDelegate)?, connection: some ServerChildChannel,
         eventLoopGroup: any EventLoopGroup, logger: Logger, onRunning: @escaping @Sendable (any Channel) async -> Void) {
        (self.host, self.port, self.backlog, self.connections) = (host, port, backlog, connections)
        self.setup = { channel in connection.setup(channel: channel, logger: logger).map { _ in } }
        (self.eventLoopGroup, self.logger, self.onRunning) = (eventLoopGroup, logger, onRunning)
    }

    func run() async throws {
        let quiescing = ServerQuiescingHelper(group: eventLoopGroup)
        let connections = self.connections
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: Int32(clamping: backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    if let connections { try ops.addHandler(Self.limiting(connections)) }
                    try ops.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer(setup)
            .bind(host: host, port: port).get()
        logger.info("Server started and listening on \(host):\(server.localAddress?.port ?? port)")
        let drained = server.eventLoop.makePromise(of: Void.self)
        // A listening socket that closes on its own ends the listener too, once its connections have closed (as the
        // end of Hummingbird's accept sequence ended its server); quiescing closes it as well, to no further effect.
        server.closeFuture.whenComplete { _ in quiescing.initiateShutdown(promise: drained) }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await onRunning(server)
                try? await drained.futureResult.get()
            } onGracefulShutdown: {
                quiescing.initiateShutdown(promise: drained)
            }
        } onCancel: {
            quiescing.initiateShutdown(promise: drained)
        }
    }
}

extension GatewayListener {
    /// The server channel's handler that stops accepting past `delegate`'s limit.
    static func limiting(_ delegate: some AvailableConnectionsDelegate) -> any ChannelHandler {
        AvailableConnectionsChannelHandler(delegate: delegate)
    }
}

/// The gateway as a Hummingbird application whose `run` serves with a `GatewayListener`, then its services in a
/// service group (the listener last, so that it is the first to stop, as Hummingbird's own server is).
///
/// `server` builds the same connections for Hummingbird's server, which HummingbirdTesting's live mode runs.
struct GatewayApplication<Responder: HTTPResponder>: ApplicationProtocol where Responder.Context == GatewayRequestContext {
    let responder: Responder
    let connection: any ServerChildChannel
    let configuration: ApplicationConfiguration
    let host: String
    let port: Int
    let services: [any Service]
    let logger: Logger
    let running: @Sendable (any Channel) async -> Void

    var server: HTTPServerBuilder {
        let connection = connection
        return .init { _ in connection }
    }

    func onServerRunning(_ channel: any Channel) async { await running(channel) }

    func run() async throws {
        let listener = GatewayListener(host: host, port: port, backlog: configuration.backlog, connections: configuration.availableConnectionsDelegate,
                                       connection: connection, eventLoopGroup: eventLoopGroup, logger: logger, onRunning: running)
        try await ServiceGroup(configuration: .init(services: services + [listener], logger: logger)).run()
    }
}
