import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The gateway's HTTP/1 connections: NIO's HTTP decoder (behind `ReadAhead`), then one `RequestDispatcher` that does
/// what Hummingbird's pipeline did behind it (NIO's pipelining assistance, graceful-shutdown quiescing, the HTTP-types
/// conversion, the idle timeout, NIO's response encoder), the connection rules Hummingbird leaves to the application,
/// and what Hummingbird's per-connection async loop did.
///
/// Hummingbird hands each request part through a `NIOAsyncChannel` to a task per connection, and each response part
/// back through its async writer: a state machine and a buffer each way, on top of the thread hops. Here a request
/// whose body came with its head (almost every API call) goes to the router's responder in a task of its own (one of
/// its event loop's workers, which serve one request after another: `LoopExecutor`), with its body as one buffer, and
/// the response is written straight into the channel from that task. The task prefers the connection's event loop as
/// its executor: what it awaits there (the upstream's answer) resumes it on the same thread, without a hop to Swift's
/// global pool and back (a request with a large body runs in a new task on the pool: `RequestDispatcher.onLoopBytes`).
/// The router, its middleware and every handler see the same `Request` and return the same `Response` as before.
struct DirectHTTP1Channel<Responder: HTTPResponder>: ServerChildChannel where Responder.Context == GatewayRequestContext {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let responder: Responder
    let idleTimeout: Duration
    let requestTimeout: TimeAmount
    var clientTimeout: TimeAmount?
    var refused: (@Sendable (String) -> Void)?
    /// The logger each request's context starts from.
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let ops = channel.pipeline.syncOperations
            // As Hummingbird's HTTP1Channel sets it up (NIO's HTTP decoder with Hummingbird's limits), with everything
            // behind the decoder in the one `RequestDispatcher`.
            if clientTimeout != nil { try ops.addHandler(RequestBytesWatch()) }
            try ops.addHandler(ReadAhead())
            try ops.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: Self.decoderLimits)))
            try ops.addHandler(RequestDispatcher(idleTimeout: TimeAmount(idleTimeout), requestTimeout: requestTimeout, clientTimeout: clientTimeout,
                                                 logger: logger, refused: refused, respond: respond))
            return Value(channel: channel)
        }
    }

    /// Hummingbird's limits for a request's head (80 KiB of headers, 1,000 fields).
    static var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 80 * 1024
        limits.maxHeaderListSize = 80 * 1024
        limits.maxHeaderFieldCount = 1000
        return limits
    }

    /// Requests run in tasks of their own; this task only keeps the connection's place in the server's task group
    /// (and closes the connection's input if the server is cancelled, as Hummingbird's loop does). Only Hummingbird's
    /// server calls it (HummingbirdTesting's live mode runs it); the binary's `GatewayListener` has no task per
    /// connection.
    func handle(value: Value, logger: Logger) async {
        await withTaskCancellationHandler {
            try? await value.channel.closeFuture.get()
        } onCancel: {
            value.channel.close(mode: .input, promise: nil)
        }
    }

    /// One request, in its task: the router's answer (a 500 with no body for an error that escaped it, as
    /// Hummingbird's application does), with a `date` header, written to the connection.
    @Sendable func respond(_ request: Request, _ channel: any Channel, _ writer: ChannelResponseWriter) async {
        let context = GatewayRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        var response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            logger.debug("Unrecognised Error", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError, body: .init())
        }
        response.headers[.date] = HTTPDate.now()
        guard response.body.contentLength == nil else { return await Self.write(response, writer, channel, logger) }
        // A stream (its length unknown) is relayed for as long as it lasts: from a task of its own, so that this one
        // is free now, and the memory of the request's deepest calls (admission, routing, the upstream call), which a
        // task keeps for as long as it lives, is not held by every open stream. The new task starts small and only
        // ever holds the relay's frames.
        // It prefers the connection's event loop, as the request's task does.
        let logger = logger
        Task(executorPreference: writer.executor) { await Self.write(response, writer, channel, logger) }
    }

    private static func write(_ response: Response, _ writer: ChannelResponseWriter, _ channel: any Channel, _ logger: Logger) async {
        do {
            try await writer.write(response)
        } catch {
            // An answer cut off (the client went away, or a streamed body failed) ends the connection, as with
            // Hummingbird: nothing written after it could be told apart from it.
            logger.trace("Failed to write to the connection", metadata: ["error.type": "\(type(of: error))"])
            channel.close(promise: nil)
        }
    }
}
