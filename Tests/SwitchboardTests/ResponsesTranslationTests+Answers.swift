import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardProviders

enum ResponsesFixture {
    static let request: JSONValue = JSONValue.parse(Data(#"""
    {"model":"chat","instructions":"Be terse.","input":"Weather in Paris and Rome?","max_output_tokens":500,"temperature":0.5,
     "metadata":{"team":"a"},"previous_response_id":"resp_prev","store":false,"parallel_tool_calls":true,"user":"u-1",
     "tools":[{"type":"function","name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":false}],
     "tool_choice":"auto","reasoning":{"effort":"low"},"text":{"format":{"type":"text"}}}
    """#.utf8)) ?? .null

    static func completion(content: String?, calls: [(id: String, name: String, arguments: String)] = [], finish: String, refusal: String? = nil) -> JSONValue {
        var message: [String: JSONValue] = ["role": "assistant", "content": content.map(JSONValue.string) ?? .null]
        if !calls.isEmpty {
            message["tool_calls"] = .array(calls.map { ["id": .string($0.id), "type": "function", "function": ["name": .string($0.name), "arguments": .string($0.arguments)]] })
        }
        if let refusal { message["refusal"] = .string(refusal) }
        return ["id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-x",
                "choices": [["index": 0, "message": .object(message), "finish_reason": .string(finish)]]]
    }

    static let usage = Usage(promptTokens: 100, completionTokens: 40, cachedTokens: 60, reasoningTokens: 12)
}

/// Whole chat completions → Responses `response` objects (`ChatToResponses`).
@Suite struct ResponsesTranslationAnswerTests {
    func response(_ completion: JSONValue, request: JSONValue = ResponsesFixture.request, usage: Usage = ResponsesFixture.usage) -> JSONValue {
        ChatToResponses.response(completion, usage: usage, request: request, id: "resp_abc", model: "chat", createdAt: 1_700_000_000)
    }

    @Test func textAnswerWithUsageAndEchoedSettings() {
        let r = response(ResponsesFixture.completion(content: "Sunny.", finish: "stop"))
        #expect(r["id"] == "resp_abc" && r["object"] == "response" && r["created_at"] == 1_700_000_000 && r["model"] == "chat")
        #expect(r["status"] == "completed" && r["error"] == .null && r["incomplete_details"] == .null)
        #expect(r["output"] == [["type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
                                 "content": [["type": "output_text", "text": "Sunny.", "annotations": [], "logprobs": []]]]])
        #expect(r["output_text"] == nil)        // the SDK computes it; it is not on the wire
        #expect(r["usage"] == ["input_tokens": 100, "input_tokens_details": ["cached_tokens": 60, "cache_write_tokens": 0],
                               "output_tokens": 40, "output_tokens_details": ["reasoning_tokens": 12], "total_tokens": 140])
        #expect(r["instructions"] == "Be terse." && r["max_output_tokens"] == 500 && r["temperature"] == .double(0.5) && r["top_p"] == .null)
        #expect(r["tools"] == [["type": "function", "name": "get_weather", "description": "Weather by city",
                                "parameters": ["type": "object", "properties": ["city": ["type": "string"]]], "strict": false]])
        #expect(r["tool_choice"] == "auto" && r["parallel_tool_calls"] == true && r["reasoning"] == ["effort": "low"])
        #expect(r["text"] == ["format": ["type": "text"]] && r["metadata"] == ["team": "a"] && r["user"] == "u-1")
        #expect(r["previous_response_id"] == "resp_prev" && r["store"] == false && r["truncation"] == "disabled")
    }

    @Test func defaultsForABareRequest() {
        let r = response(ResponsesFixture.completion(content: "x", finish: "stop"), request: ["input": "hi"])
        #expect(r["tools"] == [] && r["tool_choice"] == "auto" && r["parallel_tool_calls"] == true && r["store"] == true)
        #expect(r["text"] == ["format": ["type": "text"]] && r["reasoning"] == ["effort": nil, "summary": nil] && r["metadata"] == [:])
        #expect(r["instructions"] == .null && r["max_output_tokens"] == .null && r["previous_response_id"] == .null)
    }

    @Test func toolCallsBecomeFunctionCallItems() {
        let c = ResponsesFixture.completion(content: "Checking.", calls: [("call_a", "get_weather", #"{"city":"Paris"}"#), ("call_b", "get_weather", #"{"city":"Rome"}"#)],
                                            finish: "tool_calls")
        let r = response(c)
        #expect(r["status"] == "completed")
        #expect(r["output"]?.array?.count == 3)
        #expect(r["output"]?.array?[1] == ["type": "function_call", "id": "fc_abc_1", "call_id": "call_a", "name": "get_weather",
                                           "arguments": #"{"city":"Paris"}"#, "status": "completed"])
        #expect(r["output"]?.array?[2]["id"] == "fc_abc_2")
        // Only calls: no message item.
        let only = response(ResponsesFixture.completion(content: nil, calls: [("call_a", "f", "")], finish: "tool_calls"))
        #expect(only["output"] == [["type": "function_call", "id": "fc_abc_0", "call_id": "call_a", "name": "f", "arguments": "{}", "status": "completed"]])
        #expect(ChatToResponses.outputItems(c, responseID: "resp_abc") == r["output"]?.array)
    }

    @Test(arguments: [("length", "max_output_tokens"), ("content_filter", "content_filter")])
    func cutAnswersAreIncomplete(_ finish: String, _ reason: String) {
        let r = response(ResponsesFixture.completion(content: "Once upon", finish: finish))
        #expect(r["status"] == "incomplete" && r["incomplete_details"] == ["reason": .string(reason)])
        #expect(r["output"]?.array?.last?["status"] == "incomplete")
    }

    @Test func refusalEmptyAnswerAndImplausibleUsage() {
        let refused = response(ResponsesFixture.completion(content: nil, finish: "stop", refusal: "I can't help with that."))
        #expect(refused["output"]?.array?.first?["content"] == [["type": "refusal", "refusal": "I can't help with that."]])
        let empty = response(ResponsesFixture.completion(content: "", finish: "stop"))
        #expect(empty["output"]?.array?.first?["content"] == [["type": "output_text", "text": "", "annotations": [], "logprobs": []]])
        let bad = response(ResponsesFixture.completion(content: "x", finish: "stop"), usage: Usage(promptTokens: 5, completionTokens: 1, cachedTokens: 9))
        #expect(bad["usage"]?["input_tokens"] == .int(Usage.invalidCount))
        // Chat content as parts, and arguments an upstream sent as an object.
        let odd: JSONValue = ["choices": [["message": ["content": [["type": "text", "text": "a"], ["type": "text", "text": "b"]],
                                                       "tool_calls": [["function": ["name": "f", "arguments": ["k": 1]]]]], "finish_reason": "stop"]]]
        let items = ChatToResponses.outputItems(odd, responseID: "r9")
        #expect(items.first?["content"]?.array?.first?["text"] == "ab")
        #expect(items.last?["arguments"] == #"{"k":1}"# && items.last?["call_id"] == "call_r9_1")
    }
}

/// Every value of a valid document swapped, one at a time, for a value of each other JSON type.
func everyValueSwapped(_ value: JSONValue) -> [JSONValue] {
    let replacements: [JSONValue] = [nil, 7, -1, .double(0.5), "s", "", true, [], [:], [nil], [[:]], ["type": "x"]]
    var out = replacements.filter { $0 != value }
    switch value {
    case .array(let a):
        for (i, element) in a.enumerated() {
            for swapped in everyValueSwapped(element) {
                var copy = a
                copy[i] = swapped
                out.append(.array(copy))
            }
        }
    case .object(let o):
        for (key, element) in o {
            for swapped in everyValueSwapped(element) {
                var copy = o
                copy[key] = swapped
                out.append(.object(copy))
            }
        }
    default: break
    }
    return out
}

/// No shape of input makes a translator crash: each answers or refuses with a 400 naming a field.
@Suite struct ResponsesTranslationRobustnessTests {
    @Test func malformedRequestsAreAnsweredOrRefusedWithAParam() {
        var refused = 0
        for body in everyValueSwapped(ResponsesFixture.request) {
            do {
                _ = try ResponsesToChat.request(body)
            } catch {
                refused += 1
                #expect(error.status == 400 && error.param != nil, "\(body.jsonText): \(error.message)")
            }
        }
        #expect(refused > 50)
    }

    @Test func malformedAnswersAndChunksStillTranslate() {
        let completion = ResponsesFixture.completion(content: "Hi", calls: [("call_a", "f", "{}")], finish: "length")
        for odd in everyValueSwapped(completion) {
            let r = ChatToResponses.response(odd, usage: Usage(), request: odd, id: "resp_1", model: "m", createdAt: 1)
            #expect(r["object"] == "response" && r["output"]?.array?.isEmpty == false)
        }
        let chunk = JSONValue.parse(Data(ChatStreamFixture.chunk(#"{"content":"a","tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}"#, finish: "stop").utf8)) ?? nil
        for odd in everyValueSwapped(chunk) {
            let sse = ChatStreamFixture.sse([odd.jsonText, ChatStreamFixture.usage])
            let names = ResponsesTranslationStreamTests.events(translate(ResponsesTranslationStreamTests.translator(), sse, cuts: [])).map(\.name)
            #expect(names.first == "response.created")
            #expect(names.filter { ["response.completed", "response.incomplete", "response.failed"].contains($0) }.count == 1, "\(odd.jsonText)")
        }
    }
}
