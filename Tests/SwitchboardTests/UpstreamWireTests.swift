import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import SwitchboardProviders
import SwitchboardTesting
import Testing

/// The lean transport's requests on the wire (`UpstreamWire`): the bytes NIO's request encoder sent for the same
/// request, and refused exactly where NIO's request validator refused one.
@Suite struct UpstreamWireTests {
    typealias Fields = [(name: String, value: String)]

    /// What NIO's client pipeline wrote for the head the transport made before (`host`, the fields, `content-length`),
    /// or nil when its validator refused it.
    static func nioHead(method: String, target: String, host: String, fields: Fields, length: Int) throws -> ByteBuffer? {
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target)
        head.headers.add(name: "host", value: host)
        for (name, value) in fields { head.headers.add(name: name, value: value) }
        head.headers.add(name: "content-length", value: String(length))
        let channel = EmbeddedChannel(handlers: [HTTPRequestEncoder(), NIOHTTPRequestHeadersValidator()])
        defer { _ = try? channel.finish() }
        do {
            try channel.writeOutbound(HTTPClientRequestPart.head(head))
        } catch HTTPParserError.invalidHeaderToken {
            return nil
        }
        guard case .byteBuffer(let bytes) = try channel.readOutbound(as: IOData.self) else { return nil }
        return bytes
    }

    static let cases: [(String, String, Fields, Int)] = [
        ("POST", "/v1/chat/completions", [("authorization", "Bearer sk-1"), ("content-type", "application/json")], 120),
        ("POST", "/v1/messages?beta=true", [("x-api-key", "k"), ("anthropic-version", "2023-06-01"), ("Transfer-Encoding", "chunked")], 7),
        ("GET", "/v1/models", [("accept", "*/*"), ("x-tab", "a\tb"), ("x-utf8", "café ☕")], 0),
        ("DELETE", "/v1/files/f-1", [("TRANSFER-ENCODING", "gzip"), ("x-empty", "")], 0),
        ("TRACE", "/", [("x", "y")], 0),
        ("PATCH", "/a%20b/c;d=e,f@g:h!$&'()*+~", [], 3),
        ("POST", "/v1/chat/completions", [("x-a", "1"), ("x-a", "2"), ("content-length", "9")], 9),
    ]

    @Test func headsAreTheBytesNIOsEncoderWrote() throws {
        for (method, target, fields, length) in Self.cases {
            let mine = try #require(UpstreamWire.head(method: method, target: target, host: "api.example.com:8443", fields: fields, contentLength: length),
                                    "\(method) \(target)")
            let nio = try #require(try Self.nioHead(method: method, target: target, host: "api.example.com:8443", fields: fields, length: length))
            #expect(String(buffer: mine) == String(buffer: nio), "\(method) \(target)")
        }
    }

    /// Control characters (but HTAB), names and methods that are not tokens, targets with bytes RFC 9112 does not
    /// allow as they are: refused by both, and nothing else is.
    @Test func refusedWhereNIOsValidatorRefused() throws {
        let bad: [(String, String, String, Fields)] = [
            ("POST", "/v1", "h", [("x", "a\r\nx-injected: 1")]), ("POST", "/v1", "h", [("x", "a\nb")]), ("POST", "/v1", "h", [("x", "a\0b")]),
            ("POST", "/v1", "h", [("x", "a\u{7F}")]), ("POST", "/v1", "h", [("x", "a\u{01}")]), ("POST", "/v1", "h", [("a b", "v")]),
            ("POST", "/v1", "h", [("a:b", "v")]), ("POST", "/v 1", "h", []), ("POST", "/v1\r\n", "h", []),
            ("POST", "/v1\"", "h", []), ("POST", "/ü", "h", []), ("PO ST", "/v1", "h", []), ("POST", "/v1", "h\r\nx: y", []),
            ("POST", "/v1", "h", [("", "v")]), ("P{ST", "/v1", "h", []), ("POST", "/v1{}", "h", []),
        ]
        for (method, target, host, fields) in bad {
            let nio = try Self.nioHead(method: method, target: target, host: host, fields: fields, length: 1)
            let mine = UpstreamWire.head(method: method, target: target, host: host, fields: fields, contentLength: 1)
            #expect((mine == nil) == (nio == nil), "\(method) \(target) \(host) \(fields)")
            if let mine, let nio { #expect(String(buffer: mine) == String(buffer: nio)) }
        }
        #expect(UpstreamWire.head(method: "POST", target: "/v1", host: "h", fields: [("x", "a\r\nb")], contentLength: 1) == nil)
        // A name that is not ASCII: NIO's header list traps on it; here it is refused.
        #expect(UpstreamWire.head(method: "POST", target: "/v1", host: "h", fields: [("ä", "v")], contentLength: 1) == nil)
    }

    /// A head that may not be sent fails as it did (the connection closed) and never reaches the upstream; the next
    /// request on the same transport is served.
    @Test func aHeadThatMayNotBeSentNeverLeaves() async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion()) }) { fake in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
            let bad = UpstreamRequest(url: fake.baseURL + "/chat/completions", headers: [("x-note", "a\r\nx-smuggled: 1")],
                                      body: ByteBuffer(string: "{}"), timeout: .seconds(5))
            await #expect(throws: UpstreamError(.connectionClosed)) { _ = try await transport.execute(bad) }
            #expect(fake.requests.isEmpty)
            let good = UpstreamRequest(url: fake.baseURL + "/chat/completions", headers: [("x-note", "fine")],
                                       body: ByteBuffer(string: "{}"), timeout: .seconds(5))
            let response = try await transport.execute(good)
            #expect(response.status == 200)
            #expect(fake.requests.count == 1 && fake.requests.first?.headers[HTTPField.Name("x-note")!] == "fine")
            await transport.shutdown()
        }
    }
}
