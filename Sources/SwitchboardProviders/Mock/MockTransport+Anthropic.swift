import Foundation
import NIOCore
import SwitchboardCore

/// The simulated provider speaking Anthropic's Messages API (`POST /v1/messages`, plain and streamed).
extension MockTransport {
    func anthropicMessages(_ body: Data, id n: Int) -> UpstreamResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return Self.json(400, Self.anthropicError("The body is not a JSON object.", type: "invalid_request_error"))
        }
        guard let messages = object["messages"] as? [[String: Any]], !messages.isEmpty else {
            return Self.json(400, Self.anthropicError("messages: must be a non-empty array", type: "invalid_request_error"))
        }
        guard let maxTokens = object["max_tokens"] as? Int, maxTokens >= 1 else {
            return Self.json(400, Self.anthropicError("max_tokens: Field required", type: "invalid_request_error"))
        }
        let model = object["model"] as? String ?? "mock-model"
        let stream = object["stream"] as? Bool ?? false
        var counted = messages
        if let system = object["system"] as? String { counted.append(["content": system]) }
        if let blocks = object["system"] as? [[String: Any]] { counted.append(["content": blocks]) }
        let prompt = MockText.promptTokens(counted)
        // Prompt caching, simulated: a request that marks anything with cache_control reads half its prompt from cache.
        let cacheRead = String(decoding: body, as: UTF8.self).contains("\"cache_control\"") ? prompt / 2 : 0
        let seed = config.seed ^ stableHash(body)
        let plan: MockReply
        if let call = MockToolCall.choose(Self.openAIShape(object), messages: Self.openAIShape(messages), seed: seed) {
            plan = .tool(call)
        } else {
            plan = MockText.reply(config, limit: maxTokens, seed: seed, echoing: messages)
        }
        let stopReason = switch plan.finishReason {
        case "length": "max_tokens"
        case "tool_calls": "tool_use"
        default: "end_turn"
        }
        let usage = #"{"input_tokens":\#(prompt - cacheRead),"cache_creation_input_tokens":0,"cache_read_input_tokens":\#(cacheRead),"output_tokens":\#(plan.tokenCount)}"#
        let messageID = "msg_mock_\(config.seed)_\(n)"
        if !stream {
            let content: String
            switch plan {
            case .text(let words, _): content = #"[{"type":"text","text":\#(JSONString.quote(words.joined()))}]"#
            case .tool(let call): content = #"[{"type":"tool_use","id":\#(JSONString.quote(call.id.replacingOccurrences(of: "call_", with: "toolu_"))),"name":\#(JSONString.quote(call.name)),"input":\#(call.arguments)}]"#
            }
            let text = #"{"id":"\#(messageID)","type":"message","role":"assistant","model":\#(JSONString.quote(model)),"content":\#(content),"stop_reason":"\#(stopReason)","stop_sequence":null,"usage":\#(usage)}"#
            let delay = config.ttftMs + (config.tokensPerSecond > 0 ? Int(Double(plan.tokenCount) / config.tokensPerSecond * 1000) : 0)
            let clock = self.clock
            return UpstreamResponse(status: 200, headers: [("content-type", "application/json")], body: UpstreamBody(iterator: {
                DelayedOnce(clock: clock, delayMs: delay, buffer: ByteBuffer(string: text))
            }))
        }
        let events = AnthropicMockEvents(messageID: messageID, model: model, plan: plan, stopReason: stopReason,
                                         inputTokens: prompt - cacheRead, cacheRead: cacheRead)
        let config = self.config
        let clock = self.clock
        return UpstreamResponse(status: 200, headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")],
                                body: UpstreamBody(iterator: { MockStreamIterator(events: events, config: config, clock: clock) }))
    }

    /// Anthropic tools, tool_choice and tool results seen as the OpenAI shapes `MockToolCall` understands.
    static func openAIShape(_ request: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        if let tools = request["tools"] as? [[String: Any]] {
            out["tools"] = tools.map { ["type": "function", "function": ["name": $0["name"] ?? "", "parameters": $0["input_schema"] ?? [:]]] }
        }
        if let choice = request["tool_choice"] as? [String: Any] {
            switch choice["type"] as? String {
            case "none": out["tool_choice"] = "none"
            case "tool": out["tool_choice"] = ["type": "function", "function": ["name": choice["name"] ?? ""]]
            default: break
            }
        }
        return out
    }

    static func openAIShape(_ messages: [[String: Any]]) -> [[String: Any]] {
        messages.map { m in
            let blocks = m["content"] as? [[String: Any]] ?? []
            return blocks.contains { $0["type"] as? String == "tool_result" } ? ["role": "tool"] : m
        }
    }
}

/// Anthropic's stream event sequence for a simulated answer.
struct AnthropicMockEvents: MockEventSource {
    let messageID: String
    let model: String
    let plan: MockReply
    let stopReason: String
    let inputTokens: Int
    let cacheRead: Int

    var steps: Int {
        switch plan {
        case .text(let words, _): words.count
        case .tool(let call): max(1, (call.arguments.utf8.count + 7) / 8)
        }
    }

    private func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }

    func step(_ i: Int) -> String {
        var out = ""
        if i == 0 {
            out += event("message_start", #"{"type":"message_start","message":{"id":"\#(messageID)","type":"message","role":"assistant","model":\#(JSONString.quote(model)),"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(inputTokens),"cache_creation_input_tokens":0,"cache_read_input_tokens":\#(cacheRead),"output_tokens":1}}}"#)
            switch plan {
            case .text:
                out += event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#)
            case .tool(let call):
                out += event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":\#(JSONString.quote(call.id.replacingOccurrences(of: "call_", with: "toolu_"))),"name":\#(JSONString.quote(call.name)),"input":{}}}"#)
            }
            out += event("ping", #"{"type": "ping"}"#)
        }
        switch plan {
        case .text(let words, _):
            out += event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(JSONString.quote(words[i]))}}"#)
        case .tool(let call):
            let args = Array(call.arguments.utf8)
            let lo = min(i * 8, args.count), hi = min(lo + 8, args.count)
            let piece = JSONString.quote(String(decoding: args[lo..<hi], as: UTF8.self))
            out += event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":\#(piece)}}"#)
        }
        return out
    }

    var tail: String {
        event("content_block_stop", #"{"type":"content_block_stop","index":0}"#)
            + event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"\#(stopReason)","stop_sequence":null},"usage":{"output_tokens":\#(plan.tokenCount)}}"#)
            + event("message_stop", #"{"type":"message_stop"}"#)
    }
}
