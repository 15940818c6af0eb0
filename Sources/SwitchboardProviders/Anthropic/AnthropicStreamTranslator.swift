import Foundation
import NIOCore
import SwitchboardCore

/// Turns Anthropic's streaming events into OpenAI `chat.completion.chunk` events as they arrive.
///
/// message_start → a role chunk; content_block_start of a tool_use → a tool-call chunk (id, name); text_delta →
/// content; input_json_delta → tool-call argument pieces; thinking_delta → `reasoning_content`; message_delta → the
/// finish chunk; message_stop → the usage chunk and `[DONE]`; error → an OpenAI error event; ping → nothing.
/// Events may be split anywhere across chunks.
public struct AnthropicStreamTranslator: Sendable {
    var events = SSEEventBuffer()
    private var id = "msg"
    private var model = ""
    private let created: Int
    /// Anthropic content-block index → OpenAI tool-call index.
    private var toolIndex: [Int: Int] = [:]
    private var input = 0, output = 0, cacheRead = 0, cacheWrite = 0
    private var finished = false

    public init(created: Int) { self.created = created }

    mutating func translate(_ data: Data, into out: inout ByteBuffer) {
        guard let e = JSONValue.parse(data) else { return }
        switch e["type"]?.string {
        case "message_start":
            let m = e["message"]
            id = m?["id"]?.string ?? id
            model = m?["model"]?.string ?? model
            takeUsage(m?["usage"])
            emit(["role": "assistant", "content": ""], into: &out)
        case "content_block_start":
            let block = e["content_block"]
            let index = e["index"]?.int ?? 0
            switch block?["type"]?.string {
            case "tool_use":
                let n = toolIndex.count
                toolIndex[index] = n
                emit(["tool_calls": [["index": .int(n), "id": block?["id"] ?? "", "type": "function",
                                      "function": ["name": block?["name"] ?? "", "arguments": ""]]]], into: &out)
            case "text":
                if let t = block?["text"]?.string, !t.isEmpty { emit(["content": .string(t)], into: &out) }
            default: break
            }
        case "content_block_delta":
            let delta = e["delta"]
            switch delta?["type"]?.string {
            case "text_delta":
                emit(["content": delta?["text"] ?? ""], into: &out)
            case "input_json_delta":
                let n = toolIndex[e["index"]?.int ?? 0] ?? 0
                emit(["tool_calls": [["index": .int(n), "function": ["arguments": delta?["partial_json"] ?? ""]]]], into: &out)
            case "thinking_delta":
                emit(["reasoning_content": delta?["thinking"] ?? ""], into: &out)
            default: break    // signature_delta and future kinds carry nothing OpenAI clients can use
            }
        case "message_delta":
            takeUsage(e["usage"])
            emit([:], finish: AnthropicTranslation.finishReason(e["delta"]?["stop_reason"]?.string), into: &out)
        case "message_stop":
            guard !finished else { return }
            finished = true
            let usage = AnthropicTranslation.openAIUsage(input: input, output: output, cacheRead: cacheRead, cacheWrite: cacheWrite)
            write(["id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
                   "choices": [], "usage": usage], into: &out)
            out.writeString("data: [DONE]\n\n")
        case "error":
            let type = e["error"]?["type"]?.string ?? "api_error"
            let message = e["error"]?["message"]?.string ?? "The provider reported an error."
            write(["error": ["message": .string(message), "type": .string(type), "param": nil, "code": .string(type)]], into: &out)
        default:
            break   // ping, content_block_stop
        }
    }

    /// Anthropic reports input counts at message_start and (cumulative) output at message_delta; newer versions
    /// may repeat input counts at message_delta. The latest non-zero value wins; a count that is not plausible
    /// stays `Usage.invalidCount`, so the gateway sees the answer's usage as broken.
    private mutating func takeUsage(_ u: JSONValue?) {
        guard let u else { return }
        func take(_ key: String, _ into: inout Int) {
            let v = Usage.count(u[key])
            if v != 0, into != Usage.invalidCount { into = v }
        }
        take("input_tokens", &input)
        take("output_tokens", &output)
        take("cache_read_input_tokens", &cacheRead)
        take("cache_creation_input_tokens", &cacheWrite)
    }

    private func emit(_ delta: [String: JSONValue], finish: JSONValue = nil, into out: inout ByteBuffer) {
        write(["id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
               "choices": [["index": 0, "delta": .object(delta), "logprobs": nil, "finish_reason": finish]]], into: &out)
    }

    private func write(_ value: JSONValue, into out: inout ByteBuffer) {
        out.writeString("data: ")
        out.writeString(value.jsonText)
        out.writeString("\n\n")
    }
}
