import NIOCore
import SwitchboardCore

/// Per-call facts a provider needs besides the request itself.
public struct ProviderCallContext: Sendable {
    public var requestID: String
    /// Longest wait for the upstream's response head.
    public var timeout: Duration
    /// Client headers a provider may pass on (lower-case names), e.g. `anthropic-beta`.
    public var clientHeaders: [(name: String, value: String)]
    /// The deployment's connect, idle and total limits.
    public var limits: AttemptLimits
    /// W3C trace context for the upstream (`traceparent`, `tracestate`): the attempt's span when tracing is on,
    /// else the client's own, passed on.
    public var traceHeaders: [(name: String, value: String)]
    /// Longest wait for a stream's first chunk, in milliseconds on `clock`, counted from when the request was sent (nil: none).
    public var firstChunkMs: Double?
    public var clock: any EngineClock
    /// Takes credentials out of what the upstream says before anyone sees it.
    public var scrubber: SecretScrubber

    public init(requestID: String, timeout: Duration, clientHeaders: [(name: String, value: String)] = [], limits: AttemptLimits = .init(),
                traceHeaders: [(name: String, value: String)] = [], firstChunkMs: Double? = nil, clock: any EngineClock = SystemEngineClock(),
                scrubber: SecretScrubber = SecretScrubber()) {
        self.requestID = requestID
        self.timeout = timeout
        self.clientHeaders = clientHeaders
        self.limits = limits
        self.traceHeaders = traceHeaders
        self.firstChunkMs = firstChunkMs
        self.clock = clock
        self.scrubber = scrubber
    }
}

/// A model provider: turns a gateway request for one deployment into an upstream call, and the upstream's answer into
/// a typed outcome — a whole answer with its usage, a stream that has begun, or a failure it has classified.
///
/// Providers speak to their upstream only through an `UpstreamTransport`, and own everything about its wire format:
/// translation, auth headers, how its errors are worded and what they mean. `send` answers in OpenAI's wire format,
/// `sendMessages` in Anthropic's, translating when the upstream speaks the other one.
public protocol Provider: Sendable {
    var name: String { get }
    /// A chat completion or embeddings request; the answer in OpenAI's wire format, then through `adapter` when one
    /// is given (how a Messages request is served by a provider that answers chat completions).
    func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext, adapter: AnswerAdapter?) async -> ProviderOutcome
    func sendMessages(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome
    /// A Responses API request; the answer in the Responses API's wire format (by default translated through chat
    /// completions: `responsesThroughChat`).
    func sendResponses(_ request: ResponsesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome
    /// Anthropic's `count_tokens` for a Messages request body, when the provider can count exactly; nil otherwise.
    func countTokens(_ body: ByteBuffer, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome?
    /// An active health probe: GET `path` (default: the provider's model list) with the provider's credentials.
    func probe(path: String?, timeout: Duration) async -> ProbeResult
}

/// What an active health probe found.
public enum ProbeResult: Sendable, Equatable {
    /// The provider answered and accepts the gateway's credentials (any status but 5xx, 401 and 403).
    case up(status: Int)
    /// 5xx, 401/403 (the credentials are refused), a connection error or a timeout.
    case down(reason: String)

    public var isUp: Bool { if case .up = self { true } else { false } }

    /// Sends a probe request and reads (a bounded amount of) its answer.
    static func of(_ request: UpstreamRequest, via transport: any UpstreamTransport) async -> ProbeResult {
        do {
            let response = try await transport.execute(request)
            _ = try? await response.body.collect(upTo: 1 << 20)
            switch response.status {
            case 500...: return .down(reason: "HTTP \(response.status)")
            case 401, 403: return .down(reason: "credentials refused (HTTP \(response.status))")
            default: return .up(status: response.status)
            }
        } catch {
            return .down(reason: error.code.rawValue)
        }
    }
}

/// `base` + `path`, where `path` may carry its own query and `query` is added with the right separator.
func probeURL(_ base: String, _ path: String, query: String? = nil) -> String {
    guard let query else { return base + path }
    return base + path + (path.contains("?") ? "&" : "?") + query
}

extension Provider {
    public func countTokens(_ body: ByteBuffer, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome? { nil }

    public func sendResponses(_ request: ResponsesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await responsesThroughChat(request, upstreamModel: upstreamModel, context: context)
    }

    public func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await send(request, upstreamModel: upstreamModel, context: context, adapter: nil)
    }
}

/// Builds the provider for a configured entry, over `transport` (ignored by kinds that simulate their upstream).
public func makeProvider(_ config: ProviderConfig, transport: any UpstreamTransport) -> any Provider {
    switch config.kind {
    case .openai(let o):
        OpenAICompatibleProvider(name: config.name, baseURL: o.baseURL, apiKey: o.apiKey, headers: o.headers, transport: transport,
                                 speaksResponses: o.speaksResponses)
    case .anthropic(let a):
        AnthropicProvider(name: config.name, config: a, transport: transport)
    case .azure(let a):
        OpenAICompatibleProvider(azure: config.name, config: a, transport: transport)
    case .gemini(let g):
        GeminiProvider(name: config.name, config: g, transport: transport)
    case .mock(let m):
        switch m.api {
        case .openai:
            OpenAICompatibleProvider(name: config.name, baseURL: "http://mock.invalid/v1", apiKey: nil, headers: [],
                                     transport: MockTransport(config: m))
        case .anthropic:
            AnthropicProvider(name: config.name, config: AnthropicProviderConfig(baseURL: "http://mock.invalid"),
                              transport: MockTransport(config: m))
        case .gemini:
            GeminiProvider(name: config.name, config: GeminiProviderConfig(baseURL: "http://mock.invalid"), transport: MockTransport(config: m))
        }
    }
}
