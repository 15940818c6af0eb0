import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
@testable import SwitchboardServer
import Testing

/// The connection's request/answer sequence in `RequestDispatcher` (pipelining, half-close, graceful shutdown), on an
/// embedded channel: requests are noted as they are dispatched, and the test writes their answers itself.
@Suite struct RequestDispatcherTests {
    final class Rig {
        let channel = EmbeddedChannel()
        let dispatcher: RequestDispatcher
        let dispatched = NIOLockedValueBox<[String]>([])

        let reads = ReadAheadTests.Reads()   // the reads that reach the socket's end of the pipeline

        init() throws {
            let dispatched = self.dispatched
            dispatcher = RequestDispatcher(requestTimeout: .seconds(60), respond: { request, _, _ in
                dispatched.withLockedValue { $0.append(request.uri.path) }
            })
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(reads)
            try ops.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
            try ops.addHandler(dispatcher)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
            channel.embeddedEventLoop.run()   // the dispatched requests' tasks
        }

        var paths: [String] { dispatched.withLockedValue { $0 } }

        /// Answers the request being answered with `text` (sized).
        func answer(_ text: String) {
            let head = HTTPResponse(status: .ok, headerFields: [.contentLength: String(text.utf8.count)])
            dispatcher.emit([.head(head), .body(ByteBuffer(string: text)), .end(nil)], promise: nil)
            channel.embeddedEventLoop.run()
        }

        /// Every byte written to the client so far.
        func written() throws -> String {
            var text = ""
            while case .byteBuffer(let bytes)? = try channel.readOutbound(as: IOData.self) { text += String(buffer: bytes) }
            return text
        }
    }

    static func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nhost: x\r\n\(extra)\r\n" }

    @Test func pipelinedRequestsWaitForTheAnswerBeforeThem() throws {
        let rig = try Rig()
        try rig.send(Self.get("/a") + Self.get("/b") + Self.get("/c"))
        #expect(rig.paths == ["/a"])
        rig.answer("A")
        #expect(rig.paths == ["/a", "/b"])
        rig.answer("B")
        rig.answer("C")
        #expect(rig.paths == ["/a", "/b", "/c"])
        let text = try rig.written()
        #expect(answerCount(text) == 3 && text.hasSuffix("C") && text.contains("\r\n\r\nA") && rig.channel.isActive)
    }

    /// A read asked for while an answer is pending waits for it; when the request that waited behind it turns out to
    /// have a body past the stream's high-water mark, reading stays held back for that body.
    @Test func readsWaitForTheAnswerAndThenForTheNextRequestsBody() throws {
        let rig = try Rig()
        try rig.send(Self.get("/a"))
        let big = RequestBodyStream.highWater + 1000
        try rig.send("POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: \(big + 10)\r\n\r\n" + String(repeating: "x", count: big))
        rig.channel.read()
        #expect(rig.reads.count == 0 && rig.paths == ["/a"])
        rig.answer("A")
        // Dispatched (a body this large runs on Swift's pool: it is not waited for here), its body streaming.
        guard case .streaming = rig.dispatcher.receiving else { Issue.record("not streaming"); return }
        #expect(rig.reads.count == 0)                  // held: the body waits for its handler, which reads none
        try rig.send("0123456789")
        rig.answer("B")                                // answered without reading it: the rest is dropped, reading goes on
        #expect(rig.reads.count == 1 && rig.channel.isActive)
    }

    @Test func aHalfCloseAfterPipelinedRequestsClosesOnceTheyAreAnswered() throws {
        let rig = try Rig()
        try rig.send(Self.get("/a") + Self.get("/b"))
        rig.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(rig.paths == ["/a"] && rig.channel.isActive)
        rig.answer("A")
        #expect(rig.paths == ["/a", "/b"] && rig.channel.isActive)
        rig.answer("B")
        #expect(!rig.channel.isActive)
        #expect(answerCount(try rig.written()) == 2)
    }

    @Test func aShutdownClosesAnIdleConnectionAtOnce() throws {
        let rig = try Rig()
        try rig.send(Self.get("/a"))
        rig.answer("A")
        rig.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        rig.channel.embeddedEventLoop.run()
        #expect(!rig.channel.isActive)
    }

    @Test func aShutdownEndsABusyConnectionAfterItsAnswerAndDropsWhatWaited() throws {
        let rig = try Rig()
        try rig.send(Self.get("/a") + Self.get("/b"))
        rig.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(rig.channel.isActive)
        rig.answer("A")
        #expect(!rig.channel.isActive && rig.paths == ["/a"])
        let text = try rig.written()
        #expect(answerCount(text) == 1 && text.lowercased().contains("\r\nconnection: close\r\n"))
    }

    @Test func aShutdownWhileARequestArrivesWaitsForItAndItsAnswer() throws {
        let rig = try Rig()
        try rig.send("POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab")   // dispatched with its body to come
        #expect(rig.paths == ["/a"])
        rig.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try rig.send("cd")
        #expect(rig.channel.isActive)
        try rig.send(Self.get("/b"))                                                   // after the last request: dropped
        rig.answer("A")
        #expect(!rig.channel.isActive && rig.paths == ["/a"])
    }

    @Test func anHTTP10RequestIsAnsweredInHTTP10AndClosed() throws {
        let rig = try Rig()
        try rig.send("GET /a HTTP/1.0\r\n\r\n")
        rig.answer("A")
        let text = try rig.written()
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n") && text.lowercased().contains("\r\nconnection: close\r\n") && text.hasSuffix("A"))
        #expect(!rig.channel.isActive)
    }
}
