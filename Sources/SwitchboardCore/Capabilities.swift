/// What a deployment can do. Declared per deployment (`capabilities:`), defaulting per provider kind.
public struct Capabilities: Sendable, Equatable {
    public var tools = true
    public var vision = true
    public var jsonMode = true
    public var streaming = true
    /// Prompt plus output tokens the model accepts; nil when unknown (not checked).
    public var contextWindow: Int?
    /// Largest `max_tokens` the model accepts; nil when unknown (not checked).
    public var maxOutputTokens: Int?

    public init() {}

    /// Every kind the gateway speaks supports tools, images, JSON mode and streaming on its current models; limits
    /// are unknown until declared.
    public static func defaults(for kind: ProviderKind) -> Capabilities { Capabilities() }

    /// The first capability `needs` asks for that this deployment lacks (its config name), or nil.
    public func missing(for needs: RequestNeeds) -> String? {
        if needs.tools && !tools { return "tools" }
        if needs.vision && !vision { return "vision" }
        if needs.jsonMode && !jsonMode { return "json_mode" }
        if needs.streaming && !streaming { return "streaming" }
        if let limit = maxOutputTokens, let asked = needs.maxOutputTokens, asked > limit { return "max_output_tokens" }
        if let window = contextWindow, needs.estimatedPromptTokens + (needs.maxOutputTokens ?? 0) > window { return "context_window" }
        return nil
    }
}

/// What a request needs from the deployment that serves it.
public struct RequestNeeds: Sendable, Equatable {
    public var tools = false
    public var vision = false
    public var jsonMode = false
    public var streaming = false
    public var maxOutputTokens: Int?
    /// A rough count of prompt tokens (about four bytes each), for context-window checks.
    public var estimatedPromptTokens = 0

    /// The largest `max_tokens` a request may ask for (no model comes near it; it keeps token arithmetic far from
    /// overflow).
    public static let maxOutputTokensLimit = 100_000_000

    public init(tools: Bool = false, vision: Bool = false, jsonMode: Bool = false, streaming: Bool = false,
                maxOutputTokens: Int? = nil, estimatedPromptTokens: Int = 0) {
        self.tools = tools
        self.vision = vision
        self.jsonMode = jsonMode
        self.streaming = streaming
        self.maxOutputTokens = maxOutputTokens
        self.estimatedPromptTokens = estimatedPromptTokens
    }

    /// A human description of a capability name, for error messages.
    public static func describe(_ capability: String) -> String {
        switch capability {
        case "tools": "tool calls"
        case "vision": "image inputs"
        case "json_mode": "JSON mode (response_format)"
        case "streaming": "streaming"
        case "max_output_tokens": "this many output tokens"
        case "context_window": "a prompt this long"
        default: capability
        }
    }
}

extension JSONPeek {
    /// Whether the bytes of `value` contain `needle` (a cheap pre-check before any decoding).
    static func contains(_ bytes: UnsafeRawBufferPointer, _ value: Value, _ needle: [UInt8]) -> Bool {
        guard value.range.count >= needle.count, let first = needle.first else { return false }
        var i = value.range.lowerBound
        let end = value.range.upperBound - needle.count
        while i <= end {
            if bytes[i] == first {
                var k = 1
                while k < needle.count, bytes[i + k] == needle[k] { k += 1 }
                if k == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}
