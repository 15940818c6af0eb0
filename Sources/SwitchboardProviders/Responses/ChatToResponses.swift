import Foundation
import SwitchboardCore

/// A chat completion (OpenAI's wire format) → a Responses `response` object, as the official SDK parses it
/// (`openai.types.responses.Response`). Item ids derive from the response id (`msg_<base>_<n>`, `fc_<base>_<n>`
/// for output index n), so the same answer always gives the same object; the stream translator builds the same.
public enum ChatToResponses {
    /// Where a response ended.
    public enum Status: Sendable, Equatable {
        /// Still being produced (the object of `response.created` and `response.in_progress`).
        case inProgress
        /// The upstream finished with this chat `finish_reason`: `completed`, or `incomplete` for `length` and
        /// `content_filter`.
        case finished(finishReason: String?)
        /// The upstream failed; `code` is one of the Responses error codes (`server_error`, `rate_limit_exceeded`).
        case failed(code: String, message: String)
    }

    /// The whole Responses answer for a whole chat completion. `request` is the client's Responses body, for the
    /// settings a response echoes (`instructions`, `tools`, `text`, `previous_response_id`, …).
    public static func response(_ completion: JSONValue, usage: Usage, request: JSONValue, id: String, model: String, createdAt: Int) -> JSONValue {
        let finish = completion["choices"]?.array?.first?["finish_reason"]?.string
        return object(id: id, model: model, createdAt: createdAt, request: request, status: .finished(finishReason: finish),
                      output: outputItems(completion, responseID: id), usage: usage)
    }

    /// The output items of a chat completion: a `message` item (text and refusal) when there is text or no tool
    /// call, then a `function_call` item per tool call. When the answer was cut (`length`, `content_filter`) the
    /// last item is `incomplete`.
    public static func outputItems(_ completion: JSONValue, responseID: String) -> [JSONValue] {
        let choice = completion["choices"]?.array?.first
        let message = choice?["message"]
        let cut = incompleteReason(choice?["finish_reason"]?.string) != nil
        var content: [JSONValue] = []
        let text = messageText(message?["content"])
        let calls = message?["tool_calls"]?.array ?? []
        if !text.isEmpty { content.append(outputText(text)) }
        if let refusal = message?["refusal"]?.string, !refusal.isEmpty { content.append(refusalPart(refusal)) }
        if content.isEmpty && calls.isEmpty { content.append(outputText("")) }
        var items: [JSONValue] = []
        if !content.isEmpty {
            items.append(messageItem(id: itemID("msg", responseID, items.count), content: content, status: "completed"))
        }
        for call in calls {
            let function = call["function"]
            let arguments: String
            switch function?["arguments"] {
            case .string(let s)?: arguments = s.isEmpty ? "{}" : s       // no arguments: an empty object, as the stream ends it
            case nil, .null?: arguments = "{}"
            case let other?: arguments = other.jsonText     // an object where a string belongs: its text
            }
            let n = items.count
            items.append(functionCallItem(id: itemID("fc", responseID, n), callID: call["id"]?.string ?? fallbackCallID(responseID, n),
                                          name: function?["name"]?.string ?? "", arguments: arguments, status: "completed"))
        }
        if cut, var last = items.last?.object {
            last["status"] = "incomplete"
            items[items.count - 1] = .object(last)
        }
        return items
    }

