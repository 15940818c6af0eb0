import Foundation
import NIOCore
import SwitchboardCore
import Testing
@testable import SwitchboardProviders

@Suite struct MockProviderTests {
    func send(_ mock: MockTransport, _ path: String, _ body: String, method: String = "POST") async throws -> (Int, String) {
        let r = try await mock.execute(UpstreamRequest(method: method, url: "http://mock/v1" + path, body: ByteBuffer(string: body), timeout: .seconds(5)))
        return (r.status, String(buffer: try await r.body.collect(upTo: 1 << 20)))
    }

    @Test func sameSeedSameAnswer() async throws {
        var c = MockProviderConfig()
        c.seed = 42
        let body = #"{"model":"m","messages":[{"role":"user","content":"hello there"}]}"#
        let (_, a) = try await send(MockTransport(config: c), "/chat/completions", body)
        let (_, b) = try await send(MockTransport(config: c), "/chat/completions", body)
        func content(_ s: String) throws -> String {
            let o = try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
            return ((o["choices"] as! [[String: Any]])[0]["message"] as! [String: Any])["content"] as! String
        }
        #expect(try content(a) == content(b))
        #expect(try !content(a).isEmpty)
    }

    @Test func maxTokensLimitsAndReportsLength() async throws {
        let (_, text) = try await send(MockTransport(config: MockProviderConfig()), "/chat/completions",
                                       #"{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"x"}]}"#)
        #expect(text.contains(#""completion_tokens":3"#))
        #expect(text.contains(#""finish_reason":"length""#))
    }

    @Test func offersToolCalls() async throws {
        let body = #"{"model":"m","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}}}}}]}"#
        let (_, text) = try await send(MockTransport(config: MockProviderConfig()), "/chat/completions", body)
        #expect(text.contains(#""finish_reason":"tool_calls""#))
        #expect(text.contains(#""name":"get_weather""#))
        #expect(text.contains(#"{\"city\":\"sample\",\"days\":1}"#))
    }

    @Test func streamsWithUsageOnlyWhenAsked() async throws {
        let mock = MockTransport(config: MockProviderConfig())
        let (_, plain) = try await send(mock, "/chat/completions", #"{"model":"m","stream":true,"max_tokens":2,"messages":[{"role":"user","content":"x"}]}"#)
        #expect(plain.hasSuffix("data: [DONE]\n\n"))
        #expect(!plain.contains(#""choices":[]"#))
        let (_, usage) = try await send(mock, "/chat/completions", #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":2,"messages":[{"role":"user","content":"x"}]}"#)
        #expect(usage.contains(#""choices":[],"usage":{"prompt_tokens""#))
    }

    @Test func embeddingsBase64MatchesFloats() async throws {
        let mock = MockTransport(config: MockProviderConfig())
        let (_, floats) = try await send(mock, "/embeddings", #"{"model":"m","input":["a","b"],"dimensions":4,"encoding_format":"float"}"#)
        let (_, b64) = try await send(mock, "/embeddings", #"{"model":"m","input":["a","b"],"dimensions":4,"encoding_format":"base64"}"#)
        let f = try JSONSerialization.jsonObject(with: Data(floats.utf8)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(b64.utf8)) as! [String: Any]
        let fv = ((f["data"] as! [[String: Any]])[1]["embedding"] as! [Double]).map(Float.init)
        let raw = Data(base64Encoded: (b["data"] as! [[String: Any]])[1]["embedding"] as! String)!
        let bv = raw.withUnsafeBytes { p in (0..<4).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        #expect(fv.count == 4)
        for (x, y) in zip(fv, bv) { #expect(abs(x - y) < 1e-6) }
    }

    @Test func errorRateIsSeededAndRoughlyHonoured() async throws {
        var c = MockProviderConfig()
        c.errorRate = 0.3
        c.seed = 7
        func statuses() async throws -> [Int] {
            let mock = MockTransport(config: c)
            var out: [Int] = []
            for _ in 0..<200 { out.append(try await send(mock, "/models", "", method: "GET").0) }
            return out
        }
        let a = try await statuses(), b = try await statuses()
        #expect(a == b)
        let failures = a.filter { $0 == 500 }.count
        #expect((40...80).contains(failures))
    }

    @Test func unknownPathsAreOpenAIErrors() async throws {
        let (status, text) = try await send(MockTransport(config: MockProviderConfig()), "/nothing", "{}")
        #expect(status == 404)
        #expect(text.contains(#""code":"unknown_url""#))
    }
}
