import Foundation
import NIOCore
import SwitchboardCore

/// Anthropic Messages clients (`POST /v1/messages`) served by OpenAI-compatible deployments: the request is
/// translated to a chat completion, the answer (plain, streamed, error) back to Anthropic's wire format.
public enum MessagesToOpenAI {
    // MARK: Request: Anthropic → OpenAI

    public static func request(_ a: JSONValue) throws(GatewayError) -> JSONValue {
        var messages: [JSONValue] = []
        switch a["system"] {
        case .string(let s)?: messages.append(["role": "system", "content": .string(s)])
        case .array(let blocks)?:
            let text = blocks.compactMap { $0["text"]?.string }.joined(separator: "\n\n")
            if !text.isEmpty { messages.append(["role": "system", "content": .string(text)]) }
        default: break
        }
        for (i, m) in (a["messages"]?.array ?? []).enumerated() {
            let role = m["role"]?.string ?? ""
            guard role == "user" || role == "assistant" else {
                throw .invalidParameter("messages.\(i).role", "messages.\(i).role: must be 'user' or 'assistant'.")
            }
            let blocks: [JSONValue]
            switch m["content"] {
            case .string(let s)?: blocks = [["type": "text", "text": .string(s)]]
            case .array(let b)?: blocks = b
            default: throw .invalidParameter("messages.\(i).content", "messages.\(i).content: must be a string or an array of blocks.")
            }
            var parts: [JSONValue] = []
            var calls: [JSONValue] = []
            var toolResults: [JSONValue] = []
            for (j, block) in blocks.enumerated() {
                switch block["type"]?.string {
                case "text":
                    parts.append(["type": "text", "text": block["text"] ?? ""])
                case "image" where role == "user":
                    let source = block["source"]
                    switch source?["type"]?.string {
                    case "base64":
                        let url = "data:\(source?["media_type"]?.string ?? "image/png");base64,\(source?["data"]?.string ?? "")"
                        parts.append(["type": "image_url", "image_url": ["url": .string(url)]])
                    case "url":
                        parts.append(["type": "image_url", "image_url": ["url": source?["url"] ?? ""]])
                    default:
                        throw .invalidParameter("messages.\(i).content.\(j).source", "This image source is not supported by this model's provider.")
                    }
                case "tool_use" where role == "assistant":
                    calls.append(["id": block["id"] ?? "", "type": "function",
                                  "function": ["name": block["name"] ?? "", "arguments": .string((block["input"] ?? [:]).jsonText)]])
                case "tool_result" where role == "user":
                    let content: String
                    switch block["content"] {
                    case .string(let s)?: content = s
                    case .array(let b)?: content = b.compactMap { $0["text"]?.string }.joined(separator: "\n")
                    default: content = ""
                    }
                    let flagged = block["is_error"]?.bool == true ? "Error: " + content : content
                    toolResults.append(["role": "tool", "tool_call_id": block["tool_use_id"] ?? "", "content": .string(flagged)])
                case "thinking", "redacted_thinking":
                    continue     // an OpenAI-compatible model cannot take another model's signed thinking back
                default:
                    throw .invalidParameter("messages.\(i).content.\(j).type",
                                            "Content block type '\(block["type"]?.string ?? "?")' is not supported by this model's provider.")
                }
            }
            messages.append(contentsOf: toolResults)      // tool results answer the previous assistant turn first
            if role == "assistant" {
                var message: [String: JSONValue] = ["role": "assistant"]
                let text = parts.compactMap { $0["text"]?.string }.joined()
                message["content"] = text.isEmpty && !calls.isEmpty ? .null : .string(text)
                if !calls.isEmpty { message["tool_calls"] = .array(calls) }
                messages.append(.object(message))
            } else if !parts.isEmpty {
                let onlyText = parts.allSatisfy { $0["type"]?.string == "text" }
                messages.append(["role": "user", "content": onlyText ? .string(parts.compactMap { $0["text"]?.string }.joined(separator: "\n")) : .array(parts)])
            }
        }
        var body: [String: JSONValue] = ["model": a["model"] ?? "", "messages": .array(messages)]
        if let n = a["max_tokens"]?.int { body["max_tokens"] = .int(n) }
        if let t = a["temperature"]?.number { body["temperature"] = .double(t) }
        if let p = a["top_p"]?.number { body["top_p"] = .double(p) }
        if let stops = a["stop_sequences"]?.array, !stops.isEmpty { body["stop"] = .array(stops) }
        if a["stream"]?.bool == true { body["stream"] = true }
        if let user = a["metadata"]?["user_id"]?.string { body["user"] = .string(user) }
        if let tools = a["tools"]?.array, !tools.isEmpty {
            body["tools"] = .array(try tools.enumerated().map { (j, tool) throws(GatewayError) -> JSONValue in
                if let type = tool["type"]?.string, type != "custom" {
                    throw .invalidParameter("tools.\(j).type", "Server tool '\(type)' is not available on this model's provider.")
                }
                guard let name = tool["name"]?.string else { throw .invalidParameter("tools.\(j).name", "tools.\(j).name: Field required") }
                var f: [String: JSONValue] = ["name": .string(name), "parameters": tool["input_schema"] ?? ["type": "object", "properties": [:]]]
                if let d = tool["description"]?.string { f["description"] = .string(d) }
                return ["type": "function", "function": .object(f)]
            })
            let choice = a["tool_choice"]
            switch choice?["type"]?.string {
            case "auto": body["tool_choice"] = "auto"
            case "any": body["tool_choice"] = "required"
            case "none": body["tool_choice"] = "none"
            case "tool": body["tool_choice"] = ["type": "function", "function": ["name": choice?["name"] ?? ""]]
            default: break
            }
            if choice?["disable_parallel_tool_use"]?.bool == true { body["parallel_tool_calls"] = false }
        }
        return .object(body)
    }

