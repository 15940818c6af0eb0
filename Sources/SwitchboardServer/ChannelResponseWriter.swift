import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

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
