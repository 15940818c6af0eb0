import SwitchboardCore

/// OpenAI Responses clients (`POST /v1/responses`) served by deployments that answer chat completions: the request
/// is translated to a chat completion here; the answer comes back through `ChatToResponses` (whole) or
/// `ChatToResponsesStream` (streamed).
///
/// Written from the Responses API reference and the types of the official `openai` Python SDK
/// (`openai/types/responses/`). The body must already be complete: `previous_response_id` expanded into `input` by
/// the caller. What a chat completion cannot carry is refused with a 400 naming the field (built-in tools, stored
/// files, item references); what only concerns the gateway (`store`, `previous_response_id`, `background`,
/// `include`, `truncation`, `service_tier`) is left to the caller and not sent upstream.
public enum ResponsesToChat {
    /// A Responses request body → a chat-completions body without `model` (the caller sets it, with
    /// `OpenAIRequest.translated`).
    public static func request(_ body: JSONValue) throws(GatewayError) -> JSONValue {
        guard let r = body.object else { throw invalidType("body", body, expected: "an object") }
        var messages = ChatMessages()
        switch r["instructions"] {
        case nil, .null?: break
        case .string(let s)?: messages.append(["role": "system", "content": .string(s)])
        case .array(let items)?: try messages.add(items, path: "instructions")
        case let other?: throw invalidType("instructions", other, expected: "a string or an array")
        }
        switch r["input"] {
        case nil, .null?: break
        case .string(let s)?: messages.append(["role": "user", "content": .string(s)])
        case .array(let items)?: try messages.add(items, path: "input")
        case let other?: throw invalidType("input", other, expected: "a string or an array")
        }
        messages.flush()
        guard !messages.messages.isEmpty else { throw .missingParameter("input") }
        if let prompt = r["prompt"], !prompt.isNull {
            throw .invalidParameter("prompt", "Stored prompts ('prompt') are not supported by this model's provider; send 'instructions' and 'input'.")
        }

        var chat: [String: JSONValue] = ["messages": .array(messages.messages)]
        // Anthropic's and Gemini's translators and the mock read `max_completion_tokens` (then `max_tokens`); OpenAI's
        // reasoning models accept only it.
        if let n = try integer(r, "max_output_tokens", 1...RequestNeeds.maxOutputTokensLimit) { chat["max_completion_tokens"] = .int(n) }
        if let t = try number(r, "temperature", 0...2) { chat["temperature"] = .double(t) }
        if let p = try number(r, "top_p", 0...1) { chat["top_p"] = .double(p) }
        // `safety_identifier` is the newer name of `user`; downstream translators read `user`.
        if let user = try string(r, "user") {
            chat["user"] = .string(user)
        } else if let id = try string(r, "safety_identifier") {
            chat["user"] = .string(id)
        }
        // `metadata` is checked (it is echoed in the response) but not sent: chat completions accept it only with
        // `store: true` on OpenAI, and other providers reject it.
        if let m = r["metadata"], !m.isNull {
            guard let o = m.object else { throw invalidType("metadata", m, expected: "an object") }
            for (key, value) in o where value.string == nil { throw invalidType("metadata.\(key)", value, expected: "a string") }
        }
        if let reasoning = r["reasoning"], !reasoning.isNull {
            guard reasoning.object != nil else { throw invalidType("reasoning", reasoning, expected: "an object") }
            // `summary` has no chat equivalent: reasoning summaries are not produced.
            if let effort = try string(reasoning, "effort", path: "reasoning.effort") { chat["reasoning_effort"] = .string(effort) }
        }
        if let format = try responseFormat(r["text"]) { chat["response_format"] = format }
        if let tools = try tools(r["tools"]) {
            let (choice, allowed) = try toolChoice(r["tool_choice"])
            let sent = allowed.map { names in tools.filter { names.contains($0["function"]?["name"]?.string ?? "") } } ?? tools
            // Chat completions refuse `tool_choice` and `parallel_tool_calls` without tools.
            if !sent.isEmpty {
                chat["tools"] = .array(sent)
                if let choice { chat["tool_choice"] = choice }
                if let parallel = try bool(r, "parallel_tool_calls") { chat["parallel_tool_calls"] = .bool(parallel) }
            }
        } else {
            _ = try toolChoice(r["tool_choice"])
        }
        if try bool(r, "stream") == true {
            chat["stream"] = true
            chat["stream_options"] = ["include_usage": true]
        }
        return .object(chat)
    }

    // MARK: Tools

    /// Function tools in chat's nested shape; nil when the request has none. Built-in tools are refused: the
    /// upstream cannot run them.
    static func tools(_ value: JSONValue?) throws(GatewayError) -> [JSONValue]? {
        guard let value, !value.isNull else { return nil }
        guard let list = value.array else { throw invalidType("tools", value, expected: "an array") }
        return try list.enumerated().map { (i, tool) throws(GatewayError) -> JSONValue in
            let path = "tools[\(i)]"
            guard tool.object != nil else { throw invalidType(path, tool, expected: "an object") }
            guard let type = tool["type"]?.string else { throw .missingParameter(path + ".type") }
            guard type == "function" else {
                throw .invalidParameter(path + ".type", "The built-in tool '\(type)' is not available on this model's provider; only function tools can be used.")
            }
            guard let name = try string(tool, "name", path: path + ".name") else { throw .missingParameter(path + ".name") }
            var f: [String: JSONValue] = ["name": .string(name)]
            if let d = try string(tool, "description", path: path + ".description") { f["description"] = .string(d) }
            if let p = tool["parameters"], !p.isNull {
                guard p.object != nil else { throw invalidType(path + ".parameters", p, expected: "an object") }
                f["parameters"] = p
            }
            if let strict = try bool(tool, "strict", path: path + ".strict") { f["strict"] = .bool(strict) }
            return ["type": "function", "function": .object(f)]
        }
    }

