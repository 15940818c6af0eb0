import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import SwitchboardServer
import Testing

/// Slow clients (`waf.client_timeout_s`, `server.request_timeout_s`): the connection's own rules, on an embedded
/// channel whose clock the test moves.
extension WAFTests {
    /// A connection as the server builds it (bytes watch, HTTP decoder, dispatcher), with its refusals counted. Its
    /// requests are never answered (the rules at hand apply as parts arrive, answered or not).
    final class SlowClientRig {
        let channel = EmbeddedChannel()
        let refused = NIOLockedValueBox<[String]>([])

        init(requestTimeout: TimeAmount = .seconds(60), clientTimeout: TimeAmount?) throws {
            let ops = channel.pipeline.syncOperations
            if clientTimeout != nil { try ops.addHandler(RequestBytesWatch()) }
            try ops.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
            let refused = self.refused
            var quiet = Logger(label: "test")
            quiet.logLevel = .error
            try ops.addHandler(RequestDispatcher(requestTimeout: requestTimeout, clientTimeout: clientTimeout, logger: quiet,
                                                 refused: { reason in refused.withLockedValue { $0.append(reason) } },
                                                 respond: { _, _, _ in }))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        }

        func send(_ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }
        func wait(_ t: TimeAmount) { channel.embeddedEventLoop.advanceTime(by: t) }

        /// The answer the connection wrote itself (status and body), if any.
        func answer() throws -> (status: HTTPResponseStatus, body: String)? {
            var text = ""
            while case .byteBuffer(let bytes)? = try channel.readOutbound(as: IOData.self) { text += String(buffer: bytes) }
            guard !text.isEmpty else { return nil }
            let parts = text.components(separatedBy: "\r\n\r\n")
            let status = try #require(Int(parts[0].split(separator: " ")[1]))
            return (HTTPResponseStatus(statusCode: status), parts.dropFirst().joined(separator: "\r\n\r\n"))
        }
    }

    static let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"

    @Test func aHeadTrickledPastTheClientTimeoutGets408AndIsClosed() throws {
        let rig = try SlowClientRig(clientTimeout: .seconds(10))
        try rig.send("POST /v1/messages HTTP/1.1\r\n")
        for _ in 0..<9 {                                  // a header line a second: never idle, never done
            rig.wait(.seconds(1))
            try rig.send("X-Drip: 1\r\n")
        }
        #expect(try rig.answer() == nil && rig.channel.isActive)
        rig.wait(.seconds(1))
        let answer = try #require(try rig.answer())
        #expect(answer.status == .requestTimeout)
        // Its path is unknown until the head is whole: OpenAI's shape.
        #expect(answer.body.contains(#""code":"request_timeout""#) && answer.body.contains("The request did not arrive in time."))
        #expect(!rig.channel.isActive && rig.refused.withLockedValue { $0 } == ["request_timeout"])
    }

    @Test func theClientTimeoutCoversTheBodyTooAndSpeaksAnthropicOnMessages() throws {
        let rig = try SlowClientRig(clientTimeout: .seconds(5))
        try rig.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        rig.wait(.seconds(4))
        try rig.send(" ")
        #expect(try rig.answer() == nil)
        rig.wait(.seconds(1))
        let answer = try #require(try rig.answer())
        #expect(answer.status == .requestTimeout && answer.body.hasPrefix(#"{"type":"error","error":{"type":"invalid_request_error""#))
        #expect(answer.body.contains("The request body did not arrive in time."))
    }

    @Test func requestsInTimeAndIdleConnectionsAreLeftAlone() throws {
        let rig = try SlowClientRig(clientTimeout: .seconds(5))
        for _ in 0..<3 {                                  // keep-alive: each request gets its own 5 s
            try rig.send(Self.head)
            rig.wait(.seconds(3))
            try rig.send("\r\n{}")
            rig.wait(.seconds(3))
        }
        rig.wait(.seconds(60))                            // idle between requests: the idle timeout's business
        #expect(try rig.answer() == nil && rig.channel.isActive && rig.refused.withLockedValue { $0.isEmpty })
        // The next request's clock starts with its first byte, not with the end of the last one.
        try rig.send("GET /healthz HTTP/1.1\r\n")
        rig.wait(.seconds(5))
        #expect(try rig.answer()?.status == .requestTimeout)
    }

    @Test func withoutAClientTimeoutOnlyTheBodyIsTimed() throws {
        let rig = try SlowClientRig(requestTimeout: .seconds(2), clientTimeout: nil)
        try rig.send("POST /v1/chat/completions HTTP/1.1\r\n")
        rig.wait(.seconds(30))                            // today's behaviour: a slow head is left to the idle timeout
        #expect(try rig.answer() == nil && rig.channel.isActive)
        try rig.send("Content-Length: 5\r\n\r\n{")
        rig.wait(.seconds(2))
        let answer = try #require(try rig.answer())
        #expect(answer.status == .requestTimeout && answer.body.contains(#""code":"request_timeout""#))
        #expect(rig.refused.withLockedValue { $0 } == ["request_timeout"])
    }
}
