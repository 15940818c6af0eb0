import Foundation
import NIOCore
import SwitchboardCore
import Testing
@testable import SwitchboardProviders

@Suite struct AnthropicRequestTranslationTests {
    func translate(_ json: String, model: String = "claude-x") throws(GatewayError) -> JSONValue {
        try AnthropicTranslation.request(JSONValue.parse(Data(json.utf8))!, model: model)
    }

    @Test func fullConversation() throws {
        let openAI = #"""
        {"model":"chat","max_completion_tokens":300,"temperature":1.4,"top_p":0.9,"stop":"END","user":"u-7","stream":true,
         "messages":[
          {"role":"system","content":"You are terse."},
          {"role":"developer","content":[{"type":"text","text":"Use metric units.","cache_control":{"type":"ephemeral"}}]},
          {"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"},
                                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
                                    {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
          {"role":"assistant","content":null,"tool_calls":[
             {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
             {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
          {"role":"tool","tool_call_id":"call_1","content":"18C"},
          {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"24C"}]},
          {"role":"user","content":"Thanks"}],
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
         "tool_choice":"required","parallel_tool_calls":false}
        """#
        let a = try translate(openAI)
        #expect(a["model"] == "claude-x")
        #expect(a["max_tokens"] == 300)
        #expect(a["temperature"] == .double(1))     // clamped to Anthropic's 0…1
        #expect(a["top_p"] == .double(0.9))
        #expect(a["stop_sequences"] == ["END"])
        #expect(a["metadata"] == ["user_id": "u-7"])
        #expect(a["stream"] == true)
        // A cache-marked system part keeps the block form.
        #expect(a["system"] == [["type": "text", "text": "You are terse."],
                                ["type": "text", "text": "Use metric units.", "cache_control": ["type": "ephemeral"]]])
        let messages = try #require(a["messages"]?.array)
        #expect(messages.map { $0["role"]?.string } == ["user", "assistant", "user"])
        #expect(messages[0]["content"] == [
            ["type": "text", "text": "Weather in Paris and Rome?"],
            ["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="]],
            ["type": "image", "source": ["type": "url", "url": "https://example.com/cat.jpg"]],
        ])
        #expect(messages[1]["content"] == [
            ["type": "tool_use", "id": "call_1", "name": "get_weather", "input": ["city": "Paris"]],
            ["type": "tool_use", "id": "call_2", "name": "get_weather", "input": ["city": "Rome"]],
        ])
        // Both tool results and the next user turn share one user message.
        #expect(messages[2]["content"] == [
            ["type": "tool_result", "tool_use_id": "call_1", "content": "18C"],
            ["type": "tool_result", "tool_use_id": "call_2", "content": "24C"],
            ["type": "text", "text": "Thanks"],
        ])
        #expect(a["tools"] == [["name": "get_weather", "description": "Weather by city",
                                "input_schema": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]]])
        #expect(a["tool_choice"] == ["type": "any", "disable_parallel_tool_use": true])
    }

    @Test func defaultsAndSmallCases() throws {
        let a = try translate(#"{"model":"m","messages":[{"role":"system","content":"S1"},{"role":"system","content":"S2"},{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#)
        #expect(a["max_tokens"] == .int(AnthropicTranslation.defaultMaxTokens))
        #expect(a["system"]?.string == "S1\n\nS2\n\nRespond with one valid JSON object and nothing else.")
        #expect(a["stream"] == nil)
        let named = try translate(#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}"#)
        #expect(named["tool_choice"] == ["type": "tool", "name": "f"])
        #expect(named["tools"]?.array?.first?["input_schema"] == ["type": "object", "properties": [:]])
    }

    @Test(arguments: [
        (#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#, "messages[0].role"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}"#, "n"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#, "messages[0].content[0].type"),
        (#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"not json"}}]}]}"#, "messages[0].tool_calls[0].function.arguments"),
        (#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].tool_call_id"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"code_interpreter"}]}"#, "tools[0]"),
        (#"{"model":"m","messages":[{"role":"system","content":"only system"}]}"#, "messages"),
    ])
    func untranslatableRequestsAre400WithTheParameter(_ json: String, _ param: String) {
        do {
            _ = try translate(json)
            Issue.record("translated \(json)")
        } catch {
            #expect(error.status == 400)
            #expect(error.param == param)
        }
    }
}

@Suite struct AnthropicResponseTranslationTests {
    @Test func messageWithToolCallAndCacheUsage() throws {
        let a = JSONValue.parse(Data(AnthropicFixture.messageWithToolAndCache.utf8))!
        let o = AnthropicTranslation.response(a, created: 7)
        #expect(o["object"] == "chat.completion" && o["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL" && o["created"] == 7)
        let choice = try #require(o["choices"]?.array?.first)
        #expect(choice["finish_reason"] == "tool_calls")
        #expect(choice["message"]?["content"] == "Let me check the weather.")
        let call = try #require(choice["message"]?["tool_calls"]?.array?.first)
        #expect(call["id"] == "toolu_01A09q90qw90lq917835lq9" && call["function"]?["name"] == "get_weather")
        #expect(JSONValue.parse(Data(call["function"]!["arguments"]!.string!.utf8)) == ["location": "Paris", "unit": "celsius"])
        // The gateway's own usage reader sees every class: 120 + 8000 + 2000 prompt, 8000 read, 2000 written.
        let usage = Usage.inOpenAIResponse(ByteBuffer(string: o.jsonText))
        #expect(usage == Usage(promptTokens: 10_120, completionTokens: 45, cachedTokens: 8000, cacheWriteTokens: 2000))
    }

    @Test(arguments: [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"), ("tool_use", "tool_calls"), ("refusal", "content_filter")])
    func stopReasons(_ anthropic: String, _ openAI: String) {
        #expect(AnthropicTranslation.finishReason(anthropic) == .string(openAI))
    }

    @Test func errorsKeepTypeAndMessage() throws {
        let words = NamedErrorFormat.anthropic.words(in: try #require(JSONValue.parse(Data(AnthropicFixture.overloadedError.utf8))))
        #expect(words == UpstreamErrorWords(type: "overloaded_error", code: "overloaded_error", message: "Overloaded"))
    }
}

@Suite struct AnthropicStreamTranslationTests {
    func run(_ text: String, cuts: [Int]) -> String { translate(AnthropicStreamTranslator(created: 1), text, cuts: cuts) }

    func chunks(_ sse: String) -> [JSONValue] {
        sse.components(separatedBy: "\n\n").compactMap { e in
            guard e.hasPrefix("data: "), !e.hasPrefix("data: [DONE]") else { return nil }
            return JSONValue.parse(Data(e.dropFirst(6).utf8))
        }
    }

    @Test func textStreamAtEveryByteBoundary() {
        let whole = run(AnthropicFixture.textStream, cuts: [])
        let n = AnthropicFixture.textStream.utf8.count
        for cut in stride(from: 0, through: n, by: 1) {
            #expect(run(AnthropicFixture.textStream, cuts: [cut]) == whole, "split at \(cut)")
        }
        let c = chunks(whole)
        #expect(c.first?["choices"]?.array?.first?["delta"] == ["role": "assistant", "content": ""])
        let text = c.compactMap { $0["choices"]?.array?.first?["delta"]?["content"]?.string }.joined()
        #expect(text == "Hello!")
        #expect(c.contains { $0["choices"]?.array?.first?["finish_reason"] == "stop" })
        #expect(whole.hasSuffix("data: [DONE]\n\n"))
        // Usage chunk: 25 uncached + 100 read = 125 prompt tokens, 15 output; the relay reads it like OpenAI's.
        var relay = SSERelay(mode: .stripUsageChunk)
        _ = relay.feed(ByteBuffer(string: whole))
        #expect(relay.usage == Usage(promptTokens: 125, completionTokens: 15, cachedTokens: 100))
        #expect(relay.sawDone)
    }

    @Test func thinkingAndToolCallStream() {
        let out = run(AnthropicFixture.thinkingToolStream, cuts: [100, 900])
        let c = chunks(out)
        let deltas = c.compactMap { $0["choices"]?.array?.first?["delta"] }
        #expect(deltas.compactMap { $0["reasoning_content"]?.string }.joined() == "The user wants weather.")
        let calls = deltas.compactMap { $0["tool_calls"]?.array?.first }
        #expect(calls.first?["id"] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6" && calls.first?["function"]?["name"] == "get_weather")
        #expect(calls.allSatisfy { $0["index"] == 0 })
        #expect(calls.compactMap { $0["function"]?["arguments"]?.string }.joined() == #"{"location": "San Francisco, CA"}"#)
        #expect(c.contains { $0["choices"]?.array?.first?["finish_reason"] == "tool_calls" })
        #expect(c.last?["usage"]?["completion_tokens"] == 89)
    }

    @Test func errorEventBecomesAnOpenAIErrorEvent() {
        let out = run(AnthropicFixture.overloadedStream, cuts: [40])
        var relay = SSERelay(mode: .passthrough)
        _ = relay.feed(ByteBuffer(string: out))
        #expect(relay.sawError && !relay.sawDone)
        #expect(out.contains(#"data: {"error":{"code":"overloaded_error","message":"Overloaded","param":null,"type":"overloaded_error"}}"#))
    }
}

/// A Messages request for an OpenAI-compatible upstream is translated and serialised once, already in its upstream
/// form: the provider sends those bytes as they are.
@Suite struct TranslatedChatRequestTests {
    @Test func isWrittenOnceWithTheUpstreamModelAndTheUsageChunk() throws {
        let anthropic = try #require(JSONValue.parse(Data(#"{"model":"claude","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#.utf8)))
        let chat = OpenAIRequest.translated(try MessagesToOpenAI.request(anthropic), upstreamModel: "gpt-x", stream: true, needs: RequestNeeds(streaming: true))
        let sent = chat.upstreamBody(model: "gpt-x")
        #expect(sent == chat.body)                                        // nothing spliced in again
        let body = try #require(JSONValue.parse(Data(buffer: sent)))
        #expect(body["model"] == "gpt-x" && body["stream"] == true && body["stream_options"]?["include_usage"] == true)
        #expect(body["messages"]?.array?.first?["content"] == "hi")
    }
}
