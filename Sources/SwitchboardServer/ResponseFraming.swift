import NIOCore
import NIOHTTP1
import SwitchboardCore

/// The bytes of an answer as NIO's HTTP/1 response encoder (`HTTPResponseEncoder`, with its framing headers set
/// automatically) writes them, for `RequestDispatcher` to write into the connection itself, without changing the head
/// it is given: NIO's removes `transfer-encoding` from the head's fields before it writes them, and as the head is
/// still held by the part it came in, every answer's fields were copied for that. Here the fields are written as they
/// are, leaving out what NIO's would have removed:
/// - a status that has no body (1xx, 204, 304): no `content-length`, no `transfer-encoding`;
/// - a `content-length`: no `transfer-encoding`;
/// - neither, on HTTP/1.1: `transfer-encoding: chunked` last (any other `transfer-encoding` left out), and the body in
///   chunks; on HTTP/1.0 the body as it is.
struct ResponseFraming {
    private var isChunked = false

    /// Writes `part`'s bytes through `write` (the promise with the last of them).
    mutating func encode(_ part: HTTPServerResponsePart, allocator: ByteBufferAllocator, promise: EventLoopPromise<Void>?,
                         _ write: (IOData, EventLoopPromise<Void>?) -> Void) {
        switch part {
        case .head(let head):
            write(.byteBuffer(encode(head, allocator: allocator)), promise)
        case .body(let body):
            guard isChunked, body.readableBytes > 0 else { return write(body, promise) }
            // Empty parts are not framed: a chunk of length 0 would end the body.
            var frame = allocator.buffer(capacity: 16)
            frame.writeString(String(body.readableBytes, radix: 16))
            frame.writeStaticString("\r\n")
            write(.byteBuffer(frame), nil)
            write(body, nil)
            frame.moveReaderIndex(forwardBy: frame.readableBytes - 2)   // its "\r\n" again, in the same storage
            write(.byteBuffer(frame), promise)
        case .end(let trailers):
            guard isChunked else {
                // Nothing to write, but the promise completes in order with the writes before it.
                if let promise { write(.byteBuffer(ByteBuffer()), promise) }
                return
            }
            var last = allocator.buffer(capacity: trailers == nil ? 5 : 256)
            last.writeStaticString("0\r\n")
            for (name, value) in trailers ?? [:] { Self.write(name, value, to: &last) }
            last.writeStaticString("\r\n")
            write(.byteBuffer(last), promise)
        }
    }

    /// The head's bytes; decides whether the body goes in chunks.
    mutating func encode(_ head: HTTPResponseHead, allocator: ByteBufferAllocator) -> ByteBuffer {
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
