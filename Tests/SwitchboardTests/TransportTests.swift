import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardTesting
import Testing
@testable import SwitchboardProviders

@Suite struct TransportTests {
    @Test func plainTargets() {
        let t = PlainHTTPTarget("http://127.0.0.1:8000/v1/chat/completions?x=1")
        #expect(t?.host == "127.0.0.1" && t?.port == 8000 && t?.pathAndQuery == "/v1/chat/completions?x=1" && t?.hostHeader == "127.0.0.1:8000")
        #expect(PlainHTTPTarget("http://vllm.internal/v1")?.port == 80)
        #expect(PlainHTTPTarget("http://[::1]:9000/v1")?.host == "::1")
        #expect(PlainHTTPTarget("http://h:0/") == nil)
        #expect(PlainHTTPTarget("https://api.openai.com/v1") == nil)
        #expect(PlainHTTPTarget("http:///x") == nil)
    }

    /// Upstreams that close after each response, or answer with no length at all, work on the pooled client.
    @Test func nonKeepAliveUpstreams() async throws {
        try await FakeUpstream.run({ _ in
            var headers = HTTPFields()
            headers[.connection] = "close"
            return jsonReply(Wire.chatCompletion(), headers: headers)
        }) { fake in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(1), idleTimeout: .seconds(2))
            for _ in 0..<5 {
                let r = try await transport.execute(UpstreamRequest(url: fake.baseURL + "/chat/completions", body: ByteBuffer(string: "{}"), timeout: .seconds(2)))
                #expect(r.status == 200)
                #expect(String(buffer: try await r.body.collect(upTo: 1 << 20)) == Wire.chatCompletion())
            }
            #expect(fake.requests.count == 5)
            await transport.shutdown()
        }
    }

    /// A consumer that reads slowly holds the upstream back instead of the transport buffering the whole stream.
    @Test func streamedBodiesAreBackPressured() async throws {
        let chunk = String(repeating: "x", count: 64 * 1024)
        try await FakeUpstream.run({ _ in
            sseReply { send in for _ in 0..<64 { try await send("data: \(chunk)\n\n") } }
        }) { fake in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(1), idleTimeout: .seconds(5))
            let r = try await transport.execute(UpstreamRequest(url: fake.baseURL + "/chat/completions", body: ByteBuffer(string: "{}"),
                                                                timeout: .seconds(2), streamResponse: true))
            var total = 0
            for try await part in r.body { total += part.readableBytes }
            #expect(total == 64 * (chunk.utf8.count + 8))
            await transport.shutdown()
        }
    }
}