    // MARK: Response: OpenAI → Anthropic

    public static func stopReason(_ finish: String?) -> JSONValue {
        switch finish {
        case "length": "max_tokens"
        case "tool_calls", "function_call": "tool_use"
        case "content_filter": "refusal"
        case nil: .null
        default: "end_turn"
        }
    }

    /// Anthropic's usage object for normalised usage (`input_tokens` is the uncached remainder). Usage that is not
    /// plausible stays so (`input_tokens` -1), so the gateway refuses it.
    public static func anthropicUsage(_ u: Usage) -> JSONValue {
        let input = u.isPlausible ? u.promptTokens - u.cachedTokens - u.cacheWriteTokens : Usage.invalidCount
        return ["input_tokens": .int(input), "output_tokens": .int(u.completionTokens),
         "cache_read_input_tokens": .int(u.cachedTokens), "cache_creation_input_tokens": .int(u.cacheWriteTokens)]
    }

    public static func response(_ o: JSONValue, usage: Usage, model: String) -> JSONValue {
        let choice = o["choices"]?.array?.first
        let message = choice?["message"]
        var content: [JSONValue] = []
        if let text = message?["content"]?.string, !text.isEmpty { content.append(["type": "text", "text": .string(text)]) }
        for call in message?["tool_calls"]?.array ?? [] {
            let args = call["function"]?["arguments"]?.string ?? "{}"
            content.append(["type": "tool_use", "id": call["id"] ?? "", "name": call["function"]?["name"] ?? "",
                            "input": JSONValue.parse(Data(args.utf8)) ?? [:]])
        }
        let id = o["id"]?.string ?? "msg"
        return ["id": .string(id.hasPrefix("msg_") ? id : "msg_" + id), "type": "message", "role": "assistant", "model": .string(model),
                "content": .array(content), "stop_reason": stopReason(choice?["finish_reason"]?.string), "stop_sequence": nil,
                "usage": anthropicUsage(usage)]
    }
}

