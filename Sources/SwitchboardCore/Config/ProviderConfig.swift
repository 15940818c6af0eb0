import Foundation
// The `providers:` section of the configuration: one entry per upstream, its settings by kind.

/// One entry of `providers:`.
public struct ProviderConfig: Sendable {
    public var name: String
    public var kind: ProviderKind
    /// `region`: a free-form tag (routing by region comes later).
    public var region: String?
    /// `health_check`: active probes (off when nil).
    public var healthCheck: HealthCheckConfig?
    /// `ca_file` (providers that speak HTTP): a PEM file of one or more CA certificates that an `https://` upstream's
    /// certificate must chain to, instead of the system's trust roots (a private CA, a self-signed server).
    public var caFile: String?

    public init(name: String, kind: ProviderKind, region: String? = nil, healthCheck: HealthCheckConfig? = nil, caFile: String? = nil) {
        self.name = name
        self.kind = kind
        self.region = region
        self.healthCheck = healthCheck
        self.caFile = caFile
    }
}

public enum ProviderKind: Sendable {
    case openai(OpenAIProviderConfig)
    case anthropic(AnthropicProviderConfig)
    case azure(AzureProviderConfig)
    case gemini(GeminiProviderConfig)
    case mock(MockProviderConfig)

    public var name: String {
        switch self {
        case .openai: "openai"
        case .anthropic: "anthropic"
        case .azure: "azure"
        case .gemini: "gemini"
        case .mock: "mock"
        }
    }

    public static let names = ["openai", "anthropic", "azure", "gemini", "mock"]
}

/// `kind: gemini` — Google's Gemini API (generateContent).
public struct GeminiProviderConfig: Sendable {
    /// `base_url`; default "https://generativelanguage.googleapis.com" ("/v1beta/models/…" is appended).
    public var baseURL: String
    /// `api_key`, sent as `x-goog-api-key`.
    public var apiKey: String?
    /// `headers`: extra headers sent with every request.
    public var headers: [(name: String, value: String)]

    public init(baseURL: String = "https://generativelanguage.googleapis.com", apiKey: String? = nil, headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
    }
}

/// `kind: azure` — Azure OpenAI. A deployment's `model` is the Azure deployment name.
public struct AzureProviderConfig: Sendable {
    /// `base_url` (required): the resource endpoint, e.g. "https://my-resource.openai.azure.com".
    public var baseURL: String
    /// `api_key`, sent as `api-key`.
    public var apiKey: String?
    /// `api_version`: the `api-version` query parameter; default "2024-10-21".
    public var apiVersion: String
    /// `headers`: extra headers sent with every request.
    public var headers: [(name: String, value: String)]

    public init(baseURL: String, apiKey: String? = nil, apiVersion: String = "2024-10-21", headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.headers = headers
    }
}

/// `kind: anthropic` — Anthropic's Messages API (OpenAI requests are translated both ways).
public struct AnthropicProviderConfig: Sendable {
    /// `base_url`; default "https://api.anthropic.com" ("/v1/messages" is appended).
    public var baseURL: String
    /// `api_key`, sent as `x-api-key`.
    public var apiKey: String?
    /// `version`: the `anthropic-version` header; default "2023-06-01".
    public var version: String
    /// `max_tokens`: used when the client sets none (Anthropic requires one); default 4096.
    public var defaultMaxTokens: Int
    /// `headers`: extra headers sent with every request.
    public var headers: [(name: String, value: String)]

    public init(baseURL: String = "https://api.anthropic.com", apiKey: String? = nil, version: String = "2023-06-01",
                defaultMaxTokens: Int = 4096, headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.version = version
        self.defaultMaxTokens = defaultMaxTokens
        self.headers = headers
    }
}

/// `kind: openai` — any OpenAI-compatible server (OpenAI, OpenRouter, vLLM, Ollama, Groq, …).
public struct OpenAIProviderConfig: Sendable {
    /// `base_url`, e.g. "https://api.openai.com/v1"; paths like "/chat/completions" are appended. Default OpenAI's.
    public var baseURL: String
    /// `api_key`, sent as `Authorization: Bearer`; none when nil (local servers).
    public var apiKey: String?
    /// `headers`: extra headers sent with every request (values may be `env:` references).
    public var headers: [(name: String, value: String)]
    /// `responses_api`: the server speaks OpenAI's Responses API, so `/v1/responses` requests go to it as they are
    /// (true), or they are translated to chat completions (false). Unset: true for OpenAI's own API only.
    public var responsesAPI: Bool?

    public init(baseURL: String = "https://api.openai.com/v1", apiKey: String? = nil, headers: [(name: String, value: String)] = [],
                responsesAPI: Bool? = nil) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
        self.responsesAPI = responsesAPI
    }

    /// Whether `/v1/responses` requests go to the server as they are.
    public var speaksResponses: Bool {
        responsesAPI ?? (URLComponents(string: baseURL)?.host?.lowercased() == "api.openai.com")
    }
}

/// `kind: mock` — a simulated OpenAI-compatible provider, in process.
public struct MockProviderConfig: Sendable, Equatable {
    /// `latency_ms`: delay before the response head (and the whole non-streamed answer).
    public var latencyMs: Int = 0
    /// `ttft_ms`: for streams, delay from the head to the first token.
    public var ttftMs: Int = 0
    /// `tokens_per_s`: generation speed; 0 means instant.
    public var tokensPerSecond: Double = 0
    /// `error_rate`: fraction (0…1) of requests answered with HTTP 500 instead.
    public var errorRate: Double = 0
    /// `seed`: seeds the simulated randomness (error draws, generated text).
    public var seed: UInt64 = 0
    /// `completion_tokens`: tokens generated when the request sets no `max_tokens`/`max_completion_tokens`.
    public var completionTokens: Int = 16
    /// `embedding_dimensions`: length of embedding vectors when the request sets no `dimensions`.
    public var embeddingDimensions: Int = 64
    /// `api`: the wire format the simulated upstream speaks, `openai` (default), `anthropic` or `gemini`.
    public var api: MockAPI = .openai
    /// `reply: echo`: answer with the last user message's text (what the upstream was sent) instead of generated words.
    public var echo = false

    public init() {}
}

public enum MockAPI: String, Sendable, Equatable, CaseIterable {
    case openai, anthropic, gemini
}
