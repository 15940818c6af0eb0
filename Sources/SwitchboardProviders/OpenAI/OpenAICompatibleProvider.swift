import NIOCore
import SwitchboardCore

/// Any server that speaks OpenAI's API: OpenAI, OpenRouter, vLLM, Ollama, Groq, … and the simulated provider.
///
/// The request body goes upstream as the client sent it, with only `model` (and, for streams,
/// `stream_options.include_usage`) rewritten; the provider's key goes as `Authorization: Bearer`.
public struct OpenAICompatibleProvider: Provider {
    public let name: String
    let chatURL: String
    let embeddingsURL: String
    let headers: [(name: String, value: String)]
    let transport: any UpstreamTransport

    public init(name: String, baseURL: String, apiKey: String?, headers extra: [(name: String, value: String)],
                transport: any UpstreamTransport) {
        self.name = name
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        chatURL = base + "/chat/completions"
        embeddingsURL = base + "/embeddings"
        var h: [(name: String, value: String)] = [("content-type", "application/json")]
        if let apiKey { h.append(("authorization", "Bearer \(apiKey)")) }
        h.append(contentsOf: extra)
        headers = h
        self.transport = transport
    }

    public func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext) async throws(UpstreamError) -> UpstreamResponse {
        var h = headers
        h.append(("x-request-id", context.requestID))
        if request.stream { h.append(("accept", "text/event-stream")) }
        let url = request.endpoint == .chatCompletions ? chatURL : embeddingsURL
        return try await transport.execute(UpstreamRequest(url: url, headers: h, body: request.upstreamBody(model: upstreamModel),
                                                           timeout: context.timeout, streamResponse: request.stream))
    }
}
