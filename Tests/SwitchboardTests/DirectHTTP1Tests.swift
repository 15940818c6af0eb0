import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOPosix
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardTesting
import Testing

/// Sends `chunks` on one new connection, one write each, then reads until `done` says the answers are all there or
/// the server closes the connection. With `halfClose`, once `done` is true the client closes its side and reads on
/// until the server closes.
func rawExchange(port: Int, _ chunks: [String], halfClose: Bool = false,
                 until done: @escaping @Sendable (String) -> Bool) async throws -> (text: String, closed: Bool) {
    try await within(20) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { ch in
            ch.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch, configuration: .init(isOutboundHalfClosureEnabled: true))
            }
        }
        return try await channel.executeThenClose { inbound, outbound in
            for chunk in chunks { try await outbound.write(ByteBuffer(string: chunk)) }
            var text = ""
            var closing = false
            if halfClose, done(text) { outbound.finish(); closing = true }
            for try await part in inbound {
                text += String(buffer: part)
                guard done(text), !closing else { continue }
                guard halfClose else { return (text, false) }
                outbound.finish()
                closing = true
            }
            return (text, true)
        }
    }
}

/// How many HTTP/1.1 answers `text` starts.
func answerCount(_ text: String) -> Int { text.components(separatedBy: "HTTP/1.1 ").count - 1 }

/// The gateway's own HTTP/1 connection handling (`DirectHTTP1Channel`, `RequestDispatcher`), over a real socket.
@Suite struct DirectHTTP1Tests {
    static let yaml = """
    auth: { keys: [ { name: tester, key: "sk-test" } ] }
    providers: [ { name: sim, kind: mock, seed: 1 } ]
    models: [ { name: chat, deployments: [ { provider: sim, model: m } ] } ]
    """

    static func chat(_ content: String, key: String = "sk-test", close: Bool = false) -> String {
        let body = #"{"model":"chat","max_tokens":4,"messages":[{"role":"user","content":"\#(content)"}]}"#
        return "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer \(key)\r\ncontent-type: application/json\r\n"
            + "content-length: \(body.utf8.count)\r\n\(close ? "connection: close\r\n" : "")\r\n\(body)"
    }

