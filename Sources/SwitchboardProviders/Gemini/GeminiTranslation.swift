import Foundation
import NIOCore
import SwitchboardCore

/// OpenAI chat completions and embeddings ⇄ Gemini's `generateContent`, `streamGenerateContent` (SSE) and
/// `batchEmbedContents`, written from the Gemini API reference (v1beta REST, camelCase fields).
public enum GeminiTranslation {
    // MARK: Request: OpenAI → Gemini

    public static func request(_ o: JSONValue) throws(GatewayError) -> JSONValue {
        guard let messages = o["messages"]?.array else { throw .invalidParameter("messages", "'messages' must be an array.") }
        var system: [JSONValue] = []
        var contents: [(role: String, parts: [JSONValue])] = []
        var functionNames: [String: String] = [:]    // tool_call_id → function name (Gemini answers by name)

        func append(_ role: String, _ parts: [JSONValue]) {
            guard !parts.isEmpty else { return }
            if let last = contents.last, last.role == role { contents[contents.count - 1].parts += parts } else { contents.append((role, parts)) }
        }

        for (i, m) in messages.enumerated() {
            let role = m["role"]?.string ?? ""
            let param = "messages[\(i)]"
            switch role {
            case "system", "developer":
                system += try parts(m["content"], param: param + ".content")
            case "user":
                append("user", try parts(m["content"], param: param + ".content"))
            case "assistant":
                var p = try parts(m["content"], param: param + ".content").filter { $0["text"]?.string != "" }
                for (j, call) in (m["tool_calls"]?.array ?? []).enumerated() {
                    guard let name = call["function"]?["name"]?.string else {
                        throw .invalidParameter("\(param).tool_calls[\(j)].function.name", "Each tool call needs a function name.")
                    }
                    guard let args = JSONValue.parse(Data((call["function"]?["arguments"]?.string ?? "{}").utf8)), args.object != nil else {
                        throw .invalidParameter("\(param).tool_calls[\(j)].function.arguments", "Tool call arguments must be a JSON object.")
                    }
                    if let id = call["id"]?.string { functionNames[id] = name }
                    p.append(["functionCall": ["name": .string(name), "args": args]])
                }
                append("model", p)
            case "tool":
                guard let id = m["tool_call_id"]?.string, let name = functionNames[id] else {
                    throw .invalidParameter("\(param).tool_call_id", "A tool message must answer a tool call of an earlier assistant message.")
                }
                let text = try parts(m["content"], param: param + ".content").compactMap { $0["text"]?.string }.joined(separator: "\n")
                let response = JSONValue.parse(Data(text.utf8)).flatMap { $0.object != nil ? $0 : nil } ?? ["content": .string(text)]
                append("user", [["functionResponse": ["name": .string(name), "response": response]]])
            default:
                throw .invalidParameter("\(param).role", "Unknown role '\(role)'.")
            }
        }
        guard !contents.isEmpty else { throw .invalidParameter("messages", "At least one user or assistant message is needed.") }
        var body: [String: JSONValue] = ["contents": .array(contents.map { ["role": .string($0.role), "parts": .array($0.parts)] })]
        if !system.isEmpty { body["systemInstruction"] = ["parts": .array(system)] }
        var generation: [String: JSONValue] = [:]
        if let t = o["temperature"]?.number { generation["temperature"] = .double(t) }
        if let p = o["top_p"]?.number { generation["topP"] = .double(p) }
        if let n = o["max_completion_tokens"]?.int ?? o["max_tokens"]?.int { generation["maxOutputTokens"] = .int(n) }
        if let n = o["n"]?.int, n != 1 { generation["candidateCount"] = .int(n) }
        if let seed = o["seed"]?.int { generation["seed"] = .int(seed) }
        switch o["stop"] {
        case .string(let s)?: generation["stopSequences"] = [.string(s)]
        case .array(let a)?: generation["stopSequences"] = .array(a)
        default: break
        }
        if let format = o["response_format"], let type = format["type"]?.string, type != "text" {
            generation["responseMimeType"] = "application/json"
            if let schema = format["json_schema"]?["schema"] { generation["responseJsonSchema"] = schema }
        }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        if let tools = o["tools"]?.array, !tools.isEmpty {
            let declarations = try tools.enumerated().map { (j, tool) throws(GatewayError) -> JSONValue in
                guard tool["type"]?.string == "function", let f = tool["function"], let name = f["name"]?.string else {
                    throw .invalidParameter("tools[\(j)]", "Only function tools can be sent to this model's provider.")
                }
                var d: [String: JSONValue] = ["name": .string(name)]
                if let desc = f["description"]?.string { d["description"] = .string(desc) }
                if let params = f["parameters"] { d["parametersJsonSchema"] = params }
                return .object(d)
            }
            body["tools"] = [["functionDeclarations": .array(declarations)]]
            var config: [String: JSONValue]?
            switch o["tool_choice"] {
            case .string("auto")?: config = ["mode": "AUTO"]
            case .string("required")?: config = ["mode": "ANY"]
            case .string("none")?: config = ["mode": "NONE"]
            case .object(let c)?:
                if let name = c["function"]?["name"]?.string { config = ["mode": "ANY", "allowedFunctionNames": [.string(name)]] }
            default: break
            }
            if let config { body["toolConfig"] = ["functionCallingConfig": .object(config)] }
        }
        return .object(body)
    }

