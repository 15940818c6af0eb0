import NIOCore
import NIOHTTP1
import SwitchboardCore

/// An upstream request as the lean transport writes it: its head already in HTTP/1.1's wire format, its body, and its
/// method (which the response's decoder must know: the answer to a `HEAD` has no body).
///
/// NIO's client pipeline made an `HTTPRequestHead` of the request's fields, checked it (`NIOHTTPRequestHeadersValidator`)
/// and wrote it (`HTTPRequestEncoder`, which copied the fields once more to drop `transfer-encoding`): three handlers
/// and three copies of every field for each request. Here the head is written once, into one buffer, by
/// `UpstreamWire.head`, which refuses what that validator refuses, and goes out as NIO's encoder would have sent it.
struct UpstreamWrite: Sendable {
    var head: ByteBuffer
    var body: ByteBuffer?
    var method: HTTPMethod
}

enum UpstreamWire {
    /// `METHOD target HTTP/1.1`, `host`, the request's fields (but `transfer-encoding`: the body's length is said),
    /// `content-length` (not for `TRACE`), as NIO's request encoder writes a head; nil when NIO's request validator
    /// would not let it out (a target with a byte outside RFC 9112's, a method or field name that is not a token, a
    /// field value with a control character other than HTAB).
    static func head(method: String, target: String, host: String, fields: [(name: String, value: String)], contentLength: Int) -> ByteBuffer? {
        guard method.utf8.allSatisfy(isToken), target.utf8.allSatisfy(isTargetByte),
              isValidValue(host), fields.allSatisfy({ $0.name.utf8.allSatisfy(isToken) && isValidValue($0.value) }) else { return nil }
        let length = contentLength.description
        var size = method.utf8.count + target.utf8.count + host.utf8.count + length.utf8.count + 50
        for field in fields { size += field.name.utf8.count + field.value.utf8.count + 4 }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        buffer.writeString(method)
        buffer.writeStaticString(" ")
        buffer.writeString(target)
        buffer.writeStaticString(" HTTP/1.1\r\nhost: ")
        buffer.writeString(host)
        buffer.writeStaticString("\r\n")
        for (name, value) in fields where !name.equalsASCIICaseInsensitively("transfer-encoding") {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if method != "TRACE" {
            buffer.writeStaticString("content-length: ")
            buffer.writeString(length)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// RFC 9110's `tchar`.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// The bytes RFC 9112 allows in a request target as they are (unreserved, delimiters, `%`).
    static func isTargetByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
             UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "@"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
             UInt8(ascii: "%"):
            true
        default:
            false
        }
    }

    /// No control character but HTAB.
    static func isValidValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == UInt8(ascii: "\t") || ($0 > 0x1F && $0 != 0x7F) }
    }
}

/// Writes an `UpstreamWrite` to the socket: its head and its body, the promise with the last.
final class UpstreamWireEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = UpstreamWrite
    typealias OutboundOut = IOData

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard let body = request.body, body.readableBytes > 0 else {
            return context.write(wrapOutboundOut(.byteBuffer(request.head)), promise: promise)
        }
        context.write(wrapOutboundOut(.byteBuffer(request.head)), promise: nil)
        context.write(wrapOutboundOut(.byteBuffer(body)), promise: promise)
    }
}

/// NIO's response decoder, told each request's method as the request goes out (it needs it to know whether an
/// answer has a body), from an `UpstreamWrite` instead of an `HTTPClientRequestPart`.
struct UpstreamResponseDecoder: WriteObservingByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = UpstreamWrite

    private let decoder: HTTPResponseDecoder

    init(limits: NIOHTTPDecoderLimitConfiguration = .init()) {
        decoder = HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)
    }

    mutating func write(data: UpstreamWrite) {
        decoder.write(data: .head(HTTPRequestHead(version: .http1_1, method: data.method, uri: "")))
    }

    mutating func decoderAdded(context: ChannelHandlerContext) { decoder.decoderAdded(context: context) }
    mutating func decoderRemoved(context: ChannelHandlerContext) { decoder.decoderRemoved(context: context) }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try decoder.decode(context: context, buffer: &buffer)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }
}