    /// Chat's `tool_choice`, and for `allowed_tools` the names of the tools to send (the others are left out).
    static func toolChoice(_ value: JSONValue?) throws(GatewayError) -> (choice: JSONValue?, allowed: Set<String>?) {
        switch value {
        case nil, .null?: return (nil, nil)
        case .string(let s)? where ["auto", "none", "required"].contains(s): return (.string(s), nil)
        case .string(let s)?: throw .invalidParameter("tool_choice", "Invalid value for 'tool_choice': '\(s)'. Supported values are: 'auto', 'none', 'required'.")
        case .object(let o)?:
            switch o["type"]?.string {
            case "function":
                guard let name = o["name"]?.string else { throw .missingParameter("tool_choice.name") }
                return (["type": "function", "function": ["name": .string(name)]], nil)
            case "allowed_tools":
                guard let mode = o["mode"]?.string, mode == "auto" || mode == "required" else {
                    throw .invalidParameter("tool_choice.mode", "'tool_choice.mode' must be 'auto' or 'required'.")
                }
                guard let list = o["tools"]?.array else { throw .missingParameter("tool_choice.tools") }
                var names = Set<String>()
                for (i, tool) in list.enumerated() {
                    guard tool["type"]?.string == "function", let name = tool["name"]?.string else {
                        throw .invalidParameter("tool_choice.tools[\(i)]", "Only function tools can be allowed on this model's provider.")
                    }
                    names.insert(name)
                }
                return (.string(mode), names)
            case let type?:
                throw .invalidParameter("tool_choice.type", "The built-in tool '\(type)' is not available on this model's provider; only function tools can be chosen.")
            case nil:
                throw .missingParameter("tool_choice.type")
            }
        case let other?: throw invalidType("tool_choice", other, expected: "a string or an object")
        }
    }

    /// `text.format` → chat's `response_format` (nil for plain text). `text.verbosity` has no chat equivalent
    /// downstream translators understand, and is dropped.
    static func responseFormat(_ text: JSONValue?) throws(GatewayError) -> JSONValue? {
        guard let text, !text.isNull else { return nil }
        guard text.object != nil else { throw invalidType("text", text, expected: "an object") }
        guard let format = text["format"], !format.isNull else { return nil }
        guard format.object != nil else { throw invalidType("text.format", format, expected: "an object") }
        switch format["type"]?.string {
        case "text": return nil
        case "json_object": return ["type": "json_object"]
        case "json_schema":
            guard let name = try string(format, "name", path: "text.format.name") else { throw .missingParameter("text.format.name") }
            guard let schema = format["schema"], !schema.isNull else { throw .missingParameter("text.format.schema") }
            guard schema.object != nil else { throw invalidType("text.format.schema", schema, expected: "an object") }
            var spec: [String: JSONValue] = ["name": .string(name), "schema": schema]
            if let strict = try bool(format, "strict", path: "text.format.strict") { spec["strict"] = .bool(strict) }
            if let d = try string(format, "description", path: "text.format.description") { spec["description"] = .string(d) }
            return ["type": "json_schema", "json_schema": .object(spec)]
        case let type?: throw .invalidParameter("text.format.type", "Invalid value for 'text.format.type': '\(type)'. Supported values are: 'text', 'json_object', 'json_schema'.")
        case nil: throw .missingParameter("text.format.type")
        }
    }

    // MARK: Checked fields

    static func invalidType(_ path: String, _ value: JSONValue, expected: String) -> GatewayError {
        .invalidParameter(path, "Invalid type for '\(path)': expected \(expected), but got \(kind(value)).")
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// `object[key]` as a string; nil when absent or null.
    static func string(_ object: JSONValue, _ key: String, path: String? = nil) throws(GatewayError) -> String? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let s = v.string else { throw invalidType(path ?? key, v, expected: "a string") }
        return s
    }

    static func bool(_ object: JSONValue, _ key: String, path: String? = nil) throws(GatewayError) -> Bool? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let b = v.bool else { throw invalidType(path ?? key, v, expected: "a boolean") }
        return b
    }

    static func number(_ object: [String: JSONValue], _ key: String, _ range: ClosedRange<Double>) throws(GatewayError) -> Double? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let n = v.number else { throw invalidType(key, v, expected: "a number") }
        guard range.contains(n) else {
            throw .invalidParameter(key, "Invalid '\(key)': must be from \(formatted(range.lowerBound)) to \(formatted(range.upperBound)).")
        }
        return n
    }

    static func integer(_ object: [String: JSONValue], _ key: String, _ range: ClosedRange<Int>) throws(GatewayError) -> Int? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let n = v.int, range.contains(n) else {
            throw .invalidParameter(key, "Invalid '\(key)': must be an integer from \(range.lowerBound) to \(range.upperBound).")
        }
        return n
    }

    private static func string(_ object: [String: JSONValue], _ key: String) throws(GatewayError) -> String? {
        try string(.object(object), key)
    }

    private static func bool(_ object: [String: JSONValue], _ key: String) throws(GatewayError) -> Bool? {
        try bool(.object(object), key)
    }

    private static func formatted(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }
}
