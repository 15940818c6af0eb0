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
        case base(chat: String, embeddings: String)
        /// `{base}/openai/deployments/{deployment}/chat/completions?api-version={version}`
        case azure(base: String, apiVersion: String)

        func url(_ endpoint: OpenAIRequest.Endpoint, model: String) -> String {
            switch self {
            case .base(let chat, let embeddings):
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

    /// An OpenAI-compatible server at `baseURL`; the key goes as `Authorization: Bearer`.
    public init(name: String, baseURL: String, apiKey: String?, headers extra: [(name: String, value: String)],
                transport: any UpstreamTransport) {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.init(name: name, endpoints: .base(chat: base + "/chat/completions", embeddings: base + "/embeddings"),
                  auth: apiKey.map { ("authorization", "Bearer \($0)") }, headers: extra, transport: transport)
    }

    /// Azure OpenAI: the deployment's `model` is the Azure deployment name; the key goes as `api-key`.
    public init(azure name: String, config: AzureProviderConfig, transport: any UpstreamTransport) {
        let base = config.baseURL.hasSuffix("/") ? String(config.baseURL.dropLast()) : config.baseURL
        self.init(name: name, endpoints: .azure(base: base, apiVersion: config.apiVersion),
                  auth: config.apiKey.map { ("api-key", $0) }, headers: config.headers, transport: transport)
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

    public func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext) async throws(UpstreamError) -> UpstreamResponse {
        var h = headers
        h.append(("x-request-id", context.requestID))
        if request.stream { h.append(("accept", "text/event-stream")) }
        let url = endpoints.url(request.endpoint, model: upstreamModel)
        return try await transport.execute(UpstreamRequest(url: url, headers: h, body: request.upstreamBody(model: upstreamModel),
                                                           timeout: context.timeout, streamResponse: request.stream))
    }

    /// An Anthropic Messages request, translated to a chat completion and its answer back to Anthropic's format.
    public func sendMessages(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async throws(UpstreamError) -> UpstreamResponse {
        let chat: OpenAIRequest
        do {
            guard let anthropic = JSONValue.parse(Data(buffer: request.body)) else {
                throw GatewayError.invalidJSON("the body could not be decoded for translation")
            }
            chat = try OpenAIRequest.chat(ByteBuffer(string: MessagesToOpenAI.request(anthropic).jsonText))
        } catch let error as GatewayError {
            return .anthropicError(error)
        } catch {
            return .anthropicError(.internalError("translation failed"))
        }
        let upstream = try await send(chat, upstreamModel: upstreamModel, context: context)
        if upstream.status >= 400 {
            let raw = try? await upstream.body.collect(upTo: 1 << 20)
            var headers: [(name: String, value: String)] = [("content-type", "application/json")]
            if let retry = upstream.header("retry-after") { headers.append(("retry-after", retry)) }
            let body = MessagesToOpenAI.error(raw.flatMap { JSONValue.parse(Data(buffer: $0)) }, status: upstream.status)
            return UpstreamResponse(status: upstream.status, headers: headers, body: UpstreamBody(ByteBuffer(string: body)))
        }
        let model = request.model
        if request.stream {
            return UpstreamResponse(status: upstream.status, headers: [("content-type", "text/event-stream")], body: UpstreamBody(iterator: {
                OpenAIToMessagesIterator(upstream: upstream.body.makeAsyncIterator(), translator: OpenAIToMessagesStream(model: model))
            }))
        }
        let raw: ByteBuffer
        do {
            raw = try await upstream.body.collect(upTo: 64 << 20)
        } catch {
            throw HTTPClientTransport.classify(error)
        }
        guard let completion = JSONValue.parse(Data(buffer: raw)) else {
            return .anthropicError(.upstreamBadResponse(provider: name, "not a chat completion"))
        }
        let usage = Usage.inOpenAIResponse(raw) ?? Usage()
        return UpstreamResponse(status: 200, headers: [("content-type", "application/json")],
                                body: UpstreamBody(ByteBuffer(string: MessagesToOpenAI.response(completion, usage: usage, model: model).jsonText)))
    }
}

/// Translates an OpenAI chunk stream into Anthropic events as the client reads it.
struct OpenAIToMessagesIterator: AsyncIteratorProtocol {
    var upstream: UpstreamBody.AsyncIterator
    var translator: OpenAIToMessagesStream
    var done = false

    mutating func next() async throws -> ByteBuffer? {
        while !done {
            guard let chunk = try await upstream.next() else {
                done = true
                return translator.finish()
            }
            if let out = translator.feed(chunk) { return out }
        }
        return nil
    }
}
