import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Testing

let anthropicMockYAML = """
auth: { keys: [ { name: tester, key: "sk-test" } ] }
providers:
  - { name: claude-sim, kind: mock, api: anthropic, seed: 3 }
models:
  - name: claude
    deployments:
      - { provider: claude-sim, model: claude-sim-1, price: { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 } }
"""

/// The OpenAI surface in front of an Anthropic-speaking upstream (the simulator in process).
@Suite struct AnthropicProviderAppTests {
    @Test func plainChatIsTranslatedAndPriced() async throws {
        try await withGateway(anthropicMockYAML) { h in
            let r = try await h.post("/v1/chat/completions", #"{"model":"claude","max_tokens":5,"messages":[{"role":"system","content":[{"type":"text","text":"Long shared context","cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"Hello"}]}"#)
            #expect(r.status == .ok)
            let o = try r.json()
            #expect(o["object"] as? String == "chat.completion")
            let choice = (o["choices"] as! [[String: Any]])[0]
            #expect(((choice["message"] as! [String: Any])["content"] as! String).isEmpty == false)
            #expect(choice["finish_reason"] as? String == "length")
            let usage = o["usage"] as! [String: Any]
            let prompt = usage["prompt_tokens"] as! Int
            let cached = (usage["prompt_tokens_details"] as! [String: Any])["cached_tokens"] as! Int
            #expect(cached == prompt / 2 && cached > 0)      // the simulator reads half a cache-marked prompt from cache
            let expected = (Double(prompt - cached) * 3 + Double(cached) * 0.3 + 5 * 15) / 1e6
            #expect(abs(Double(r.header("x-switchboard-cost-usd")!)! - expected) < 1e-12)
            let record = try #require(try await h.records().first)
            #expect(record.usage.cachedTokens == cached && record.usage.completionTokens == 5)
        }
    }

    @Test func streamedToolCallsAreTranslated() async throws {
        try await withGateway(anthropicMockYAML) { h in
            let body = #"{"model":"claude","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#
            let r = try await h.post("/v1/chat/completions", body)
            #expect(r.status == .ok)
            let events = r.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }
                .compactMap { JSONValue.parse(Data($0.dropFirst(6).utf8)) }
            let calls = events.compactMap { $0["choices"]?.array?.first?["delta"]?["tool_calls"]?.array?.first }
            #expect(calls.first?["function"]?["name"] == "get_weather")
            #expect(JSONValue.parse(Data(calls.compactMap { $0["function"]?["arguments"]?.string }.joined().utf8)) == ["city": "sample"])
            #expect(events.contains { $0["choices"]?.array?.first?["finish_reason"] == "tool_calls" })
            #expect(events.last?["usage"]?["completion_tokens"]?.int ?? 0 > 0)
            #expect(r.text.hasSuffix("data: [DONE]\n\n"))
        }
    }

    @Test func embeddingsAreRefusedClearly() async throws {
        try await withGateway(anthropicMockYAML) { h in
            let r = try await h.post("/v1/embeddings", #"{"model":"claude","input":"x"}"#)
            #expect(r.status == .badRequest)
            #expect(r.errorObject?["code"] as? String == "unsupported_endpoint")
        }
    }
}

/// A scripted upstream that speaks Anthropic's API.
@Suite struct AnthropicProviderLiveTests {
    func yaml(_ base: String) -> String {
        """
        auth: { keys: [ { name: tester, key: "sk-test" } ] }
        providers:
          - { name: claude-a, kind: anthropic, base_url: "\(base)", api_key: "sk-ant-a", version: "2023-06-01" }
          - { name: claude-b, kind: anthropic, base_url: "\(base)", api_key: "sk-ant-b" }
        models:
          - name: claude
            deployments: [ { provider: claude-a, model: claude-haiku-4-5 }, { provider: claude-b, model: claude-haiku-4-5 } ]
          - name: claude-one
            deployments: [ { provider: claude-a, model: claude-haiku-4-5 } ]
        """
    }