    private static func parts(_ content: JSONValue?, param: String) throws(GatewayError) -> [JSONValue] {
        switch content {
        case .string(let s)?: return [["text": .string(s)]]
        case .array(let items)?:
            return try items.enumerated().map { (j, part) throws(GatewayError) -> JSONValue in
                switch part["type"]?.string {
                case "text": return ["text": part["text"] ?? ""]
                case "image_url":
                    guard let url = part["image_url"]?["url"]?.string else {
                        throw .invalidParameter("\(param)[\(j)].image_url", "An image part needs 'image_url.url'.")
                    }
                    if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") {
                        let mime = String(url.dropFirst(5).prefix(while: { $0 != ";" }))
                        return ["inlineData": ["mimeType": .string(mime), "data": .string(String(url[url.index(after: comma)...]))]]
                    }
                    return ["fileData": ["mimeType": "image/*", "fileUri": .string(url)]]
                default:
                    throw .invalidParameter("\(param)[\(j)].type", "Content part type '\(part["type"]?.string ?? "?")' is not supported by this model's provider.")
                }
            }
        case nil, .null?: return []
        default: throw .invalidParameter(param, "Content must be a string or an array of parts.")
        }
    }

    // MARK: Response: Gemini → OpenAI

    /// Normalised usage from Gemini's `usageMetadata`: thoughts are output tokens (and reasoning), cached content
    /// is part of the prompt.
    public static func usage(_ m: JSONValue?) -> Usage {
        let thoughts = Usage.count(m?["thoughtsTokenCount"])
        return Usage(promptTokens: Usage.count(m?["promptTokenCount"]), completionTokens: Usage.sum(Usage.count(m?["candidatesTokenCount"]), thoughts),
                     cachedTokens: Usage.count(m?["cachedContentTokenCount"]), reasoningTokens: thoughts)
    }

    public static func openAIUsage(_ u: Usage) -> JSONValue {
        ["prompt_tokens": .int(u.promptTokens), "completion_tokens": .int(u.completionTokens), "total_tokens": .int(u.totalTokens),
         "prompt_tokens_details": ["cached_tokens": .int(u.cachedTokens)], "completion_tokens_details": ["reasoning_tokens": .int(u.reasoningTokens)]]
    }

    public static func finishReason(_ reason: String?, calledTools: Bool) -> JSONValue {
        if calledTools { return "tool_calls" }
        switch reason {
        case nil: return .null
        case "STOP": return "stop"
        case "MAX_TOKENS": return "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": return "content_filter"
        default: return "stop"
        }
    }

    /// Text, reasoning (thought parts) and tool calls of one candidate's parts.
    static func split(_ parts: [JSONValue], callOffset: Int, idPrefix: String) -> (text: String, thoughts: String, calls: [JSONValue]) {
        var text = "", thoughts = "", calls: [JSONValue] = []
        for part in parts {
            if let call = part["functionCall"] {
                let n = callOffset + calls.count
                calls.append(["index": .int(n), "id": .string("call_\(idPrefix)_\(n)"), "type": "function",
                              "function": ["name": call["name"] ?? "", "arguments": .string((call["args"] ?? [:]).jsonText)]])
            } else if let t = part["text"]?.string {
                if part["thought"]?.bool == true { thoughts += t } else { text += t }
            }
        }
        return (text, thoughts, calls)
    }

    public static func response(_ g: JSONValue, model: String, created: Int) -> JSONValue {
        let id = g["responseId"]?.string ?? "gemini"
        let choices: [JSONValue] = (g["candidates"]?.array ?? []).enumerated().map { (i, c) in
            let (text, thoughts, calls) = split(c["content"]?["parts"]?.array ?? [], callOffset: 0, idPrefix: "\(id)_\(i)")
            var message: [String: JSONValue] = ["role": "assistant", "content": text.isEmpty && !calls.isEmpty ? .null : .string(text)]
            if !calls.isEmpty { message["tool_calls"] = .array(calls.map { c in var o = c.object!; o["index"] = nil; return .object(o) }) }
            if !thoughts.isEmpty { message["reasoning_content"] = .string(thoughts) }
            return ["index": .int(c["index"]?.int ?? i), "message": .object(message), "logprobs": nil,
                    "finish_reason": finishReason(c["finishReason"]?.string, calledTools: !calls.isEmpty)]
        }
        return ["id": .string("chatcmpl-" + id), "object": "chat.completion", "created": .int(created),
                "model": .string(g["modelVersion"]?.string ?? model), "choices": .array(choices), "usage": openAIUsage(usage(g["usageMetadata"]))]
    }

    // MARK: Embeddings

    public static func embeddingsRequest(_ o: JSONValue, model: String) throws(GatewayError) -> (body: JSONValue, inputs: [String]) {
        var inputs: [String] = []
        switch o["input"] {
        case .string(let s)?: inputs = [s]
        case .array(let a)?:
            inputs = try a.enumerated().map { (i, v) throws(GatewayError) -> String in
                guard let s = v.string else { throw .invalidParameter("input[\(i)]", "This model's provider embeds text only, not token arrays.") }
                return s
            }
        default: throw .invalidParameter("input", "'input' must be a string or an array of strings.")
        }
        let requests: [JSONValue] = inputs.map { text in
            var r: [String: JSONValue] = ["model": .string("models/" + model), "content": ["parts": [["text": .string(text)]]]]
            if let d = o["dimensions"]?.int { r["outputDimensionality"] = .int(d) }
            return .object(r)
        }
        return (["requests": .array(requests)], inputs)
    }

    /// Gemini's embeddings as OpenAI's, float or base64. Gemini reports no token count for embeddings, so usage is
    /// estimated (about four characters per token).
    public static func embeddingsResponse(_ g: JSONValue, inputs: [String], model: String, base64: Bool) -> JSONValue {
        let data: [JSONValue] = (g["embeddings"]?.array ?? []).enumerated().map { (i, e) in
            let values = (e["values"]?.array ?? []).compactMap(\.number)
            let embedding: JSONValue
            if base64 {
                var bytes = [UInt8]()
                bytes.reserveCapacity(values.count * 4)
                for v in values { withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                embedding = .string(Data(bytes).base64EncodedString())
            } else {
                embedding = .array(values.map { .double($0) })
            }
            return ["object": "embedding", "index": .int(i), "embedding": embedding]
        }
        let tokens = inputs.reduce(0) { $0 + max(1, ($1.unicodeScalars.count + 3) / 4) }
        return ["object": "list", "data": .array(data), "model": .string(model), "usage": ["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)]]
    }
}

/// Turns Gemini's SSE stream (each event a partial GenerateContentResponse, no end marker) into OpenAI chunks; the
/// usage chunk and `[DONE]` follow when the upstream stream ends.
public struct GeminiStreamTranslator: Sendable {
    var events = SSEEventBuffer()
    private let model: String
    private let created: Int
    private var id = "chatcmpl-gemini"
    private var started = false
    private var calls = 0
    private var usage = Usage()
    private var sawFinish = false

    public init(model: String, created: Int) {
        self.model = model
        self.created = created
    }

    /// The end of the upstream stream: the last partial event, then (if the model finished) usage and `[DONE]`.
    /// A stream that ends without a finish reason gets no `[DONE]`, so the gateway reports it as interrupted.
    public mutating func finish() -> ByteBuffer? {
        var out = ByteBuffer()
        if let data = events.finish() { translate(data, into: &out) }
        if sawFinish {
            write(["id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
                   "choices": [], "usage": GeminiTranslation.openAIUsage(usage)], into: &out)
            out.writeString("data: [DONE]\n\n")
        }
        return out.readableBytes > 0 ? out : nil
    }

    mutating func translate(_ data: Data, into out: inout ByteBuffer) {
        guard let g = JSONValue.parse(data) else { return }
        if let e = g["error"] {
            let type = e["status"]?.string ?? "server_error"
            write(["error": ["message": e["message"] ?? "The provider failed.", "type": .string(type), "param": nil, "code": .string(type)]], into: &out)
            return
        }
        if let r = g["responseId"]?.string { id = "chatcmpl-" + r }
        if g["usageMetadata"] != nil { usage = GeminiTranslation.usage(g["usageMetadata"]) }
        guard let candidate = g["candidates"]?.array?.first else { return }
        let (text, thoughts, newCalls) = GeminiTranslation.split(candidate["content"]?["parts"]?.array ?? [], callOffset: calls, idPrefix: id)
        calls += newCalls.count
        var delta: [String: JSONValue] = [:]
        if !started { delta["role"] = "assistant"; started = true }
        if !text.isEmpty { delta["content"] = .string(text) }
        if !thoughts.isEmpty { delta["reasoning_content"] = .string(thoughts) }
        if !newCalls.isEmpty { delta["tool_calls"] = .array(newCalls) }
        let finish = candidate["finishReason"]?.string
        if finish != nil { sawFinish = true }
        if !delta.isEmpty || finish != nil {
            write(["id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
                   "choices": [["index": 0, "delta": .object(delta), "logprobs": nil,
                                "finish_reason": finish == nil ? .null : GeminiTranslation.finishReason(finish, calledTools: calls > 0)]]], into: &out)
        }
    }

    private func write(_ value: JSONValue, into out: inout ByteBuffer) {
        out.writeString("data: ")
        out.writeString(value.jsonText)
        out.writeString("\n\n")
    }
}