    /// Requests sent back to back without waiting are answered one after the other, in order, each with a `date`.
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withGateway(Self.yaml, mode: .live) { h in
            let requests = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n" + Self.chat("one")
                + "GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-test\r\n\r\n"
            let (text, _) = try await rawExchange(port: h.client.port!, [requests]) { answerCount($0) == 3 && $0.hasSuffix("}") && $0.contains(#""object":"list""#) }
            let answers = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(answers.map { String($0.prefix(3)) } == ["200", "200", "200"])
            #expect(Array(answers)[1].contains(#""object":"chat.completion""#))
            #expect(Array(answers)[2].contains(#""object":"list""#))
            #expect(answers.allSatisfy { $0.lowercased().contains("\r\ndate: ") && $0.lowercased().contains("\r\nx-request-id: ") })
        }
    }

    /// A body larger than what waits in one read reaches the handler as a stream (reading pauses while it waits), and
    /// the connection goes on to the next request.
    @Test func aLargeBodyIsStreamedToTheHandler() async throws {
        try await withGateway(Self.yaml, mode: .live) { h in
            let big = String(repeating: "word ", count: 120_000)   // 600 kB: more than `RequestBodyStream.highWater`
            let (text, closed) = try await rawExchange(port: h.client.port!, [Self.chat(big), Self.chat("after", close: true)]) { _ in false }
            #expect(closed)
            #expect(answerCount(text) == 2)
            #expect(text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) } == ["200", "200"])
            #expect(text.components(separatedBy: #""object":"chat.completion""#).count == 3)
        }
    }

    /// An answer that does not read the body (401 here) leaves the rest of the body to be dropped as it arrives; the
    /// next request on the connection is served.
    @Test func anUnreadBodyIsDroppedAndTheNextRequestServed() async throws {
        try await withGateway(Self.yaml, mode: .live) { h in
            let big = String(repeating: "word ", count: 120_000)
            let (text, _) = try await rawExchange(port: h.client.port!, [Self.chat(big, key: "sk-wrong"), Self.chat("after", close: true)]) { _ in false }
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
            #expect(statuses == ["401", "200"])
        }
    }

    /// A request the HTTP parser cannot read gets 400 with `connection: close`, and the connection closes.
    @Test func aMalformedRequestGets400AndIsClosed() async throws {
        try await withGateway(Self.yaml, mode: .live) { h in
            let (text, closed) = try await rawExchange(port: h.client.port!, ["GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n", "NOT HTTP AT ALL\r\n\r\n"]) { _ in false }
            #expect(closed)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
            #expect(statuses == ["200", "400"])
            #expect(text.lowercased().contains("connection: close"))
        }
    }

    /// A client that closes its side of the connection (its answers all in) is disconnected: at once between
    /// requests, or after the answer it waits for.
    @Test func aClientThatClosesItsSideIsDisconnected() async throws {
        try await withGateway(Self.yaml, mode: .live) { h in
            let port = h.client.port!
            let (text, closed) = try await rawExchange(port: port, [Self.chat("x")], halfClose: true) { $0.contains(#""object":"chat.completion""#) && $0.hasSuffix("}") }
            #expect(closed && text.hasPrefix("HTTP/1.1 200"))
            let (nothing, idleClosed) = try await rawExchange(port: port, [], halfClose: true) { _ in true }
            #expect(idleClosed && nothing.isEmpty)
        }
    }

    /// A request's handler runs on its connection's event loop (its task prefers it as executor), and so does the
    /// relay of a streamed answer: no hop to Swift's global pool and back for each thing they await. A request with a
    /// large body runs on Swift's pool instead, where its work does not hold up the loop's other connections.
    @Test func requestsRunOnTheirConnectionsEventLoop() async throws {
        let router = Router(context: GatewayRequestContext.self)
        @Sendable func place() -> String { MultiThreadedEventLoopGroup.currentEventLoop != nil ? "loop" : "pool" }
        router.get("/where") { _, _ in place() }
        router.post("/where") { request, _ in
            _ = try await request.body.collect(upTo: 1 << 20)
            return place()
        }
        router.get("/where/stream") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: place()))
                try await writer.finish(nil)
            })
        }
        let connection = DirectHTTP1Channel(responder: router.buildResponder(), idleTimeout: .seconds(5), requestTimeout: .seconds(5),
                                            logger: Logger(label: "test"))
        let server = HTTPServerBuilder { _ in connection }
        let app = Application(router: router, server: server, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            for path in ["/where", "/where/stream", "/where"] {
                try await client.execute(uri: path, method: .get) { r in #expect(String(buffer: r.body) == "loop", "\(path)") }
            }
            for (size, expected) in [(1_000, "loop"), (RequestDispatcher.onLoopBytes + 1, "pool")] {
                let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: size)
                try await client.execute(uri: "/where", method: .post, body: body) { r in #expect(String(buffer: r.body) == expected, "\(size) bytes") }
            }
        }
    }

    /// A connection with nothing to read or answer for the idle limit is closed, between requests as before the
    /// first; one whose request is being answered is not, however long the answer takes.
    @Test func anIdleConnectionIsClosedButNotOneBeingAnswered() async throws {
        let router = Router(context: GatewayRequestContext.self)
        router.get("/slow") { _, _ in
            try await Task.sleep(for: .milliseconds(900))   // a slow answer: three idle limits
            return "done"
        }
        let connection = DirectHTTP1Channel(responder: router.buildResponder(), idleTimeout: .milliseconds(300), requestTimeout: .seconds(5),
                                            logger: Logger(label: "test"))
        let server = HTTPServerBuilder { _ in connection }
        let app = Application(router: router, server: server, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = client.port!
            // On a busy machine the request may come later than the idle limit after the connection opened: then the
            // connection is (rightly) closed before it, and the exchange is tried again on a new one.
            var started = ContinuousClock.now
            var (text, closed) = ("", false)
            for _ in 0..<5 {
                started = ContinuousClock.now
                do {
                    (text, closed) = try await rawExchange(port: port, ["GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"]) { _ in false }
                } catch ChannelError.ioOnClosedChannel {
                    continue
                }
                if !text.isEmpty { break }
            }
            #expect(closed)
            #expect(text.hasPrefix("HTTP/1.1 200") && text.hasSuffix("done"))
            #expect(ContinuousClock.now - started >= .milliseconds(1_150))   // answered after 900 ms, closed 300 ms later
            let (nothing, idleClosed) = try await rawExchange(port: port, []) { _ in false }
            #expect(nothing.isEmpty && idleClosed)
        }
    }

    /// `HTTPFields.value` gives what the library's subscript gives: nil when absent, one value as it is, several joined
    /// (by "; " for cookies), names in any case.
    @Test func aFieldsValueIsTheLibrarysSubscript() {
        let fields: HTTPFields = [
            .authorization: "Bearer sk-0123456789abcdef0123456789abcdef", .accept: "a", .cookie: "x=1",
            HTTPField.Name("X-Many")!: "1", .acceptEncoding: "gzip", HTTPField.Name("x-many")!: "2", .cookie: "y=2",
        ]
        for name in [HTTPField.Name.authorization, .accept, .cookie, HTTPField.Name("x-many")!, .acceptEncoding, .contentLength] {
            #expect(fields.value(name) == fields[name], "\(name)")
        }
        #expect(fields.value(HTTPField.Name("x-many")!) == "1, 2")
        #expect(fields.value(.cookie) == "x=1; y=2")
        #expect(fields.value(.contentLength) == nil)
    }

    /// `ServerCodec` converts a request's head exactly as the library's codec does: origin-form targets on its own
    /// path (kept as sent, query and odd bytes included), any other form through the library; the first `host` (in
    /// any case) becomes the authority and leaves the fields, a later one stays; invalid names are dropped; a method
    /// HTTP types cannot carry is an error either way.
    @Test func theServerCodecConvertsAsTheLibraryDoes() throws {
        func head(_ uri: String, _ headers: [(String, String)], method: NIOHTTP1.HTTPMethod = .POST) -> HTTPRequestHead {
            HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
        }
        let heads = [
            head("/v1/chat/completions", [("Host", "gw:8080"), ("Authorization", "Bearer k"), ("Content-Type", "application/json")]),
            head("/v1/x?a=1&b=%20c#frag", [("HOST", "a"), ("host", "b"), ("x-one", "1"), ("x-one", "2"), ("cookie", "a=1; b=2")]),
            head("//double/slash", [("x-no-host", "1")]),
            head("/with space", [("bad name", "v"), ("x", "")]),
            head("http://example.com/abs?q=1", [("Host", "example.com")]),
            head("*", [("hOsT", "h")]),
            head("/healthz", [], method: .GET),
        ]
        for h in heads {
            let ours = try ServerCodec.request(h)
            let theirs = try HTTPRequest(h, secure: false, splitCookie: false)
            #expect(ours == theirs, "\(h.uri)")
            #expect(ours.headerFields.map(\.name.rawName) == theirs.headerFields.map(\.name.rawName), "\(h.uri)")
        }
        #expect(throws: (any Error).self) { try ServerCodec.request(head("/", [], method: .RAW(value: "BAD METHOD"))) }
        #expect(throws: (any Error).self) { try HTTPRequest(head("/", [], method: .RAW(value: "BAD METHOD")), secure: false, splitCookie: false) }
    }

    /// A client that goes away mid-request has its request's task cancelled (`cancellingOnDisconnect`); the
    /// requests after it are not, on whatever connection and loop they come: the loop's worker that ran it serves
    /// nothing more (`LoopExecutor`).
    @Test func requestsAfterAClientWentAwayAreServed() async throws {
        let arrived = Gate(), release = Gate()
        let calls = NIOLockedValueBox(0)
        try await FakeUpstream.run({ _ in
            if calls.withLockedValue({ $0 += 1; return $0 }) == 1 {
                arrived.open()
                await release.wait()
            }
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL, timeout: 30), mode: .live) { h in
                let port = h.client.port!
                try await within(10) {
                    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { ch in
                        ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
                    }
                    try await channel.executeThenClose { _, outbound in
                        try await outbound.write(ByteBuffer(string: Self.chat("leaving")))
                        await arrived.wait()   // the request is with the upstream; the client leaves
                    }
                }
                let records = try await within(10) {
                    var r: [RequestRecord] = []
                    while r.isEmpty { r = try await h.records(); await Task.yield() }
                    return r
                }
                #expect(records.map(\.status) == [499])
                release.open()
                for i in 0..<6 {
                    let (text, _) = try await rawExchange(port: port, [Self.chat("after \(i)", close: true)]) { _ in false }
                    #expect(text.hasPrefix("HTTP/1.1 200"), "request \(i): \(text.prefix(300))")
                }
            }
        }
    }

    /// The `date` header's format (RFC 9110 IMF-fixdate).
    @Test func dateHeaderFormat() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_804_680_000) == "Wed, 10 Mar 2027 12:00:00 GMT")
    }
}