    @Test func sendsTheRightHeadersAndBody() async throws {
        try await FakeUpstream.run({ _ in jsonReply(AnthropicFixture.messageWithToolAndCache) }) { fake in
            try await withGateway(yaml("http://127.0.0.1:\(fake.port)"), mode: .live) { h in
                var headers = HTTPFields()
                headers[HTTPField.Name("anthropic-beta")!] = "prompt-caching-2024-07-31"
                let r = try await h.post("/v1/chat/completions", #"{"model":"claude-one","messages":[{"role":"user","content":"Weather?"}]}"#, headers: headers)
                #expect(r.status == .ok)
                #expect((try r.json()["choices"] as! [[String: Any]])[0]["finish_reason"] as? String == "tool_calls")
                let got = try #require(fake.requests.first)
                #expect(got.path == "/v1/messages")
                #expect(got.headers[HTTPField.Name("x-api-key")!] == "sk-ant-a")
                #expect(got.headers[HTTPField.Name("anthropic-version")!] == "2023-06-01")
                #expect(got.headers[HTTPField.Name("anthropic-beta")!] == "prompt-caching-2024-07-31")
                #expect(got.headers[.authorization] == nil)
                let sent = try #require(JSONValue.parse(Data(got.text.utf8)))
                #expect(sent == ["model": "claude-haiku-4-5", "max_tokens": 4096, "messages": [["role": "user", "content": [["type": "text", "text": "Weather?"]]]]])
                let record = try #require(try await h.records().first)
                #expect(record.usage == Usage(promptTokens: 10_120, completionTokens: 45, cachedTokens: 8000, cacheWriteTokens: 2000))
            }
        }
    }

    @Test func overloadedIsRetriedElsewhereAndClientErrorsPassThrough() async throws {
        try await FakeUpstream.run({ r in
            if r.headers[HTTPField.Name("x-api-key")!] == "sk-ant-a" {
                return jsonReply(AnthropicFixture.overloadedError, status: .init(code: 529))
            }
            if r.text.contains("too long") {
                return jsonReply(#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#, status: .badRequest)
            }
            return jsonReply(AnthropicFixture.messageWithToolAndCache)
        }) { fake in
            try await withGateway(yaml("http://127.0.0.1:\(fake.port)"), mode: .live) { h in
                let ok = try await h.post("/v1/chat/completions", #"{"model":"claude","messages":[{"role":"user","content":"x"}]}"#)
                #expect(ok.status == .ok)
                let failed = try await h.post("/v1/chat/completions", #"{"model":"claude-one","messages":[{"role":"user","content":"x"}]}"#)
                #expect(failed.status == .badGateway)
                #expect((failed.errorObject?["message"] as? String)?.contains("Overloaded") == true)
                let tooLong = try await h.post("/v1/chat/completions", #"{"model":"claude","messages":[{"role":"user","content":"too long"}]}"#)
                #expect(tooLong.status == .badRequest)
                #expect(tooLong.errorObject?["message"] as? String == "prompt is too long: 210000 tokens > 200000 maximum")
                #expect(tooLong.errorObject?["type"] as? String == "invalid_request_error")
            }
        }
    }

    @Test func streamIsTranslatedIncrementallyAndUsageStripped() async throws {
        try await FakeUpstream.run({ _ in
            sseReply { send in
                for event in AnthropicFixture.textStream.components(separatedBy: "\n\n") where !event.isEmpty { try await send(event + "\n\n") }
            }
        }) { fake in
            try await withGateway(yaml("http://127.0.0.1:\(fake.port)"), mode: .live) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"claude-one","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .ok)
                #expect(r.text.hasSuffix("data: [DONE]\n\n"))
                #expect(!r.text.contains(#""choices":[]"#))     // the client did not ask for the usage chunk
                #expect(JSONValue.parse(Data(try #require(fake.requests.first).text.utf8))?["stream"] == true)
                let record = try #require(try await h.records().first)
                #expect(record.usage == Usage(promptTokens: 125, completionTokens: 15, cachedTokens: 100))
            }
        }
    }
}

/// `kind: azure`: OpenAI's wire format at Azure's per-deployment URLs with an `api-key` header.
@Suite struct AzureProviderTests {
    @Test func deploymentInTheURLAndTheKeyAsApiKey() async throws {
        try await FakeUpstream.run({ r in
            r.path.hasSuffix("/embeddings") ? jsonReply(#"{"object":"list","data":[],"model":"x","usage":{"prompt_tokens":2,"total_tokens":2}}"#)
                : jsonReply(Wire.chatCompletion(prompt: 10, completion: 2))
        }) { fake in
            let yaml = """
            auth: { keys: [ { name: tester, key: "sk-test" } ] }
            providers:
              - { name: az, kind: azure, base_url: "http://127.0.0.1:\(fake.port)/", api_key: "az-key", api_version: "2024-06-01" }
            models:
              - { name: gpt, deployments: [ { provider: az, model: "my gpt4o", price: { input: 1, output: 1 } } ] }
            """
            try await withGateway(yaml, mode: .live) { h in
                let chat = try await h.post("/v1/chat/completions", #"{"model":"gpt","messages":[{"role":"user","content":"x"}]}"#)
                #expect(chat.status == .ok && chat.header("x-switchboard-cost-usd") == "0.000012")
                let embed = try await h.post("/v1/embeddings", #"{"model":"gpt","input":"x"}"#)
                #expect(embed.status == .ok)
                let reqs = fake.requests
                #expect(reqs.map(\.path) == ["/openai/deployments/my%20gpt4o/chat/completions", "/openai/deployments/my%20gpt4o/embeddings"])
                #expect(reqs.allSatisfy { $0.query == "api-version=2024-06-01" })
                #expect(reqs.allSatisfy { $0.headers[HTTPField.Name("api-key")!] == "az-key" && $0.headers[.authorization] == nil })
            }
        }
    }

    @Test func baseURLIsRequired() {
        do {
            _ = try ConfigLoader.load(yaml: "providers: [{name: az, kind: azure}]\nmodels: [{name: m, deployments: [{provider: az, model: d}]}]", environment: [:])
            Issue.record("accepted an azure provider without base_url")
        } catch {
            #expect(error.problems.map(\.description) == ["providers[0].base_url: required for kind azure, e.g. https://my-resource.openai.azure.com"])
        }
    }
}
