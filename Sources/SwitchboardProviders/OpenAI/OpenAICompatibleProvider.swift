import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

/// Any server that speaks OpenAI's API: OpenAI, OpenRouter, vLLM, Ollama, Groq, … and the simulated provider.
///
/// The request body goes upstream as the client sent it, with only `model` (and, for streams,
/// `stream_options.include_usage`) rewritten; the provider's key goes as `Authorization: Bearer`.
public struct OpenAICompatibleProvider: Provider {
    /// Where requests go: under a base URL (`/chat/completions`), or Azure's per-deployment URLs.
    enum Endpoints: Sendable {
        case base(chat: String, embeddings: String, responses: String? = nil)
        /// `{base}/openai/deployments/{deployment}/chat/completions?api-version={version}`
        case azure(base: String, apiVersion: String)

        func url(_ endpoint: OpenAIRequest.Endpoint, model: String) -> String {
            switch self {
            case .base(let chat, let embeddings, _):
                return endpoint == .chatCompletions ? chat : embeddings
            case .azure(let base, let version):
                let deployment = model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? model
                let path = endpoint == .chatCompletions ? "chat/completions" : "embeddings"
                return "\(base)/openai/deployments/\(deployment)/\(path)?api-version=\(version)"
            }
        }
    }

    public let name: String
    let endpoints: Endpoints
    let headers: [(name: String, value: String)]
    let transport: any UpstreamTransport

    /// An OpenAI-compatible server at `baseURL`; the key goes as `Authorization: Bearer`. With `speaksResponses`,
    /// Responses API requests go to its `/responses` as they are; otherwise they are translated to chat completions.
    public init(name: String, baseURL: String, apiKey: String?, headers extra: [(name: String, value: String)],
                transport: any UpstreamTransport, speaksResponses: Bool = false) {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.init(name: name, endpoints: .base(chat: base + "/chat/completions", embeddings: base + "/embeddings",
                                               responses: speaksResponses ? base + "/responses" : nil),
                  auth: apiKey.map(AuthHeader.bearer.header), headers: extra, transport: transport)
    }

    /// Azure OpenAI: the deployment's `model` is the Azure deployment name; the key goes as `api-key`.
    public init(azure name: String, config: AzureProviderConfig, transport: any UpstreamTransport) {
        let base = config.baseURL.hasSuffix("/") ? String(config.baseURL.dropLast()) : config.baseURL
        self.init(name: name, endpoints: .azure(base: base, apiVersion: config.apiVersion),
                  auth: config.apiKey.map(AuthHeader.azure.header), headers: config.headers, transport: transport)
    }

    init(name: String, endpoints: Endpoints, auth: (name: String, value: String)?, headers extra: [(name: String, value: String)],
         transport: any UpstreamTransport) {
        self.name = name
        self.endpoints = endpoints
        var h: [(name: String, value: String)] = [("content-type", "application/json")]
        if let auth { h.append(auth) }
        h.append(contentsOf: extra)
        headers = h
        self.transport = transport
    }

    public func probe(path: String?, timeout: Duration) async -> ProbeResult {
        let url: String
        switch endpoints {
        case .base(let chat, _, _): url = probeURL(String(chat.dropLast("/chat/completions".count)), path ?? "/models")
        case .azure(let base, let version): url = probeURL(base, path ?? "/openai/models", query: "api-version=\(version)")
        }
        return await ProbeResult.of(UpstreamRequest(method: "GET", url: url, headers: headers.filter { $0.name != "content-type" }, timeout: timeout),
                                    via: transport)
    }

    public func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext, adapter: AnswerAdapter?) async -> ProviderOutcome {
        let url = endpoints.url(request.endpoint, model: upstreamModel)
        let call = UpstreamCall(provider: name, context: context, errors: OpenAIErrorFormat(), wire: .openAI)
        return await call.run(upstreamRequest(url, request.upstreamBody(model: upstreamModel), stream: request.stream, context),
                              via: transport, adapters: adapter.map { [$0] } ?? [])
    }

    /// A POST of `body` to `url` with the provider's headers, the request id and trace context.
    private func upstreamRequest(_ url: String, _ body: ByteBuffer, stream: Bool, _ context: ProviderCallContext) -> UpstreamRequest {
        var h = headers
        h.append(("x-request-id", context.requestID))
        for t in context.traceHeaders { h.append((t.name, t.value)) }
        if stream { h.append(("accept", "text/event-stream")) }
        return UpstreamRequest(url: url, headers: h, body: body, timeout: context.timeout, limits: context.limits, streamResponse: stream)
    }

    /// To a server that speaks the Responses API: the client's body with only `model` rewritten (and, for a turn the
    /// gateway expanded from stored ones, without `previous_response_id`). Otherwise translated through chat.
    public func sendResponses(_ request: ResponsesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        guard case .base(_, _, let responses?) = endpoints else {
            return await responsesThroughChat(request, upstreamModel: upstreamModel, context: context)
        }
        let call = UpstreamCall(provider: name, context: context, errors: OpenAIErrorFormat(), wire: .responses)
        return await call.run(upstreamRequest(responses, request.upstreamBody(model: upstreamModel), stream: request.stream, context), via: transport)
    }

    public func sendMessages(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await messagesThroughChat(request, upstreamModel: upstreamModel, context: context)
    }
}
