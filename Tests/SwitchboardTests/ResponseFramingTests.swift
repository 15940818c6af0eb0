import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import SwitchboardServer
import Testing

/// `ResponseFraming` writes what NIO's `HTTPResponseEncoder` writes for the same parts, byte for byte.
@Suite struct ResponseFramingTests {
    /// Every byte `ResponseFraming` writes for `parts`, in order.
    static func framed(_ parts: [HTTPServerResponsePart]) -> String {
        var framing = ResponseFraming()
        var out = ""
        for part in parts {
            framing.encode(part, allocator: ByteBufferAllocator(), promise: nil) { data, _ in
                guard case .byteBuffer(let buffer) = data else { Issue.record("a file region"); return }
                out += String(buffer: buffer)
            }
        }
        return out
    }

    /// Every byte the handler writes for `parts`, in order.
    static func written(_ handler: any ChannelHandler, _ parts: [HTTPServerResponsePart]) throws -> String {
        let channel = EmbeddedChannel(handler: handler)
        defer { _ = try? channel.finish() }
        for part in parts { try channel.writeOutbound(part) }
        var out = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { Issue.record("a file region"); continue }
            out += String(buffer: buffer)
        }
        return out
    }

    static func head(_ status: HTTPResponseStatus, _ fields: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPServerResponsePart {
        .head(HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(fields)))
    }

    static func body(_ text: String) -> HTTPServerResponsePart { .body(.byteBuffer(ByteBuffer(string: text))) }

    @Test func theSameBytesAsNIOsEncoder() throws {
        let answers: [[HTTPServerResponsePart]] = [
            [Self.head(.ok, [("content-type", "application/json"), ("content-length", "2"), ("x-request-id", "r1")]), Self.body("{}"), .end(nil)],
            [Self.head(.ok, [("content-type", "text/event-stream")]), Self.body("data: 1\n\n"), Self.body(""), Self.body(String(repeating: "x", count: 300)), .end(nil)],
            [Self.head(.ok, [("Transfer-Encoding", "gzip"), ("x-a", "1"), ("transfer-encoding", "chunked")]), Self.body("abc"),
             .end(HTTPHeaders([("x-trailer", "t"), ("x-t2", "u")]))],
            [Self.head(.ok, [("content-length", "3"), ("TRANSFER-ENCODING", "chunked")]), Self.body("abc"), .end(nil)],
            [Self.head(.noContent, [("content-length", "0"), ("transfer-encoding", "chunked"), ("x-b", "2")]), .end(nil)],
            [Self.head(.notModified, [("etag", "\"e\""), ("Content-Length", "10")]), .end(nil)],
            [Self.head(.custom(code: 103, reasonPhrase: "Early Hints"), [("link", "</a>; rel=preload")]),
             Self.head(.ok, [("content-length", "1")]), Self.body("a"), .end(nil)],
            [Self.head(.ok, [("x", "y")], version: .http1_0), Self.body("raw"), .end(nil)],
            [Self.head(.custom(code: 299, reasonPhrase: "Weird Thing"), []), Self.body("w"), .end(nil)],
            [Self.head(.badRequest, [("connection", "close"), ("content-length", "0")]), .end(nil)],
            [Self.head(.ok, []), .end(HTTPHeaders())],
        ]
        for (i, parts) in answers.enumerated() {
            let (mine, nio) = (Self.framed(parts), try Self.written(HTTPResponseEncoder(), parts))
            #expect(mine == nio, "answer \(i)")
        }
        // Every status code's line, with and without a body.
        for code in 100...599 {
            let parts = [Self.head(HTTPResponseStatus(statusCode: code), [("content-length", "1")]), Self.body("z"), .end(nil)]
            let (mine, nio) = (Self.framed(parts), try Self.written(HTTPResponseEncoder(), parts))
            #expect(mine == nio, "\(code)")
        }
    }

    /// Each answer on a connection is framed on its own: a chunked one after a sized one, and the reverse.
    @Test func framingIsDecidedAnswerByAnswer() throws {
        let parts: [HTTPServerResponsePart] = [
            Self.head(.ok, [("content-length", "2")]), Self.body("ok"), .end(nil),
            Self.head(.ok, []), Self.body("chunk"), .end(nil),
            Self.head(.ok, [("content-length", "1")]), Self.body("1"), .end(nil),
        ]
        let (mine, nio) = (Self.framed(parts), try Self.written(HTTPResponseEncoder(), parts))
        #expect(mine == nio)
        #expect(mine.contains("transfer-encoding: chunked\r\n\r\n5\r\nchunk\r\n0\r\n\r\n"))
    }
}
