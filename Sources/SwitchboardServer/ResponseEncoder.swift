import NIOCore
import NIOHTTP1
import SwitchboardCore

/// NIO's HTTP/1 response encoder (`HTTPResponseEncoder`, with its framing headers set automatically), writing the same
/// bytes without changing the head it is given: NIO's removes `transfer-encoding` from the head's fields before it
/// writes them, and as the head is still held by the part it came in, every answer's fields were copied for that.
/// Here the fields are written as they are, leaving out what NIO's would have removed:
/// - a status that has no body (1xx, 204, 304): no `content-length`, no `transfer-encoding`;
/// - a `content-length`: no `transfer-encoding`;
/// - neither, on HTTP/1.1: `transfer-encoding: chunked` last (any other `transfer-encoding` left out), and the body in
///   chunks; on HTTP/1.0 the body as it is.
final class ResponseEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = IOData

    private var isChunked = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            context.write(wrapOutboundOut(.byteBuffer(encode(head, allocator: context.channel.allocator))), promise: promise)
        case .body(let body):
            guard isChunked, body.readableBytes > 0 else { return context.write(wrapOutboundOut(body), promise: promise) }
            // Empty parts are not framed: a chunk of length 0 would end the body.
            var frame = context.channel.allocator.buffer(capacity: 16)
            frame.writeString(String(body.readableBytes, radix: 16))
            frame.writeStaticString("\r\n")
            context.write(wrapOutboundOut(.byteBuffer(frame)), promise: nil)
            context.write(wrapOutboundOut(body), promise: nil)
            frame.moveReaderIndex(forwardBy: frame.readableBytes - 2)   // its "\r\n" again, in the same storage
            context.write(wrapOutboundOut(.byteBuffer(frame)), promise: promise)
        case .end(let trailers):
            guard isChunked else {
                // Nothing to write, but the promise completes in order with the writes before it.
                if let promise { context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise) }
                return
            }
            var last = context.channel.allocator.buffer(capacity: trailers == nil ? 5 : 256)
            last.writeStaticString("0\r\n")
            for (name, value) in trailers ?? [:] { Self.write(name, value, to: &last) }
            last.writeStaticString("\r\n")
            context.write(wrapOutboundOut(.byteBuffer(last)), promise: promise)
        }
    }

    /// The head's bytes; decides whether the body goes in chunks.
    func encode(_ head: HTTPResponseHead, allocator: ByteBufferAllocator) -> ByteBuffer {
        let mayHaveBody = head.status.mayHaveResponseBody
        let hasLength = head.headers.contains(name: "content-length")
        let http11 = head.version.major == 1 && head.version.minor >= 1
        isChunked = mayHaveBody && !hasLength && http11
        // Dropped: both framing fields without a body; `transfer-encoding` with a length or when chunked is added.
        let dropLength = !mayHaveBody
        let dropTransferEncoding = !mayHaveBody || hasLength || isChunked
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeStaticString("HTTP/")
        buffer.writeString(String(head.version.major))
        buffer.writeStaticString(".")
        buffer.writeString(String(head.version.minor))
        buffer.writeStaticString(" ")
        buffer.writeString(String(head.status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(head.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in head.headers {
            if dropLength, name.equalsASCIICaseInsensitively("content-length") { continue }
            if dropTransferEncoding, name.equalsASCIICaseInsensitively("transfer-encoding") { continue }
            Self.write(name, value, to: &buffer)
        }
        if isChunked { buffer.writeStaticString("transfer-encoding: chunked\r\n") }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    private static func write(_ name: String, _ value: String, to buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }
}
