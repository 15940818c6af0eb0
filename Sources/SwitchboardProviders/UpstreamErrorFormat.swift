import SwitchboardCore

/// What an upstream's error body says, in its own words (unscrubbed: the reader scrubs them).
public struct UpstreamErrorWords: Sendable, Equatable {
    public var type: String?
    public var code: String?
    public var message: String?
    public var param: String?

    public init(type: String? = nil, code: String? = nil, message: String? = nil, param: String? = nil) {
        self.type = type
        self.code = code
        self.message = message
        self.param = param
    }
}

/// How one provider kind's upstream words its errors, and what they mean for routing. Each kind has its own, next to
/// its provider; routing only ever sees the classification.
public protocol UpstreamErrorFormat: Sendable {
    /// The words of an error body (nil fields: the body does not say).
    func words(in body: JSONValue) -> UpstreamErrorWords
    /// What a 4xx error answer other than 401, 403 and 429 means: a prompt too long, content refused, or the request's fault.
    func classify(status: Int, _ words: UpstreamErrorWords) -> ProviderFailure.Kind
}

extension UpstreamErrorFormat {
    /// `contextTooLong` or `contentRefused` when the code is one of `codes` or the message says one of `marks`
    /// (lower case), else `clientError`.
    func classify(_ words: UpstreamErrorWords, contextCodes: Set<String> = [], contextMarks: [String],
                  contentCodes: [String] = [], contentMarks: [String]) -> ProviderFailure.Kind {
        let code = (words.code ?? "").lowercased()
        let text = (words.message ?? "").lowercased()
        if contextCodes.contains(code) || contextMarks.contains(where: text.contains) { return .contextTooLong }
        if contentCodes.contains(where: code.contains) || contentMarks.contains(where: text.contains) { return .contentRefused }
        return .clientError
    }
}

/// OpenAI's errors, `{"error":{"message","type","param","code"}}`, as OpenAI, Azure and the OpenAI-compatible servers
/// (vLLM, Ollama, TGI, OpenRouter, Groq…) word them.
public struct OpenAIErrorFormat: UpstreamErrorFormat {
    public init() {}

    public func words(in body: JSONValue) -> UpstreamErrorWords {
        let e = body["error"]
        // Some servers send `"error": "text"`, or a numeric code.
        return UpstreamErrorWords(type: e?["type"]?.string, code: e?["code"]?.string ?? e?["code"]?.int.map(String.init),
                                  message: e?["message"]?.string ?? e?.string, param: e?["param"]?.string)
    }

    public func classify(status: Int, _ words: UpstreamErrorWords) -> ProviderFailure.Kind {
        classify(words, contextCodes: ["context_length_exceeded", "string_above_max_length"],
                 contextMarks: ["context length", "context window", "context_length", "prompt is too long", "too many tokens",
                                "maximum number of tokens", "input is too long", "reduce the length"],
                 contentCodes: ["content_filter", "content_policy", "responsibleaipolicyviolation"],
                 contentMarks: ["content management policy", "content policy", "content_filter", "safety system", "flagged", "blocked due to safety",
                                "responsibleaipolicyviolation"])
    }
}

/// Errors whose body names the error in one field of its `error` object and has no code of its own: Anthropic's
/// `{"type":"error","error":{"type","message"}}` (the `type`), Google's `{"error":{"code":400,"message","status"}}`
/// (the `status`). The name serves as type and code.
public struct NamedErrorFormat: UpstreamErrorFormat {
    /// The field of `error` that names it.
    let nameKey: String
    let contextMarks: [String]
    let contentMarks: [String]

    public static let anthropic = NamedErrorFormat(
        nameKey: "type", contextMarks: ["prompt is too long", "context window", "context length", "too many tokens", "input is too long"],
        contentMarks: ["content policy", "usage policy"])
    public static let gemini = NamedErrorFormat(
        nameKey: "status", contextMarks: ["maximum number of tokens", "input token count", "context window", "too many tokens"],
        contentMarks: ["blocked due to safety", "safety settings", "prohibited content"])

    public func words(in body: JSONValue) -> UpstreamErrorWords {
        let name = body["error"]?[nameKey]?.string
        return UpstreamErrorWords(type: name, code: name, message: body["error"]?["message"]?.string)
    }

    public func classify(status: Int, _ words: UpstreamErrorWords) -> ProviderFailure.Kind {
        classify(words, contextMarks: contextMarks, contentMarks: contentMarks)
    }
}
