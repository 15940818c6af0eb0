import Foundation
import SwitchboardCore

/// OpenAI chat completions ⇄ Anthropic Messages, for `kind: anthropic` deployments serving OpenAI clients.
///
/// Written from Anthropic's Messages API reference: system prompt apart, content blocks (text, image by base64 or
/// URL, tool_use, tool_result), tools with `input_schema`, `tool_choice` {auto, any, none, tool}, `stop_sequences`,
/// `max_tokens` required; usage as `input_tokens` (uncached only) + `cache_read_input_tokens` +
/// `cache_creation_input_tokens`, and `output_tokens`.
public enum AnthropicTranslation {
    /// `max_tokens` when the client set none (Anthropic requires it).
    public static let defaultMaxTokens = 4096

    // MARK: Request: OpenAI → Anthropic

    public static func request(_ openAI: JSONValue, model: String, defaultMaxTokens: Int = defaultMaxTokens) throws(GatewayError) -> JSONValue {
        guard let messages = openAI["messages"]?.array else { throw .invalidParameter("messages", "'messages' must be an array.") }
        var system: [JSONValue] = []     // text blocks (with cache_control when the client marked them)
        var out: [(role: String, blocks: [JSONValue])] = []

        func append(_ role: String, _ blocks: [JSONValue]) {
            guard !blocks.isEmpty else { return }
            if let last = out.last, last.role == role {
                out[out.count - 1].blocks += blocks      // Anthropic wants alternating roles: merge neighbours
            } else {
                out.append((role, blocks))
            }
        }

        for (i, message) in messages.enumerated() {
            let role = message["role"]?.string ?? ""
            let param = "messages[\(i)]"
            switch role {
            case "system", "developer":
                system.append(contentsOf: try contentBlocks(message["content"], param: param + ".content").filter { $0["type"]?.string == "text" })
            case "user":
                append("user", try contentBlocks(message["content"], param: param + ".content"))
            case "assistant":
                var blocks = try contentBlocks(message["content"], param: param + ".content").filter { $0["text"]?.string != "" }
                for (j, call) in (message["tool_calls"]?.array ?? []).enumerated() {
                    let function = call["function"]
                    guard let name = function?["name"]?.string else {
                        throw .invalidParameter("\(param).tool_calls[\(j)].function.name", "Each tool call needs a function name.")
                    }
                    let arguments = function?["arguments"]?.string ?? "{}"
                    guard let input = JSONValue.parse(Data(arguments.utf8)), input.object != nil else {
                        throw .invalidParameter("\(param).tool_calls[\(j)].function.arguments", "Tool call arguments must be a JSON object.")
                    }
                    blocks.append(["type": "tool_use", "id": .string(call["id"]?.string ?? "call_\(i)_\(j)"), "name": .string(name), "input": input])
                }
                append("assistant", blocks)
            case "tool":
                guard let id = message["tool_call_id"]?.string else {
                    throw .invalidParameter("\(param).tool_call_id", "Tool messages need 'tool_call_id'.")
                }
                let text = try texts(message["content"], param: param + ".content").joined(separator: "\n")
                append("user", [["type": "tool_result", "tool_use_id": .string(id), "content": .string(text)]])
            default:
                throw .invalidParameter("\(param).role", "Unknown role '\(role)'.")
            }
        }
        guard !out.isEmpty else { throw .invalidParameter("messages", "At least one user or assistant message is needed.") }
        if let n = openAI["n"]?.int, n != 1 { throw .invalidParameter("n", "This model's provider returns one choice only; 'n' must be 1.") }

        var body: [String: JSONValue] = [
            "model": .string(model),
            "messages": .array(out.map { ["role": .string($0.role), "content": .array($0.blocks)] }),
            "max_tokens": .int(openAI["max_completion_tokens"]?.int ?? openAI["max_tokens"]?.int ?? defaultMaxTokens),
        ]
        if let format = openAI["response_format"], let type = format["type"]?.string, type != "text" {
            var instruction = "Respond with one valid JSON object and nothing else."
            if let schema = format["json_schema"]?["schema"] { instruction += " It must match this JSON schema: \(schema.jsonText)" }
            system.append(["type": "text", "text": .string(instruction)])
        }
        if system.contains(where: { $0["cache_control"] != nil }) {
            body["system"] = .array(system)
        } else if !system.isEmpty {
            body["system"] = .string(system.compactMap { $0["text"]?.string }.joined(separator: "\n\n"))
        }
        if openAI["stream"]?.bool == true { body["stream"] = true }
        if let t = openAI["temperature"]?.number { body["temperature"] = .double(min(max(t, 0), 1)) }
        if let p = openAI["top_p"]?.number { body["top_p"] = .double(p) }
        switch openAI["stop"] {
        case .string(let s)?: body["stop_sequences"] = [.string(s)]
        case .array(let a)?: body["stop_sequences"] = .array(a.filter { $0.string != nil })
        default: break
        }
        if let user = openAI["user"]?.string { body["metadata"] = ["user_id": .string(user)] }
        if let tools = openAI["tools"]?.array, !tools.isEmpty {
            body["tools"] = .array(try tools.enumerated().map { (j, tool) throws(GatewayError) -> JSONValue in
                guard tool["type"]?.string == "function", let f = tool["function"], let name = f["name"]?.string else {
                    throw .invalidParameter("tools[\(j)]", "Only function tools can be sent to this model's provider.")
                }
                var t: [String: JSONValue] = ["name": .string(name), "input_schema": f["parameters"] ?? ["type": "object", "properties": [:]]]
                if let d = f["description"]?.string { t["description"] = .string(d) }
                return .object(t)
            })
            var choice: JSONValue?
            switch openAI["tool_choice"] {
            case .string("auto")?: choice = ["type": "auto"]
            case .string("required")?: choice = ["type": "any"]
            case .string("none")?: choice = ["type": "none"]
            case .object(let o)?:
                if let name = o["function"]?["name"]?.string { choice = ["type": "tool", "name": .string(name)] }
            default: break
            }
            if openAI["parallel_tool_calls"]?.bool == false {
                var c = choice?.object ?? ["type": "auto"]
                c["disable_parallel_tool_use"] = true
                choice = .object(c)
            }
            if let choice { body["tool_choice"] = choice }
        }
        return .object(body)
    }

