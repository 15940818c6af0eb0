import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

/// `kind: anthropic`: Anthropic's Messages API behind the OpenAI surface. Requests are translated to Messages,
/// answers (plain, streamed, errors) back to OpenAI's wire format, usage with cache reads and writes kept apart.
public struct AnthropicProvider: Provider {
    public let name: String
    let messagesURL: String
    let headers: [(name: String, value: String)]
    let defaultMaxTokens: Int
    let transport: any UpstreamTransport

    public init(name: String, config: AnthropicProviderConfig, transport: any UpstreamTransport) {
        self.name = name
        let base = config.baseURL.hasSuffix("/") ? String(config.baseURL.dropLast()) : config.baseURL
        messagesURL = base + "/v1/messages"
        var h: [(name: String, value: String)] = [("content-type", "application/json"), ("anthropic-version", config.version)]
        if let key = config.apiKey { h.append(AuthHeader.anthropic.header(key)) }
        h.append(contentsOf: config.headers)
        headers = h
        defaultMaxTokens = config.defaultMaxTokens
        self.transport = transport
    }

    public func probe(path: String?, timeout: Duration) async -> ProbeResult {
        let url = probeURL(String(messagesURL.dropLast("/v1/messages".count)), path ?? "/v1/models")
        return await ProbeResult.of(UpstreamRequest(method: "GET", url: url, headers: headers.filter { $0.name != "content-type" }, timeout: timeout),
                                    via: transport)
    }

    /// Every request's headers: the provider's own, the request id, trace context and the client's `anthropic-beta`.
    func requestHeaders(_ context: ProviderCallContext, stream: Bool) -> [(name: String, value: String)] {
        var h = headers
        h.append(("x-request-id", context.requestID))
        for t in context.traceHeaders { h.append((t.name, t.value)) }
        for (name, value) in context.clientHeaders where name == "anthropic-beta" { h.append((name, value)) }
        if stream { h.append(("accept", "text/event-stream")) }
        return h
    }

    func call(_ context: ProviderCallContext) -> UpstreamCall {
        UpstreamCall(provider: name, context: context, errors: NamedErrorFormat.anthropic, wire: .anthropic)
    }

    /// A chat completion translated to a Messages request; the answer (whole or streamed) translated back.
    public func send(_ request: OpenAIRequest, upstreamModel: String, context: ProviderCallContext, adapter: AnswerAdapter?) async -> ProviderOutcome {
        guard request.endpoint == .chatCompletions else {
            return .failure(.refused(GatewayError(.unsupportedEndpoint, "The provider '\(name)' (Anthropic) does not offer embeddings.")))
        }
        guard let openAI = JSONValue.parse(Data(buffer: request.body)) else {
            return .failure(.refused(.invalidJSON("the body could not be decoded for translation")))
        }
        let translated: JSONValue
        do {
            translated = try AnthropicTranslation.request(openAI, model: upstreamModel, defaultMaxTokens: defaultMaxTokens)
        } catch {
            return .failure(.refused(error))
        }
        let created = Int(Date().timeIntervalSince1970)
        let toOpenAI = AnswerAdapter(wire: .openAI, notAnAnswer: "not an Anthropic message", stream: { body in
            UpstreamBody(iterator: { TranslatingIterator(upstream: body.makeAsyncIterator(), translator: AnthropicStreamTranslator(created: created)) })
        }, answer: { raw in
            guard let message = JSONValue.parse(Data(buffer: raw)), message["type"]?.string == "message" else { return nil }
            return ByteBuffer(string: AnthropicTranslation.response(message, created: created).jsonText)
        })
        return await call(context).run(UpstreamRequest(url: messagesURL, headers: requestHeaders(context, stream: request.stream),
                                                       body: ByteBuffer(string: translated.jsonText), timeout: context.timeout,
                                                       limits: context.limits, streamResponse: request.stream),
                                       via: transport, adapters: [toOpenAI] + (adapter.map { [$0] } ?? []))
    }
}

extension AnthropicProvider {
    /// An Anthropic Messages request to Anthropic: the client's bytes go as they are (thinking blocks and their
    /// signatures intact), only `model` rewritten; the answer comes back untouched.
    public func sendMessages(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await call(context).run(UpstreamRequest(url: messagesURL, headers: requestHeaders(context, stream: request.stream),
                                                body: request.upstreamBody(model: upstreamModel), timeout: context.timeout,
                                                limits: context.limits, streamResponse: request.stream),
                                via: transport)
    }

    /// `POST /v1/messages/count_tokens` upstream, with `model` set to the deployment's.
    public func countTokens(_ body: ByteBuffer, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome? {
        let peeked = body.withUnsafeReadableBytes { try? JSONPeek.topLevel($0, keys: [Array("model".utf8)]) }
        let rewritten = peeked.flatMap { $0[0] }.map { JSONPeek.splice(body, [($0.range, JSONString.quote(upstreamModel))]) } ?? body
        return await call(context).run(UpstreamRequest(url: messagesURL + "/count_tokens", headers: requestHeaders(context, stream: false), body: rewritten,
                                                       timeout: context.timeout, limits: context.limits),
                                       via: transport)
    }
}

/// A stream format translator: bytes in as they arrive, translated bytes out.
protocol StreamTranslator: Sendable {
    mutating func feed(_ chunk: ByteBuffer) -> ByteBuffer?
    mutating func finish() -> ByteBuffer?
}

/// A translator that works event by event: it supplies `translate`, the buffering comes with it.
protocol EventTranslator: StreamTranslator {
    var events: SSEEventBuffer { get set }
    mutating func translate(_ data: Data, into out: inout ByteBuffer)
}

extension EventTranslator {
    public mutating func feed(_ chunk: ByteBuffer) -> ByteBuffer? {
        var out = ByteBuffer()
        for data in events.add(chunk) { translate(data, into: &out) }
        return out.readableBytes > 0 ? out : nil
    }

    /// The end of the upstream stream: a final event without its blank line is still translated.
    public mutating func finish() -> ByteBuffer? {
        var out = ByteBuffer()
        if let data = events.finish() { translate(data, into: &out) }
        return out.readableBytes > 0 ? out : nil
    }
}

extension AnthropicStreamTranslator: EventTranslator {}
extension OpenAIToMessagesStream: EventTranslator {}
extension GeminiStreamTranslator: EventTranslator {}     // keeps its own finish(): usage and [DONE] at the end

/// Translates an upstream body chunk by chunk as the client reads it.
struct TranslatingIterator<Translator: StreamTranslator>: AsyncIteratorProtocol {
    var upstream: UpstreamBody.AsyncIterator
    var translator: Translator
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
