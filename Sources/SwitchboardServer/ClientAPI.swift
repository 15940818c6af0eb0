import NIOCore
import SwitchboardCore
import SwitchboardProviders

/// The API a client speaks: how its requests reach providers and how answers, usage and errors look in it.
/// The gateway's attempt loop and relay are written once over this.
protocol ClientAPI: Sendable {
    associatedtype Request: Sendable
    static func model(_ request: Request) -> String
    /// OpenRouter's `provider` object, when the request has one.
    static func providerPreferences(_ request: Request) -> ProviderPreferences?
    /// The same request for another public model (a routing rule's choice).
    static func renamed(_ request: Request, _ model: String) throws(GatewayError) -> Request
    /// The request's bytes as the client sent them.
    static func body(_ request: Request) -> ByteBuffer
    /// The same request with another body (a guardrail masked its texts).
    static func rebuilt(_ request: Request, body: ByteBuffer) throws(GatewayError) -> Request
    /// The top-level members of the request whose strings are texts (what guardrails read).
    static func textRoots(_ request: Request) -> Set<String>
    /// A conversation (chat completions, messages, responses) rather than embeddings: what prompt-injection scoring reads.
    static func isConversation(_ request: Request) -> Bool
    /// The API's name on review tickets (`openai`, `anthropic`, `responses`).
    static var reviewName: String { get }
    /// The shape of the answers, for the response stages that rewrite their texts (nil: answers hold no text).
    static func answerFormat(_ request: Request) -> AnswerFormat?
    static func isStream(_ request: Request) -> Bool
    /// What the request needs from a deployment.
    static func needs(_ request: Request) -> RequestNeeds
    /// What keeps a conversation on one deployment for `consistent-hash` (the request's user), if anything.
    static func affinityKey(_ request: Request) -> String?
    /// Name of the endpoint, as recorded in the request log.
    static func endpoint(_ request: Request) -> String
    /// Watches (and for OpenAI, trims) the streamed answer.
    static func relay(for request: Request) -> SSERelay
    static func send(_ request: Request, via provider: any Provider, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome
    static func errorBody(_ error: GatewayError) -> String
    /// The last event of a stream that broke after it had started.
    static func streamErrorEvent(_ error: GatewayError) -> String
}

/// OpenAI's chat completions and embeddings.
enum OpenAIAPI: ClientAPI {
    static func model(_ r: OpenAIRequest) -> String { r.model }
    static func renamed(_ r: OpenAIRequest, _ model: String) throws(GatewayError) -> OpenAIRequest { try r.renamed(model) }
    static func providerPreferences(_ r: OpenAIRequest) -> ProviderPreferences? { r.providerPreferences }
    static func body(_ r: OpenAIRequest) -> ByteBuffer { r.body }
    static func rebuilt(_ r: OpenAIRequest, body: ByteBuffer) throws(GatewayError) -> OpenAIRequest { try r.rebuilt(body) }
    static func textRoots(_ r: OpenAIRequest) -> Set<String> { r.endpoint == .chatCompletions ? ["messages"] : ["input"] }
    static func answerFormat(_ r: OpenAIRequest) -> AnswerFormat? { r.endpoint == .chatCompletions ? .openAIChat : nil }
    static func isConversation(_ r: OpenAIRequest) -> Bool { r.endpoint == .chatCompletions }
    static let reviewName = "openai"
    static func isStream(_ r: OpenAIRequest) -> Bool { r.stream }
    static func needs(_ r: OpenAIRequest) -> RequestNeeds { r.needs }
    static func affinityKey(_ r: OpenAIRequest) -> String? { r.user }
    static func endpoint(_ r: OpenAIRequest) -> String { r.endpoint == .chatCompletions ? "chat.completions" : "embeddings" }
    static func relay(for r: OpenAIRequest) -> SSERelay { SSERelay(mode: r.clientWantsUsage ? .passthrough : .stripUsageChunk) }
    static func send(_ r: OpenAIRequest, via provider: any Provider, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await provider.send(r, upstreamModel: upstreamModel, context: context)
    }
    static func errorBody(_ e: GatewayError) -> String { e.openAIBody }
    static func streamErrorEvent(_ e: GatewayError) -> String { "data: \(e.openAIBody)\n\n" }
}

/// Anthropic's Messages API.
enum AnthropicAPI: ClientAPI {
    static func model(_ r: AnthropicMessagesRequest) -> String { r.model }
    static func renamed(_ r: AnthropicMessagesRequest, _ model: String) throws(GatewayError) -> AnthropicMessagesRequest { try r.renamed(model) }
    static func providerPreferences(_ r: AnthropicMessagesRequest) -> ProviderPreferences? { nil }
    static func body(_ r: AnthropicMessagesRequest) -> ByteBuffer { r.body }
    static func rebuilt(_ r: AnthropicMessagesRequest, body: ByteBuffer) throws(GatewayError) -> AnthropicMessagesRequest {
        try AnthropicMessagesRequest.parse(body)
    }
    static func textRoots(_ r: AnthropicMessagesRequest) -> Set<String> { ["system", "messages"] }
    static func answerFormat(_ r: AnthropicMessagesRequest) -> AnswerFormat? { .anthropicMessages }
    static func isConversation(_ r: AnthropicMessagesRequest) -> Bool { true }
    static let reviewName = "anthropic"
    static func isStream(_ r: AnthropicMessagesRequest) -> Bool { r.stream }
    static func needs(_ r: AnthropicMessagesRequest) -> RequestNeeds { r.needs }
    static func affinityKey(_ r: AnthropicMessagesRequest) -> String? { r.user }
    static func endpoint(_ r: AnthropicMessagesRequest) -> String { "messages" }
    static func relay(for r: AnthropicMessagesRequest) -> SSERelay { SSERelay(mode: .passthrough, format: .anthropic) }
    static func send(_ r: AnthropicMessagesRequest, via provider: any Provider, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await provider.sendMessages(r, upstreamModel: upstreamModel, context: context)
    }
    static func errorBody(_ e: GatewayError) -> String { e.anthropicBody }
    static func streamErrorEvent(_ e: GatewayError) -> String { "event: error\ndata: \(e.anthropicBody)\n\n" }
}
