import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The answer's way out: parts from the request's task, the connection's rules applied to its head, its bytes
/// written, and what comes after its end (the next request, or the connection's close).
extension RequestDispatcher {
    /// On the loop, from the task: response parts, in order, then a flush.
    func emit(_ parts: [HTTPResponsePart], promise: EventLoopPromise<Void>?) {
        guard let context, !tookOver else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var ended = false
        var closes = false
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            if case .end = part {
                ended = true
                closes = endAnswer(ServerCodec.response(part), promise: last ? promise : nil, context)
            } else {
                write(ServerCodec.response(part), promise: last ? promise : nil, context)
            }
        }
        if !closes { context.flush() }
        if ended { answered(closing: closes) }   // after the flush: it may close the connection
    }

    /// Writes a head or a body part: a head with the connection's rules (`connection: close` when the request asked
    /// for it, was HTTP/1.0 without a length, or the server is shutting down; HTTP/1.0's version on an HTTP/1.0
    /// request).
    func write(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext) {
        var part = part
        if case .head(var head) = part {
            if quiescing, head.isKeepAlive { head.headers.replaceOrAdd(name: "connection", value: "close") }
            if let answer = answers.first, answer.close || answer.http10 {
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
            }
            part = .head(head)
        }
        encode(part, promise: promise, context)
    }

    /// Writes the answer's end; when the connection closes after it, flushes and closes once it is written. Returns
    /// whether it closes.
    func endAnswer(_ end: HTTPServerResponsePart, promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext) -> Bool {
        let close = (answers.first?.close ?? false) || (quiescing && !requestOpen)
        if !answers.isEmpty { answers.removeFirst() }
        encode(end, promise: promise, context)
        if close { closeWhenWritten(context) }
        return close
    }

    func encode(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext) {
        framing.encode(part, allocator: context.channel.allocator, promise: promise) { data, promise in
            context.write(wrapOutboundOut(data), promise: promise)
        }
    }

    /// The answer has ended: what the handler did not read of its body is dropped (or, when the client has closed
    /// its side, the connection closes); what waited comes in.
    func answered(closing: Bool) {
        answering = false
        if idleTimeout != nil, let context {
            lastActive = .now()
            armIdleTimer(context)
        }
        if case .streaming(let stream) = receiving {
            stream.finish()
            receiving = .dropping
        }
        // What held reading back for the request's body is over (before what waited comes in: a request among it
        // may hold reading back for its own).
        paused = false
        guard !closing, let context else { return }
        if closeWhenAnswered { return closeWhenWritten(context) }
        deliverWaiting(context)
        startReading()
    }

    /// What arrived while the answer was written, in order, until a request ends again before its answer.
    func deliverWaiting(_ context: ChannelHandlerContext) {
        var delivered = false
        while !awaitingAnswer, !closing, !waiting.isEmpty {
            switch waiting.removeFirst() {
            case .part(let part):
                deliver(part, context)
                delivered = true
            case .error(let error):
                parseFailed(error, context)
            case .halfClose:
                halfClosed(context)
            }
        }
        // As a read completing: a request whose body is still to come starts now, with what is here.
        if delivered { readCompleted(context) }
        if case .halfClose? = waiting.first {
            waiting.removeFirst()
            halfClosed(context)
        }
    }

    /// A malformed request: 400, and the connection closes.
    func parseFailed(_ error: HTTPParserError, _ context: ChannelHandlerContext) {
        if case .streaming(let stream) = receiving { stream.finish(throwing: error) }
        receiving = .dropping
        pendingBody = nil
        waiting.removeAll()
        var head = HTTPResponseHead(version: .http1_1, status: .badRequest)
        head.headers.add(name: "connection", value: "close")
        head.headers.add(name: "content-length", value: "0")
        write(.head(head), promise: nil, context)
        if !endAnswer(.end(nil), promise: nil, context) { closeWhenWritten(context) }
    }

    /// Graceful shutdown: an idle connection closes now, a busy one once its request and answer have ended.
    func quiesce(_ context: ChannelHandlerContext) {
        waiting.removeAll()
        if !requestOpen && !answering { return closeWhenWritten(context) }
        quiescing = true
    }

    /// Closes the connection once what was written to it has gone (closing at once would drop what is queued: the
    /// end of an answer to a slow reader).
    func closeWhenWritten(_ context: ChannelHandlerContext) {
        closing = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: written)
        written.futureResult.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
