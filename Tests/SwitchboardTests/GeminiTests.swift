import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import SwitchboardProviders

/// Gemini API wire fixtures (v1beta REST), written from the published reference. Each has a stable id.
enum GeminiFixture {
    /// gemini.generate.tool-thoughts-cache.v1 — a function call with thinking and cached-content usage.
    static let functionCall = #"""
    {"candidates":[{"content":{"parts":[{"text":"Need the weather.","thought":true},{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}],"role":"model"},"finishReason":"STOP","index":0}],
     "usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":20,"totalTokenCount":1250,"cachedContentTokenCount":1000,"thoughtsTokenCount":30},
     "modelVersion":"gemini-2.5-flash","responseId":"abc123"}
    """#

    /// gemini.stream.text.v1 — `streamGenerateContent?alt=sse`: partial responses, usage and finishReason in the last.
    static let textStream =
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\r\n\r\n"
        + "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" world\"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\r\n\r\n"
        + "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 3,\"totalTokenCount\": 11,\"cachedContentTokenCount\": 4},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\r\n\r\n"

    /// gemini.error.invalid-argument.v1
    static let invalidArgument = #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#
}

@Suite struct GeminiTranslationTests {
    @Test func requestWithToolsImagesAndToolResults() throws {
        let o = JSONValue.parse(Data(#"""
        {"model":"m","max_tokens":200,"temperature":0.3,"stop":["X"],"response_format":{"type":"json_object"},
         "messages":[{"role":"system","content":"Be brief."},
          {"role":"user","content":[{"type":"text","text":"What is here?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,QUJD"}}]},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
          {"role":"tool","tool_call_id":"call_9","content":"{\"temp\":18}"}],
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
         "tool_choice":{"type":"function","function":{"name":"get_weather"}}}
        """#.utf8))!
        let g = try GeminiTranslation.request(o)
        #expect(g["systemInstruction"] == ["parts": [["text": "Be brief."]]])
        #expect(g["contents"] == [
            ["role": "user", "parts": [["text": "What is here?"], ["inlineData": ["mimeType": "image/png", "data": "QUJD"]]]],
            ["role": "model", "parts": [["functionCall": ["name": "get_weather", "args": ["city": "Paris"]]]]],
            ["role": "user", "parts": [["functionResponse": ["name": "get_weather", "response": ["temp": 18]]]]],
        ])
        #expect(g["generationConfig"] == ["maxOutputTokens": 200, "temperature": .double(0.3), "stopSequences": ["X"], "responseMimeType": "application/json"])
        #expect(g["tools"] == [["functionDeclarations": [["name": "get_weather", "description": "Weather",
                                                          "parametersJsonSchema": ["type": "object", "properties": ["city": ["type": "string"]]]]]]])
        #expect(g["toolConfig"] == ["functionCallingConfig": ["mode": "ANY", "allowedFunctionNames": ["get_weather"]]])
    }

    @Test func toolResultWithoutItsCallIs400() {
        let o = JSONValue.parse(Data(#"{"model":"m","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}"#.utf8))!
        #expect(performing: { try GeminiTranslation.request(o) }, throws: { ($0 as? GatewayError)?.param == "messages[0].tool_call_id" })
    }

    @Test func responseWithThoughtsToolCallAndCache() throws {
        let o = GeminiTranslation.response(JSONValue.parse(Data(GeminiFixture.functionCall.utf8))!, model: "m", created: 1)
        let choice = try #require(o["choices"]?.array?.first)
        #expect(choice["finish_reason"] == "tool_calls")
        #expect(choice["message"]?["reasoning_content"] == "Need the weather.")
        #expect(choice["message"]?["tool_calls"] == [["id": "call_abc123_0_0", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city":"Paris"}"#]]])
        // The gateway's own reader: thoughts are output and reasoning; cached content is part of the prompt.
        #expect(Usage.inOpenAIResponse(ByteBuffer(string: o.jsonText)) == Usage(promptTokens: 1200, completionTokens: 50, cachedTokens: 1000, reasoningTokens: 30))
    }

    @Test func streamAtEveryByteBoundary() {
        func run(_ cuts: [Int]) -> String { translate(GeminiStreamTranslator(model: "m", created: 1), GeminiFixture.textStream, cuts: cuts) }
        let whole = run([])
        for cut in 0...GeminiFixture.textStream.utf8.count { #expect(run([cut]) == whole, "split at \(cut)") }
        var relay = SSERelay(mode: .stripUsageChunk)
        var text = ""
        if let out = relay.feed(ByteBuffer(string: whole)) { text = String(buffer: out) }
        #expect(relay.sawDone)
        #expect(relay.usage == Usage(promptTokens: 8, completionTokens: 3, cachedTokens: 4))
        let contents = text.components(separatedBy: "\n\n").compactMap { e -> String? in
            guard e.hasPrefix("data: {") else { return nil }
            return JSONValue.parse(Data(e.dropFirst(6).utf8))?["choices"]?.array?.first?["delta"]?["content"]?.string
        }
        #expect(contents.joined() == "Hello world!")
        #expect(text.contains(#""finish_reason":"stop""#))
    }

    @Test func streamWithoutFinishHasNoDone() {
        var t = GeminiStreamTranslator(model: "m", created: 1)
        let first = GeminiFixture.textStream.components(separatedBy: "\r\n\r\n")[0] + "\r\n\r\n"
        let out = (t.feed(ByteBuffer(string: first)).map { String(buffer: $0) } ?? "") + (t.finish().map { String(buffer: $0) } ?? "")
        #expect(!out.contains("[DONE]"))
    }

    @Test func errorsKeepStatusAndMessage() throws {
        let words = NamedErrorFormat.gemini.words(in: try #require(JSONValue.parse(Data(GeminiFixture.invalidArgument.utf8))))
        #expect(words == UpstreamErrorWords(type: "INVALID_ARGUMENT", code: "INVALID_ARGUMENT", message: "API key not valid. Please pass a valid API key."))
    }
}

@Suite struct GeminiProviderTests {
    static let yaml = """
    auth: { keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: gem-sim, kind: mock, api: gemini, seed: 4 }
    models:
      - { name: gemini, deployments: [ { provider: gem-sim, model: gemini-sim, price: { input: 0.3, output: 2.5 } } ] }
    """

    @Test func chatStreamToolsAndEmbeddingsThroughTheSimulator() async throws {
        try await withGateway(Self.yaml) { h in
            let plain = try await h.post("/v1/chat/completions", #"{"model":"gemini","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(plain.status == .ok)
            let o = try #require(JSONValue.parse(Data(buffer: plain.body)))
            #expect(o["choices"]?.array?.first?["finish_reason"] == "length" && o["usage"]?["completion_tokens"] == 3)
            let stream = try await h.post("/v1/chat/completions", #"{"model":"gemini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(stream.text.hasSuffix("data: [DONE]\n\n") && !stream.text.contains(#""choices":[]"#))
            let tools = try await h.post("/v1/chat/completions", #"{"model":"gemini","stream":true,"messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#)
            #expect(tools.text.contains(#""name":"get_weather""#) && tools.text.contains(#""finish_reason":"tool_calls""#))
            let embed = try await h.post("/v1/embeddings", #"{"model":"gemini","input":["a","b"],"dimensions":4,"encoding_format":"float"}"#)
            let data = try #require(JSONValue.parse(Data(buffer: embed.body))?["data"]?.array)
            #expect(data.count == 2 && data[0]["embedding"]?.array?.count == 4)
            let records = try await h.records()
            #expect(records.count == 4 && records.allSatisfy { $0.status == 200 && $0.usage.promptTokens > 0 })
        }
    }

    @Test func anthropicClientsReachGeminiToo() async throws {
        try await withGateway(Self.yaml) { h in
            var headers = HTTPFields()
            headers[HTTPField.Name("x-api-key")!] = "sk-test"
            let r = try await h.client.execute(uri: "/v1/messages", method: .post, headers: headers,
                                               body: ByteBuffer(string: #"{"model":"gemini","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}"#))
            #expect(r.status == .ok)
            let m = try #require(JSONValue.parse(Data(buffer: r.body)))
            #expect(m["type"] == "message" && m["stop_reason"] == "max_tokens" && m["usage"]?["output_tokens"] == 4)
        }
    }

    @Test func urlsKeyAndErrorsAgainstAScriptedUpstream() async throws {
        try await FakeUpstream.run({ r in
            if r.headers[HTTPField.Name("x-goog-api-key")!] != "g-key" { return jsonReply(GeminiFixture.invalidArgument, status: .badRequest) }
            if r.path.hasSuffix(":streamGenerateContent") { return sseReply { send in try await send(GeminiFixture.textStream) } }
            return jsonReply(GeminiFixture.functionCall)
        }) { fake in
            let yaml = """
            auth: { keys: [ { name: tester, key: "sk-test" } ] }
            providers:
              - { name: gem, kind: gemini, base_url: "http://127.0.0.1:\(fake.port)", api_key: "g-key" }
              - { name: gem-bad, kind: gemini, base_url: "http://127.0.0.1:\(fake.port)", api_key: "wrong" }
            models:
              - { name: g, deployments: [ { provider: gem, model: gemini-2.5-flash, price: { input: 1, output: 1, cached_input: 0.25 } } ] }
              - { name: bad, deployments: [ { provider: gem-bad, model: gemini-2.5-flash } ] }
            """
            try await withGateway(yaml, mode: .live) { h in
                let plain = try await h.post("/v1/chat/completions", #"{"model":"g","messages":[{"role":"user","content":"x"}]}"#)
                #expect(plain.status == .ok)
                // 200 uncached + 1000 × 0.25 + 50 out = 500 per 1M
                #expect(plain.header("x-switchboard-cost-usd") == "0.0005")
                let stream = try await h.post("/v1/chat/completions", #"{"model":"g","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                #expect(stream.text.hasSuffix("data: [DONE]\n\n"))
                let bad = try await h.post("/v1/chat/completions", #"{"model":"bad","messages":[{"role":"user","content":"x"}]}"#)
                #expect(bad.status == .badRequest && bad.errorObject?["message"] as? String == "API key not valid. Please pass a valid API key.")
                let paths = fake.requests.map { "\($0.path)?\($0.query)" }
                #expect(paths.prefix(2) == ["/v1beta/models/gemini-2.5-flash:generateContent?", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"])
            }
        }
    }
}
