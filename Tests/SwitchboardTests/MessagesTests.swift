import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import SwitchboardProviders

/// OpenAI wire fixtures for the reverse direction.
enum OpenAIFixture {
    /// openai.stream.text-tool-usage.v1 — text, then two parallel tool calls, the finish chunk, the usage chunk.
    static let textToolStream = [
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Checking"},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80,"prompt_tokens_details":{"cached_tokens":20}}}"#,
    ].map { "data: \($0)\n\n" }.joined() + "data: [DONE]\n\n"
}

@Suite struct MessagesTranslationTests {
    @Test func anthropicRequestBecomesAChatCompletion() throws {
        let a = JSONValue.parse(Data(#"""
        {"model":"claude","max_tokens":100,"temperature":0.5,"stop_sequences":["END"],"stream":true,"metadata":{"user_id":"u1"},
         "system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
         "messages":[
          {"role":"user","content":[{"type":"text","text":"Look"},{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"AAAA"}}]},
          {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Calling"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"42"},{"type":"text","text":"And?"}]}],
         "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}
        """#.utf8))!
        let o = try MessagesToOpenAI.request(a)
        #expect(o["max_tokens"] == 100 && o["temperature"] == .double(0.5) && o["stop"] == ["END"] && o["stream"] == true && o["user"] == "u1")
        let m = try #require(o["messages"]?.array)
        #expect(m.map { $0["role"]?.string } == ["system", "user", "assistant", "tool", "user"])
        #expect(m[0]["content"] == "Be brief.")
        #expect(m[1]["content"] == [["type": "text", "text": "Look"], ["type": "image_url", "image_url": ["url": "data:image/jpeg;base64,AAAA"]]])
        #expect(m[2]["content"] == "Calling")    // thinking is not sent to another model
        #expect(m[2]["tool_calls"] == [["id": "toolu_1", "type": "function", "function": ["name": "f", "arguments": #"{"a":1}"#]]])
        #expect(m[3] == ["role": "tool", "tool_call_id": "toolu_1", "content": "42"])
        #expect(m[4]["content"] == "And?")
        #expect(o["tools"] == [["type": "function", "function": ["name": "f", "description": "d", "parameters": ["type": "object"]]]])
        #expect(o["tool_choice"] == "required" && o["parallel_tool_calls"] == false)
    }

    @Test func serverToolsAndUnknownBlocksAre400() {
        for json in [#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#,
                     #"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}"#] {
            #expect(throws: GatewayError.self) { try MessagesToOpenAI.request(JSONValue.parse(Data(json.utf8))!) }
        }
    }

    @Test func completionBecomesAMessage() {
        let o: JSONValue = ["id": "chatcmpl-1", "choices": [["index": 0, "finish_reason": "tool_calls", "message": [
            "role": "assistant", "content": "Sure", "tool_calls": [["id": "call_1", "type": "function", "function": ["name": "f", "arguments": #"{"x":2}"#]]]]]]]
        let a = MessagesToOpenAI.response(o, usage: Usage(promptTokens: 100, completionTokens: 9, cachedTokens: 60), model: "claude")
        #expect(a["type"] == "message" && a["model"] == "claude" && a["stop_reason"] == "tool_use" && a["id"] == "msg_chatcmpl-1")
        #expect(a["content"] == [["type": "text", "text": "Sure"], ["type": "tool_use", "id": "call_1", "name": "f", "input": ["x": 2]]])
        #expect(a["usage"] == ["input_tokens": 40, "output_tokens": 9, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0])
    }

    func run(_ text: String, cuts: [Int]) -> String { translate(OpenAIToMessagesStream(model: "claude"), text, cuts: cuts) }

    @Test func streamBecomesAnthropicEventsAtEveryByteBoundary() {
        let whole = run(OpenAIFixture.textToolStream, cuts: [])
        for cut in 0...OpenAIFixture.textToolStream.utf8.count {
            #expect(run(OpenAIFixture.textToolStream, cuts: [cut]) == whole, "split at \(cut)")
        }
        let events = whole.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        let names = events.map { $0.split(separator: "\n")[0].dropFirst("event: ".count) }
        #expect(names == ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                          "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                          "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
        let data = events.compactMap { e in e.split(separator: "\n").last.flatMap { JSONValue.parse(Data($0.dropFirst(6).utf8)) } }
        #expect(data[4]["content_block"] == ["type": "tool_use", "id": "call_a", "name": "get_weather", "input": [:]])
        #expect(data[5]["delta"]?["partial_json"] == #"{"city":"# && data[6]["delta"]?["partial_json"] == #""Paris"}"#)
        #expect(data[8]["index"] == 2 && data[8]["content_block"]?["id"] == "call_b")
        #expect(data[11]["delta"]?["stop_reason"] == "tool_use")
        // The gateway's Anthropic stream watcher reads the translated usage: 30 uncached + 20 cached in, 30 out.
        var relay = SSERelay(mode: .passthrough, format: .anthropic)
        _ = relay.feed(ByteBuffer(string: whole))
        #expect(relay.usage == Usage(promptTokens: 50, completionTokens: 30, cachedTokens: 20))
        #expect(relay.sawDone)
    }

    @Test func anthropicErrorTypes() {
        #expect(GatewayError.invalidKey.anthropicType == "authentication_error")
        #expect(GatewayError.unknownModel("x").anthropicType == "not_found_error")
        #expect(GatewayError.missingParameter("max_tokens").anthropicType == "invalid_request_error")
        #expect(ErrorBody.anthropicType("overloaded_error", status: 529) == "overloaded_error")
        #expect(GatewayError.upstreamTimeout(provider: "p", seconds: 1).anthropicType == "timeout_error")
        #expect(GatewayError.upstreamUnreachable(provider: "p").anthropicType == "api_error")
    }
}

/// `POST /v1/messages` through the app, to both kinds of backend.
@Suite struct MessagesAppTests {
    static let yaml = """
    auth: { keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: gpt-sim, kind: mock, seed: 5 }
      - { name: claude-sim, kind: mock, api: anthropic, seed: 6 }
    models:
      - { name: gpt, deployments: [ { provider: gpt-sim, model: gpt-sim-1, price: { input: 2, output: 8 } } ] }
      - { name: claude, deployments: [ { provider: claude-sim, model: claude-sim-1, price: { input: 3, output: 15 } } ] }
    """

    func post(_ h: GatewayHarness, _ body: String, key: String? = "sk-test") async throws -> TestResponse {
        var headers = HTTPFields()
        if let key { headers[HTTPField.Name("x-api-key")!] = key }
        headers[HTTPField.Name("anthropic-version")!] = "2023-06-01"
        return try await h.client.execute(uri: "/v1/messages", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test(arguments: ["gpt", "claude"])
    func plainMessage(_ model: String) async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await post(h, #"{"model":"\#(model)","max_tokens":4,"messages":[{"role":"user","content":"Hello"}]}"#)
            #expect(r.status == .ok)
            let m = try #require(JSONValue.parse(Data(buffer: r.body)))
            #expect(m["type"] == "message" && m["role"] == "assistant")
            #expect(m["content"]?.array?.first?["type"] == "text")
            #expect(m["stop_reason"] == "max_tokens")
            #expect(m["usage"]?["output_tokens"] == 4)
            #expect(r.header("x-switchboard-cost-usd") != nil)
            let record = try #require(try await h.records().first)
            #expect(record.endpoint == "messages" && record.usage.completionTokens == 4 && record.costUSD > 0)
        }
    }

    @Test(arguments: ["gpt", "claude"])
    func streamedToolUse(_ model: String) async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await post(h, #"{"model":"\#(model)","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Weather?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}"#)
            #expect(r.status == .ok)
            let events = r.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.first?.hasPrefix("event: message_start") == true)
            #expect(events.last?.hasPrefix("event: message_stop") == true)
            let data = events.compactMap { e in e.split(separator: "\n").last.flatMap { JSONValue.parse(Data($0.dropFirst(6).utf8)) } }
            #expect(data.contains { $0["content_block"]?["type"] == "tool_use" && $0["content_block"]?["name"] == "get_weather" })
            let args = data.compactMap { $0["delta"]?["partial_json"]?.string }.joined()
            #expect(JSONValue.parse(Data(args.utf8)) == ["city": "sample"])
            #expect(data.contains { $0["delta"]?["stop_reason"] == "tool_use" })
            let record = try #require(try await h.records().first)
            #expect(record.usage.completionTokens > 0 && record.usage.promptTokens > 0 && record.status == 200)
        }
    }

    @Test func errorsHaveAnthropicsShape() async throws {
        try await withGateway(Self.yaml) { h in
            for (body, key, status, type) in [
                (#"{"model":"gpt","messages":[{"role":"user","content":"x"}]}"#, "sk-test", 400, "invalid_request_error"),
                (#"{"model":"gpt","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#, "sk-nope", 401, "authentication_error"),
                (#"{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#, "sk-test", 404, "not_found_error"),
                ("{broken", "sk-test", 400, "invalid_request_error"),
            ] as [(String, String, Int, String)] {
                let r = try await post(h, body, key: key)
                #expect(r.status.code == status)
                let e = try #require(JSONValue.parse(Data(buffer: r.body)))
                #expect(e["type"] == "error" && e["error"]?["type"] == .string(type), "\(body)")
            }
        }
    }

    /// To an Anthropic deployment the client's bytes go untouched (thinking signatures included) but for `model`.
    @Test func anthropicDeploymentsGetTheOriginalBytes() async throws {
        try await FakeUpstream.run({ _ in jsonReply(AnthropicFixture.messageWithToolAndCache) }) { fake in
            let yaml = """
            auth: { keys: [ { name: tester, key: "sk-test" } ] }
            providers: [ { name: claude-up, kind: anthropic, base_url: "http://127.0.0.1:\(fake.port)", api_key: "sk-ant" } ]
            models: [ { name: claude, deployments: [ { provider: claude-up, model: claude-opus-4-1 } ] } ]
            """
            try await withGateway(yaml, mode: .live) { h in
                let body = #"{"model":"claude","max_tokens":64,"thinking":{"type":"enabled","budget_tokens":32},"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQBCgIYAh=="},{"type":"text","text":"ok"}]},{"role":"user","content":"more"}]}"#
                let r = try await post(h, body)
                #expect(r.status == .ok)
                #expect(r.text == AnthropicFixture.messageWithToolAndCache)
                #expect(fake.requests.first?.text == body.replacingOccurrences(of: #""model":"claude""#, with: #""model":"claude-opus-4-1""#))
                let record = try #require(try await h.records().first)
                #expect(record.usage == Usage(promptTokens: 10_120, completionTokens: 45, cachedTokens: 8000, cacheWriteTokens: 2000))
            }
        }
    }
}

/// A request and the estimate worked out by hand for it: text is a token per four Unicode scalars rounded up, a
/// message adds 3, an image or a document 1600, a tool its compact JSON (keys sorted); never below 1.
struct EstimateCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: JSONValue
    let tokens: Int
    var testDescription: String { name }

    static let all: [EstimateCase] = [
        // system "12345678" 8 scalars: 2; "abcd": 3 + 1; image and "abcdefgh": 3 + 1600 + 2. 2 + 4 + 1605 = 1611.
        EstimateCase(name: "text and an image", request: ["system": "12345678", "messages": [
            ["role": "user", "content": "abcd"],
            ["role": "user", "content": [["type": "image", "source": [:]], ["type": "text", "text": "abcdefgh"]]],
        ]], tokens: 1611),
        // Nothing at all still counts one token.
        EstimateCase(name: "empty request", request: [:], tokens: 1),
        // "abcde" is 5 scalars: rounded up to 2; + 3 for the message.
        EstimateCase(name: "rounds up", request: ["messages": [["role": "user", "content": "abcde"]]], tokens: 5),
        // An empty message costs its framing only.
        EstimateCase(name: "empty message", request: ["messages": [["role": "user", "content": ""]]], tokens: 3),
        // Four 👋 (U+1F44B) are 4 scalars (16 UTF-8 bytes, 8 UTF-16 units): 1; + 3.
        EstimateCase(name: "scalars, not bytes", request: ["messages": [["role": "user", "content": "👋👋👋👋"]]], tokens: 4),
        // A system prompt as blocks: "Be brief." 9 scalars: 3.
        EstimateCase(name: "system blocks", request: ["system": [["type": "text", "text": "Be brief."]]], tokens: 3),
        // tool_use: "get_weather" 11 → 3, its input {"city":"Paris"} 16 → 4; + 3 = 10.
        EstimateCase(name: "tool use", request: ["messages": [["role": "assistant", "content": [
            ["type": "tool_use", "id": "t1", "name": "get_weather", "input": ["city": "Paris"]],
        ]]]], tokens: 10),
        // tool_result with a string: "sunny, 21 degrees" 17 → 5, + 3 = 8; with blocks: "sunny" 2 + a document 1600, + 3 =
        // 1605. 8 + 1605 = 1613.
        EstimateCase(name: "tool results", request: ["messages": [
            ["role": "user", "content": [["type": "tool_result", "tool_use_id": "t1", "content": "sunny, 21 degrees"]]],
            ["role": "user", "content": [["type": "tool_result", "tool_use_id": "t2", "content": [
                ["type": "text", "text": "sunny"], ["type": "document", "source": [:]],
            ]]]],
        ]], tokens: 1613),
        // thinking: "let me see" 10 → 3 (the signature is not counted); + 3.
        EstimateCase(name: "thinking", request: ["messages": [["role": "assistant", "content": [
            ["type": "thinking", "thinking": "let me see", "signature": "abcdefghijklmnop"],
        ]]]], tokens: 6),
        // A tool: {"input_schema":{"type":"object"},"name":"f"} is 45 characters → 12; "hi" 1 + 3 = 4.
        EstimateCase(name: "tools", request: [
            "tools": [["name": "f", "input_schema": ["type": "object"]]],
            "messages": [["role": "user", "content": "hi"]],
        ], tokens: 16),
    ]
}

@Suite struct CountTokensTests {
    @Test(arguments: EstimateCase.all)
    func estimateCountsTextImagesAndTools(_ c: EstimateCase) {
        #expect(TokenEstimate.anthropicInput(c.request) == c.tokens)
    }

    @Test func estimatedForOpenAIBackendsExactForAnthropicOnes() async throws {
        try await FakeUpstream.run({ r in
            #expect(r.path == "/v1/messages/count_tokens")
            #expect(r.text.contains(#""model":"claude-opus-4-1""#))
            return jsonReply(#"{"input_tokens":1234}"#)
        }) { fake in
            let yaml = """
            auth: { keys: [ { name: tester, key: "sk-test" } ] }
            providers:
              - { name: claude-up, kind: anthropic, base_url: "http://127.0.0.1:\(fake.port)", api_key: "sk-ant" }
              - { name: gpt-sim, kind: mock }
            models:
              - { name: claude, deployments: [ { provider: claude-up, model: claude-opus-4-1 } ] }
              - { name: gpt, deployments: [ { provider: gpt-sim, model: g } ] }
            """
            try await withGateway(yaml, mode: .live) { h in
                func count(_ model: String, _ extra: String = "") async throws -> TestResponse {
                    var headers = HTTPFields()
                    headers[HTTPField.Name("x-api-key")!] = "sk-test"
                    return try await h.client.execute(uri: "/v1/messages/count_tokens", method: .post, headers: headers,
                        body: ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"Hello, world"}]\#(extra)}"#))
                }
                let exact = try await count("claude")
                #expect(exact.status == .ok && exact.text == #"{"input_tokens":1234}"#)
                #expect(exact.header("x-switchboard-token-count") == "exact" && exact.header("x-switchboard-provider") == "claude-up")
                let estimate = try await count("gpt")
                #expect(estimate.status == .ok && estimate.text == #"{"input_tokens":6}"#)
                #expect(estimate.header("x-switchboard-token-count") == "estimate")
                let unknown = try await count("nope")
                #expect(unknown.status == .notFound && JSONValue.parse(Data(buffer: unknown.body))?["error"]?["type"] == "not_found_error")
                #expect(try await h.records().isEmpty)     // counting is not a billed request
            }
        }
    }
}