    /// A response object: its own fields, the request's echoed settings, and `output`/`usage` as given.
    public static func object(id: String, model: String, createdAt: Int, request: JSONValue, status: Status, output: [JSONValue], usage: Usage?) -> JSONValue {
        var r: [String: JSONValue] = [
            "id": .string(id), "object": "response", "created_at": .int(createdAt), "model": .string(model),
            "output": .array(output), "usage": usage.map(responsesUsage) ?? .null, "error": .null, "incomplete_details": .null,
            "background": false,
        ]
        switch status {
        case .inProgress:
            r["status"] = "in_progress"
        case .finished(let finish):
            if let reason = incompleteReason(finish) {
                r["status"] = "incomplete"
                r["incomplete_details"] = ["reason": .string(reason)]
            } else {
                r["status"] = "completed"
            }
        case .failed(let code, let message):
            r["status"] = "failed"
            r["error"] = ["code": .string(code), "message": .string(message)]
        }
        // Echoed settings, each only in the type the SDK parses (the request was checked by `ResponsesToChat`).
        let q = request
        r["instructions"] = q["instructions"].flatMap { $0.string != nil || $0.array != nil ? $0 : nil } ?? .null
        r["max_output_tokens"] = q["max_output_tokens"]?.int.map(JSONValue.int) ?? .null
        r["temperature"] = q["temperature"]?.number.map(JSONValue.double) ?? .null
        r["top_p"] = q["top_p"]?.number.map(JSONValue.double) ?? .null
        r["tools"] = .array((q["tools"]?.array ?? []).compactMap(echoedTool))
        r["tool_choice"] = q["tool_choice"].flatMap { $0.string != nil || $0.object != nil ? $0 : nil } ?? "auto"
        r["text"] = q["text"]?.object != nil ? q["text"] : ["format": ["type": "text"]]
        r["reasoning"] = q["reasoning"]?.object != nil ? q["reasoning"] : ["effort": nil, "summary": nil]
        r["metadata"] = q["metadata"]?.object != nil ? q["metadata"] : [:]
        r["parallel_tool_calls"] = .bool(q["parallel_tool_calls"]?.bool ?? true)
        r["previous_response_id"] = q["previous_response_id"]?.string.map(JSONValue.string) ?? .null
        r["store"] = .bool(q["store"]?.bool ?? true)
        r["truncation"] = q["truncation"]?.string == "auto" ? "auto" : "disabled"
        r["user"] = q["user"]?.string.map(JSONValue.string) ?? .null
        for key in ["safety_identifier", "prompt_cache_key"] {
            if let s = q[key]?.string { r[key] = .string(s) }
        }
        return .object(r)
    }

    /// The Responses `incomplete_details.reason` for a chat finish reason; nil when the answer is complete.
    public static func incompleteReason(_ finish: String?) -> String? {
        switch finish {
        case "length": "max_output_tokens"
        case "content_filter": "content_filter"
        default: nil
        }
    }

    /// Responses' usage object. `input_tokens` counts every input token (cached and cache writes included, as in
    /// OpenAI's); usage that is not plausible stays so (`input_tokens` -1), so the gateway refuses it.
    public static func responsesUsage(_ u: Usage) -> JSONValue {
        let input = u.isPlausible ? u.promptTokens : Usage.invalidCount
        return ["input_tokens": .int(input),
                "input_tokens_details": ["cached_tokens": .int(u.cachedTokens), "cache_write_tokens": .int(u.cacheWriteTokens)],
                "output_tokens": .int(u.completionTokens), "output_tokens_details": ["reasoning_tokens": .int(u.reasoningTokens)],
                "total_tokens": .int(u.isPlausible ? u.totalTokens : Usage.invalidCount)]
    }

    // MARK: Items

    /// An output item's id: `<prefix>_<base>_<index>` with base the response id without `resp_`.
    static func itemID(_ prefix: String, _ responseID: String, _ index: Int) -> String {
        let base = responseID.hasPrefix("resp_") ? responseID.dropFirst(5) : Substring(responseID)
        return "\(prefix)_\(base)_\(index)"
    }

    /// A call id for a tool call the upstream sent without one (unique per output index, as the SDK requires).
    static func fallbackCallID(_ responseID: String, _ index: Int) -> String { itemID("call", responseID, index) }

    static func outputText(_ text: String) -> JSONValue {
        ["type": "output_text", "text": .string(text), "annotations": [], "logprobs": []]
    }

    static func refusalPart(_ text: String) -> JSONValue { ["type": "refusal", "refusal": .string(text)] }

    static func messageItem(id: String, content: [JSONValue], status: String) -> JSONValue {
        ["type": "message", "id": .string(id), "status": .string(status), "role": "assistant", "content": .array(content)]
    }

    static func functionCallItem(id: String, callID: String, name: String, arguments: String, status: String) -> JSONValue {
        ["type": "function_call", "id": .string(id), "call_id": .string(callID), "name": .string(name),
         "arguments": .string(arguments), "status": .string(status)]
    }

    /// A chat message's text: the string, or the text parts of an array joined.
    static func messageText(_ content: JSONValue?) -> String {
        switch content {
        case .string(let s)?: s
        case .array(let parts)?: parts.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }.joined()
        default: ""
        }
    }

    /// A request's function tool as a response echoes it (`FunctionTool`: name, parameters, strict, description).
    private static func echoedTool(_ tool: JSONValue) -> JSONValue? {
        guard tool["type"]?.string == "function", let name = tool["name"]?.string else { return nil }
        var t: [String: JSONValue] = ["type": "function", "name": .string(name),
                                      "parameters": tool["parameters"].flatMap { $0.object != nil ? $0 : nil } ?? .null,
                                      "strict": tool["strict"]?.bool.map(JSONValue.bool) ?? .null]
        if let d = tool["description"]?.string { t["description"] = .string(d) }
        return .object(t)
    }
}