/// Turns an OpenAI chat-completion stream into Anthropic's event sequence as chunks arrive: message_start, a
/// content block per text run or tool call (content_block_start / _delta / _stop), message_delta with the stop
/// reason and usage, message_stop. An OpenAI error event becomes an Anthropic `error` event.
public struct OpenAIToMessagesStream: Sendable {
    private enum Block: Equatable { case none, text, tool(Int) }
    var events = SSEEventBuffer()
    private let model: String
    private var started = false
    private var block = Block.none
    private var blockIndex = -1
    private var stop: String?
    private var usage = Usage()
    private var finished = false

    public init(model: String) { self.model = model }

    mutating func translate(_ data: Data, into out: inout ByteBuffer) {
        if data == Data("[DONE]".utf8) {
            end(into: &out)
            return
        }
        guard let c = JSONValue.parse(data) else { return }
        if let e = c["error"], e.object != nil {
            let body = ErrorBody.anthropic(type: ErrorBody.anthropicType(e["type"]?.string, status: 500), message: e["message"]?.string ?? "The provider failed.")
            write("error", JSONValue.parse(Data(body.utf8)) ?? nil, into: &out)
            return
        }
        begin(c, into: &out)
        if let u = c["usage"], u.object != nil, let parsed = Array(u.jsonText.utf8).withUnsafeBytes({ Usage.openAIUsageObject($0) }) {
            usage = parsed
        }
        guard let choice = c["choices"]?.array?.first else { return }
        let delta = choice["delta"]
        if let text = delta?["content"]?.string, !text.isEmpty {
            if block != .text { open(.text, ["type": "text", "text": ""], into: &out) }
            write("content_block_delta", ["type": "content_block_delta", "index": .int(blockIndex), "delta": ["type": "text_delta", "text": .string(text)]], into: &out)
        }
        for call in delta?["tool_calls"]?.array ?? [] {
            let index = call["index"]?.int ?? 0
            if block != .tool(index) || call["id"]?.string != nil {
                open(.tool(index), ["type": "tool_use", "id": call["id"] ?? .string("toolu_\(index)"), "name": call["function"]?["name"] ?? "", "input": [:]], into: &out)
            }
            if let args = call["function"]?["arguments"]?.string, !args.isEmpty {
                write("content_block_delta", ["type": "content_block_delta", "index": .int(blockIndex),
                                              "delta": ["type": "input_json_delta", "partial_json": .string(args)]], into: &out)
            }
        }
        if let f = choice["finish_reason"]?.string { stop = f }
    }

    private mutating func begin(_ chunk: JSONValue, into out: inout ByteBuffer) {
        guard !started else { return }
        started = true
        let id = chunk["id"]?.string ?? "msg"
        write("message_start", ["type": "message_start", "message": [
            "id": .string(id.hasPrefix("msg_") ? id : "msg_" + id), "type": "message", "role": "assistant", "model": .string(model),
            "content": [], "stop_reason": nil, "stop_sequence": nil,
            "usage": ["input_tokens": 0, "output_tokens": 0]]], into: &out)
    }

    private mutating func open(_ kind: Block, _ contentBlock: JSONValue, into out: inout ByteBuffer) {
        close(into: &out)
        blockIndex += 1
        block = kind
        write("content_block_start", ["type": "content_block_start", "index": .int(blockIndex), "content_block": contentBlock], into: &out)
    }

    private mutating func close(into out: inout ByteBuffer) {
        guard block != .none else { return }
        write("content_block_stop", ["type": "content_block_stop", "index": .int(blockIndex)], into: &out)
        block = .none
    }

    private mutating func end(into out: inout ByteBuffer) {
        guard !finished else { return }
        finished = true
        if !started { begin([:], into: &out) }
        close(into: &out)
        write("message_delta", ["type": "message_delta", "delta": ["stop_reason": MessagesToOpenAI.stopReason(stop ?? "stop"), "stop_sequence": nil],
                                "usage": MessagesToOpenAI.anthropicUsage(usage)], into: &out)
        write("message_stop", ["type": "message_stop"], into: &out)
    }

    private func write(_ name: String, _ value: JSONValue, into out: inout ByteBuffer) {
        out.writeString("event: \(name)\ndata: \(value.jsonText)\n\n")
    }
}
