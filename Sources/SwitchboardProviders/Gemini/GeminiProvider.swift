import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

/// `kind: gemini`: Google's Gemini API behind the OpenAI surface (and, through it, the Anthropic one).
/// Chat goes to `models/{model}:generateContent` or `:streamGenerateContent?alt=sse`, embeddings to
/// `:batchEmbedContents`; the key goes as `x-goog-api-key`.
public struct GeminiProvider: Provider {
    public let name: String
    let base: String
    let headers: [(name: String, value: String)]
    let transport: any UpstreamTransport

    public init(name: String, config: GeminiProviderConfig, transport: any UpstreamTransport) {
        self.name = name
        base = (config.baseURL.hasSuffix("/") ? String(config.baseURL.dropLast()) : config.baseURL) + "/v1beta/models/"
        var h: [(name: String, value: String)] = [("content-type", "application/json")]
        if let key = config.apiKey { h.append(AuthHeader.gemini.header(key)) }
        h.append(contentsOf: config.headers)
        headers = h
        self.transport = transport
    }

    public func probe(path: String?, timeout: Duration) async -> ProbeResult {
        let url = probeURL(String(base.dropLast("/v1beta/models/".count)), path ?? "/v1beta/models")
        return await ProbeResult.of(UpstreamRequest(method: "GET", url: url, headers: headers.filter { $0.name != "content-type" }, timeout: timeout),
                                    via: transport)
    }

    /// A chat completion or embeddings request translated to Gemini's API; the answer (whole or streamed) translated back.
    public func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext, adapter: AnswerAdapter?) async -> ProviderOutcome {
        guard let openAI = JSONValue.parse(Data(buffer: request.body)) else {
            return .failure(.refused(.invalidJSON("the body could not be decoded for translation")))
        }
        let model = upstreamModel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? upstreamModel
        let body: JSONValue
        let url: String
        var inputs: [String] = []
        do {
            switch request.endpoint {
            case .chatCompletions:
                body = try GeminiTranslation.request(openAI)
                url = base + model + (request.stream ? ":streamGenerateContent?alt=sse" : ":generateContent")
            case .embeddings:
                (body, inputs) = try GeminiTranslation.embeddingsRequest(openAI, model: upstreamModel)
                url = base + model + ":batchEmbedContents"
            }
        } catch {
            return .failure(.refused(error))
        }
        var h = headers
        h.append(("x-request-id", context.requestID))
        for t in context.traceHeaders { h.append((t.name, t.value)) }
        let created = Int(Date().timeIntervalSince1970)
        let chat = request.endpoint == .chatCompletions
        let base64 = openAI["encoding_format"]?.string == "base64"
        let texts = inputs
        let toOpenAI = AnswerAdapter(wire: .openAI, notAnAnswer: "not JSON", stream: { body in
            UpstreamBody(iterator: { TranslatingIterator(upstream: body.makeAsyncIterator(), translator: GeminiStreamTranslator(model: upstreamModel, created: created)) })
        }, answer: { raw in
            guard let answer = JSONValue.parse(Data(buffer: raw)) else { return nil }
            let translated = chat ? GeminiTranslation.response(answer, model: upstreamModel, created: created)
                                  : GeminiTranslation.embeddingsResponse(answer, inputs: texts, model: upstreamModel, base64: base64)
            return ByteBuffer(string: translated.jsonText)
        })
        let call = UpstreamCall(provider: name, context: context, errors: NamedErrorFormat.gemini, wire: .openAI)
        return await call.run(UpstreamRequest(url: url, headers: h, body: ByteBuffer(string: body.jsonText), timeout: context.timeout,
                                              limits: context.limits, streamResponse: request.stream),
                              via: transport, adapters: [toOpenAI] + (adapter.map { [$0] } ?? []))
    }

    public func sendMessages(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await messagesThroughChat(request, upstreamModel: upstreamModel, context: context)
    }
}