    private static func texts(_ content: JSONValue?, param: String) throws(GatewayError) -> [String] {
        switch content {
        case .string(let s)?: return [s]
        case .array(let parts)?:
            return try parts.enumerated().map { (j, part) throws(GatewayError) -> String in
                guard let text = part["text"]?.string else {
                    throw .invalidParameter("\(param)[\(j)]", "Only text parts are allowed here.")
                }
                return text
            }
        case nil, .null?: return []
        default: throw .invalidParameter(param, "Content must be a string or an array of parts.")
        }
    }

    private static func contentBlocks(_ content: JSONValue?, param: String) throws(GatewayError) -> [JSONValue] {
        switch content {
        case .string(let s)?: return [["type": "text", "text": .string(s)]]
        case .array(let parts)?:
            return try parts.enumerated().map { (j, part) throws(GatewayError) -> JSONValue in
                switch part["type"]?.string {
                case "text":
                    var block: [String: JSONValue] = ["type": "text", "text": .string(part["text"]?.string ?? "")]
                    if let cache = part["cache_control"] { block["cache_control"] = cache }   // prompt caching marks
                    return .object(block)
                case "image_url":
                    guard let url = part["image_url"]?["url"]?.string ?? part["image_url"]?.string else {
                        throw .invalidParameter("\(param)[\(j)].image_url", "An image part needs 'image_url.url'.")
                    }
                    if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") {
                        let media = String(url[url.index(url.startIndex, offsetBy: 5)..<url[..<comma].index(url[..<comma].endIndex, offsetBy: -7)])
                        return ["type": "image", "source": ["type": "base64", "media_type": .string(media), "data": .string(String(url[url.index(after: comma)...]))]]
                    }
                    return ["type": "image", "source": ["type": "url", "url": .string(url)]]
                default:
                    throw .invalidParameter("\(param)[\(j)].type", "Content part type '\(part["type"]?.string ?? "?")' is not supported by this model's provider.")
                }
            }
        case nil, .null?: return []
        default: throw .invalidParameter(param, "Content must be a string or an array of parts.")
        }
    }

    // MARK: Response: Anthropic → OpenAI

    public static func finishReason(_ stopReason: String?) -> JSONValue {
        switch stopReason {
        case "end_turn", "stop_sequence", "pause_turn": "stop"
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        case nil: .null
        default: "stop"
        }
    }

    /// OpenAI's usage object for Anthropic's counts, with `cache_creation_input_tokens` kept alongside (as LiteLLM
    /// does) so cache writes are billed at their own price.
    /// Counts that are not plausible come out as `Usage.invalidCount`, so the gateway refuses the answer.
    public static func openAIUsage(input: Int, output: Int, cacheRead: Int, cacheWrite: Int) -> JSONValue {
        let prompt = Usage.sum(input, cacheRead, cacheWrite)
        return ["prompt_tokens": .int(prompt), "completion_tokens": .int(output), "total_tokens": .int(Usage.sum(prompt, output)),
                "prompt_tokens_details": ["cached_tokens": .int(cacheRead)], "cache_creation_input_tokens": .int(cacheWrite)]
    }

    public static func response(_ a: JSONValue, created: Int) -> JSONValue {
        var text = ""
        var reasoning = ""
        var calls: [JSONValue] = []
        for block in a["content"]?.array ?? [] {
            switch block["type"]?.string {
            case "text": text += block["text"]?.string ?? ""
            case "thinking": reasoning += block["thinking"]?.string ?? ""
            case "tool_use":
                calls.append(["id": block["id"] ?? "", "type": "function",
                              "function": ["name": block["name"] ?? "", "arguments": .string((block["input"] ?? [:]).jsonText)]])
            default: break
            }
        }
        var message: [String: JSONValue] = ["role": "assistant", "content": text.isEmpty && !calls.isEmpty ? .null : .string(text)]
        if !calls.isEmpty { message["tool_calls"] = .array(calls) }
        if !reasoning.isEmpty { message["reasoning_content"] = .string(reasoning) }
        let u = a["usage"]
        return ["id": a["id"] ?? "", "object": "chat.completion", "created": .int(created), "model": a["model"] ?? "",
                "choices": [["index": 0, "message": .object(message), "logprobs": nil, "finish_reason": finishReason(a["stop_reason"]?.string)]],
                "usage": openAIUsage(input: Usage.count(u?["input_tokens"]), output: Usage.count(u?["output_tokens"]),
                                     cacheRead: Usage.count(u?["cache_read_input_tokens"]), cacheWrite: Usage.count(u?["cache_creation_input_tokens"]))]
    }
}
