import SwitchboardCore

/// Responses input items → chat messages, in order. Consecutive `function_call` items (and the assistant message just
/// before them) become one assistant message with `tool_calls`; `function_call_output` items become `tool` messages;
/// `reasoning` items are dropped (another model's reasoning cannot be handed back).
struct ChatMessages {
    private(set) var messages: [JSONValue] = []
    /// The assistant message being built: its text, refusal and tool calls so far (flushed by the next other item).
    private var assistant: [String: JSONValue]?
    private var calls: [JSONValue] = []

    mutating func append(_ message: JSONValue) {
        flush()
        messages.append(message)
    }

    /// Writes the assistant message being built, if any.
    mutating func flush() {
        guard assistant != nil || !calls.isEmpty else { return }
        var message = assistant ?? ["role": "assistant", "content": .null]
        if !calls.isEmpty {
            if message["content"]?.string == "" { message["content"] = .null }
            message["tool_calls"] = .array(calls)
        }
        messages.append(.object(message))
        assistant = nil
        calls = []
    }

    mutating func add(_ items: [JSONValue], path: String) throws(GatewayError) {
        for (i, item) in items.enumerated() {
            let at = "\(path)[\(i)]"
            guard item.object != nil else { throw ResponsesToChat.invalidType(at, item, expected: "an object") }
            let type = try ResponsesToChat.string(item, "type", path: at + ".type") ?? (item["role"] != nil ? "message" : nil)
            switch type {
            case "message": try message(item, at)
            case "function_call":
                guard let callID = try ResponsesToChat.string(item, "call_id", path: at + ".call_id") else { throw .missingParameter(at + ".call_id") }
                guard let name = try ResponsesToChat.string(item, "name", path: at + ".name") else { throw .missingParameter(at + ".name") }
                guard let arguments = try ResponsesToChat.string(item, "arguments", path: at + ".arguments") else { throw .missingParameter(at + ".arguments") }
                calls.append(["id": .string(callID), "type": "function", "function": ["name": .string(name), "arguments": .string(arguments)]])
            case "function_call_output":
                guard let callID = try ResponsesToChat.string(item, "call_id", path: at + ".call_id") else { throw .missingParameter(at + ".call_id") }
                let output: String
                switch item["output"] {
                case .string(let s)?: output = s
                case .array(let parts)?: output = try Self.texts(parts, at + ".output", role: "tool").joined(separator: "\n")
                case nil, .null?: throw .missingParameter(at + ".output")
                case let other?: throw ResponsesToChat.invalidType(at + ".output", other, expected: "a string or an array")
                }
                append(["role": "tool", "tool_call_id": .string(callID), "content": .string(output)])
            case "reasoning":
                continue
            case "item_reference":
                throw .invalidParameter(at + ".type", "Item references are not supported by this model's provider; send the items themselves.")
            case let type?:
                throw .invalidParameter(at + ".type", "Input items of type '\(type)' are not supported by this model's provider.")
            case nil:
                throw .missingParameter(at + ".type")
            }
        }
    }

    private mutating func message(_ item: JSONValue, _ at: String) throws(GatewayError) {
        guard let role = try ResponsesToChat.string(item, "role", path: at + ".role") else { throw .missingParameter(at + ".role") }
        guard ["user", "assistant", "system", "developer"].contains(role) else {
            throw .invalidParameter(at + ".role", "Invalid value for '\(at).role': '\(role)'. Supported values are: 'user', 'assistant', 'system', 'developer'.")
        }
        let parts: [JSONValue]
        switch item["content"] {
        case .string(let s)?: parts = [["type": "text", "text": .string(s)]]
        case .array(let list)?: parts = try Self.parts(list, at + ".content", role: role)
        case nil, .null?: throw .missingParameter(at + ".content")
        case let other?: throw ResponsesToChat.invalidType(at + ".content", other, expected: "a string or an array")
        }
        let texts = parts.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }
        switch role {
        case "assistant":
            flush()
            var message: [String: JSONValue] = ["role": "assistant", "content": .string(texts.joined())]
            let refusals = parts.compactMap { $0["refusal"]?.string }
            if !refusals.isEmpty { message["refusal"] = .string(refusals.joined()) }
            assistant = message         // function calls right after it join it
        case "system", "developer":
            // `developer` is `system` for every chat provider that is not OpenAI's newest models.
            append(["role": "system", "content": .string(texts.joined(separator: "\n"))])
        default:
            let onlyText = parts.count == texts.count
            append(["role": "user", "content": onlyText && parts.count <= 1 ? .string(texts.first ?? "") : .array(parts)])
        }
    }

    /// Content parts in chat's shape: `text`, `image_url`, `file`, and `refusal` parts (assistant only) marked for the
    /// assistant message's `refusal` field.
    private static func parts(_ list: [JSONValue], _ at: String, role: String) throws(GatewayError) -> [JSONValue] {
        try list.enumerated().map { (j, part) throws(GatewayError) -> JSONValue in
            let path = "\(at)[\(j)]"
            guard part.object != nil else { throw ResponsesToChat.invalidType(path, part, expected: "an object") }
            guard let type = try ResponsesToChat.string(part, "type", path: path + ".type") else { throw .missingParameter(path + ".type") }
            switch type {
            case "input_text", "output_text", "text":
                guard let text = try ResponsesToChat.string(part, "text", path: path + ".text") else { throw .missingParameter(path + ".text") }
                return ["type": "text", "text": .string(text)]
            case "refusal" where role == "assistant":
                guard let text = try ResponsesToChat.string(part, "refusal", path: path + ".refusal") else { throw .missingParameter(path + ".refusal") }
                return ["type": "refusal", "refusal": .string(text)]
            case "input_image" where role == "user":
                return try image(part, path)
            case "input_file" where role == "user":
                return try file(part, path)
            default:
                throw .invalidParameter(path + ".type", "Content of type '\(type)' is not supported in a '\(role)' message.")
            }
        }
    }

    /// The texts of a tool output's parts (a chat tool message takes text only).
    private static func texts(_ list: [JSONValue], _ at: String, role: String) throws(GatewayError) -> [String] {
        try parts(list, at, role: role).compactMap { $0["text"]?.string }
    }

    private static func image(_ part: JSONValue, _ path: String) throws(GatewayError) -> JSONValue {
        if let id = part["file_id"], !id.isNull {
            throw .invalidParameter(path + ".file_id", "Images by file id are not supported by this model's provider; send 'image_url' (a URL or a data URL).")
        }
        guard let url = try ResponsesToChat.string(part, "image_url", path: path + ".image_url") else { throw .missingParameter(path + ".image_url") }
        var image: [String: JSONValue] = ["url": .string(url)]
        if let detail = part["detail"]?.string, ["auto", "low", "high"].contains(detail) { image["detail"] = .string(detail) }
        return ["type": "image_url", "image_url": .object(image)]
    }

    private static func file(_ part: JSONValue, _ path: String) throws(GatewayError) -> JSONValue {
        for key in ["file_id", "file_url"] {
            if let v = part[key], !v.isNull {
                throw .invalidParameter("\(path).\(key)", "Files by '\(key)' are not supported by this model's provider; send 'file_data'.")
            }
        }
        guard let data = try ResponsesToChat.string(part, "file_data", path: path + ".file_data") else { throw .missingParameter(path + ".file_data") }
        var file: [String: JSONValue] = ["file_data": .string(data)]
        if let name = try ResponsesToChat.string(part, "filename", path: path + ".filename") { file["filename"] = .string(name) }
        return ["type": "file", "file": .object(file)]
    }
}
