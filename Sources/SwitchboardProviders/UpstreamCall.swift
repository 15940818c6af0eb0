import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

/// How an answer in one API becomes an answer in another: a stream chunk by chunk, a whole answer at once.
public struct AnswerAdapter: Sendable {
    /// The API answers are in once adapted: how a whole answer's usage is read.
    public var wire: AnswerWire
    /// The stream, translated as it arrives.
    public var stream: @Sendable (UpstreamBody) -> UpstreamBody
    /// A whole answer, translated (nil: it is not an answer of the kind expected).
    public var answer: @Sendable (ByteBuffer) -> ByteBuffer?
    /// What a whole answer that cannot be translated is not ("not an Anthropic message").
    public var notAnAnswer: String

    public init(wire: AnswerWire, notAnAnswer: String, stream: @escaping @Sendable (UpstreamBody) -> UpstreamBody,
                answer: @escaping @Sendable (ByteBuffer) -> ByteBuffer?) {
        self.wire = wire
        self.notAnAnswer = notAnAnswer
        self.stream = stream
        self.answer = answer
    }
}

/// The wire format of an answer, for reading its usage.
public enum AnswerWire: Sendable {
    case openAI, anthropic, responses

    func usage(_ body: ByteBuffer) throws(JSONPeek.SyntaxError) -> Usage? {
        switch self {
        case .openAI: try Usage.checkedAnswer(body, usage: Usage.openAIUsageObject)
        case .anthropic: try Usage.checkedAnswer(body, usage: Usage.anthropicUsageObject)
        case .responses: try Usage.checkedAnswer(body, usage: Usage.responsesUsageObject)
        }
    }
}

/// One call to an upstream and the reading of its answer into an outcome — the same for every provider kind. A kind
/// brings how its upstream words errors and, when it translates, how its answers become the client's API.
///
/// What an upstream sends is untrusted: a redirect, compressed bytes or a stream that is not `text/event-stream` are
/// failures; error texts are scrubbed of credentials and bounded; a whole answer must be one JSON object with
/// plausible usage; a stream must bring its first chunk within the first-token limit.
struct UpstreamCall {
    let provider: String
    let context: ProviderCallContext
    let errors: any UpstreamErrorFormat
    /// The API the upstream answers in.
    let wire: AnswerWire

    /// Largest whole answer read.
    static let maxAnswerBytes = 64 << 20

    /// Sends `request` and reads what comes back; `adapters` translate the answer in order.
    nonisolated(nonsending) func run(_ request: UpstreamRequest, via transport: any UpstreamTransport, adapters: [AnswerAdapter] = []) async -> ProviderOutcome {
        let sent = context.clock.nowMs()
        let upstream: UpstreamResponse
        do {
            upstream = try await transport.execute(request)
        } catch {
            return .failure(.transport(error, provider: provider, seconds: context.timeout.seconds))
        }
        // A 2xx is checked without a suspension (its check reads no body).
        let failure = (200..<300).contains(upstream.status)
            ? answerProblem(upstream, stream: request.streamResponse) : await failure(of: upstream, stream: request.streamResponse)
        if let failure { return .failure(failure) }
        if request.streamResponse {
            var body = upstream.body
            for a in adapters { body = a.stream(body) }
            let rest = UpstreamStream(body.makeAsyncIterator())
            // Commit point: the first chunk is read before answering, so a failure up to here is still retried.
            do {
                let first: ByteBuffer?
                if let limit = context.firstChunkMs {
                    first = try await rest.next(within: max(limit - (context.clock.nowMs() - sent), 1), on: context.clock)
                } else {
                    first = try await rest.next()
                }
                return .stream(contentType: adapters.isEmpty ? upstream.header("content-type") : "text/event-stream", first: first, rest: rest)
            } catch {
                let seconds = context.firstChunkMs.map { $0 / 1000 } ?? context.timeout.seconds
                return .failure(.transport(HTTPClientTransport.classify(error), provider: provider, seconds: seconds))
            }
        }
        var body: ByteBuffer
        do {
            body = try await upstream.body.collect(upTo: Self.maxAnswerBytes)
        } catch {
            let failure = HTTPClientTransport.classify(error)
            if failure.code == .responseTooLarge {
                // The request asked for too much (200,000 embeddings): not the deployment's fault, not retried.
                return .failure(ProviderFailure(.clientError, .upstreamBadResponse(provider: provider, "the response is larger than \(Self.maxAnswerBytes >> 20) MiB")))
            }
            return .failure(.transport(failure, provider: provider, seconds: context.limits.total?.seconds ?? context.timeout.seconds))
        }
        for a in adapters {
            guard let translated = a.answer(body) else { return .failure(.badAnswer(provider: provider, a.notAnAnswer)) }
            body = translated
        }
        // One JSON object (checked while its usage is read), and its usage plausible (it is billed).
        let usage: Usage?
        do {
            usage = try (adapters.last?.wire ?? wire).usage(body)
        } catch {
            return .failure(.badAnswer(provider: provider, "the body is not a JSON object"))
        }
        if let usage, !usage.isPlausible { return .failure(.badAnswer(provider: provider, "its token usage is not plausible")) }
        return .answer(body, usage: usage)
    }

    /// Why a 2xx from `upstream` cannot be relayed, if it cannot.
    private func answerProblem(_ upstream: UpstreamResponse, stream: Bool) -> ProviderFailure? {
        Self.framingProblem(upstream, stream: stream).map { .badAnswer(provider: provider, $0) }
    }

    /// Why `upstream`'s answer is no answer, if it is not: its status, or a 2xx that cannot be relayed.
    func failure(of upstream: UpstreamResponse, stream: Bool) async -> ProviderFailure? {
        switch upstream.status {
        case 200..<300:
            return answerProblem(upstream, stream: stream)
        case 300..<400:
            // Redirects are not followed (a provider's URL is configured), and never relayed.
            return .badAnswer(provider: provider, "it answered with a redirect (HTTP \(upstream.status))")
        case 401, 403:
            // The provider refused the gateway's own credentials: never echo its message (it may quote part of the
            // provider key) and never blame the client's key.
            return ProviderFailure(.authRejected, .upstreamAuthFailed(provider: provider, status: upstream.status))
        default:
            let (error, words) = await errorAnswer(upstream)
            switch upstream.status {
            case 429: return ProviderFailure(.rateLimited(retryAfterMs: Self.retryAfterMs(upstream)), error)
            case 400..<500: return ProviderFailure(errors.classify(status: upstream.status, words), error)
            default: return ProviderFailure(.failed, error)
            }
        }
    }

    /// The client's error for an upstream error status: 4xx keep their status, 5xx become 502; the upstream's own
    /// message (and on a 4xx its type, code and param) kept — after every provider key and anything credential-shaped
    /// has been taken out (an upstream may quote the key it got).
    func errorAnswer(_ upstream: UpstreamResponse) async -> (GatewayError, UpstreamErrorWords) {
        var error = GatewayError.upstreamStatus(provider: provider, status: upstream.status)
        if let text = upstream.header("retry-after"), let seconds = Int(text), (0...86_400).contains(seconds) { error.retryAfterSeconds = seconds }
        guard let body = try? await upstream.body.collect(upTo: 1 << 20), let json = JSONValue.parse(Data(buffer: body)) else { return (error, .init()) }
        let words = errors.words(in: json)
        let scrubber = context.scrubber
        if let m = words.message {
            let message = scrubber.field(m, limit: 2000)
            error.message = upstream.status >= 500 ? "The upstream provider '\(provider)' failed: \(message)" : message
        }
        if upstream.status < 500 {
            error.upstream?.type = words.type.map { scrubber.field($0, limit: 64) }
            error.upstream?.code = words.code.map { scrubber.field($0, limit: 64) }
            error.param = words.param.map { scrubber.field($0, limit: 200) }
        }
        return (error, words)
    }

    /// Why a 2xx answer's head cannot be relayed as it is, if it cannot: a stream must be `text/event-stream` and
    /// nothing may be compressed (the gateway reads the bytes). A whole answer's body is checked itself (one JSON
    /// object), whatever type it claims: some OpenAI-compatible servers label JSON `text/plain`.
    static func framingProblem(_ upstream: UpstreamResponse, stream: Bool) -> String? {
        if let encoding = upstream.header("content-encoding"), !encoding.isEmpty, encoding.lowercased() != "identity" {
            return "the body is compressed (content-encoding \(String(encoding.prefix(40))))"
        }
        guard stream, let type = upstream.header("content-type")?.lowercased() else { return nil }
        return type.hasPrefix("text/event-stream") ? nil : "a stream was asked for, but the answer is \(String(type.prefix(60)))"
    }

    /// `Retry-After` (seconds) or `retry-after-ms` of an upstream answer, in milliseconds.
    /// Untrusted like the rest of the answer: only finite values from 0 to one day are taken.
    static func retryAfterMs(_ upstream: UpstreamResponse) -> Double? {
        let ms = upstream.header("retry-after-ms").flatMap(Double.init) ?? upstream.header("retry-after").flatMap(Double.init).map { $0 * 1000 }
        guard let ms, ms.isFinite, (0...86_400_000).contains(ms) else { return nil }
        return ms
    }
}

extension ProviderFailure {
    /// A transport's failure: the upstream could not be reached, timed out or sent too much.
    public static func transport(_ error: UpstreamError, provider: String, seconds: Double) -> ProviderFailure {
        switch error.code {
        case .timeout: ProviderFailure(.failed, .upstreamTimeout(provider: provider, seconds: seconds))
        case .connectFailed, .connectionClosed, .other: ProviderFailure(.failed, .upstreamUnreachable(provider: provider))
        case .responseTooLarge: ProviderFailure(.failed, .upstreamBadResponse(provider: provider, "the response is too large"))
        }
    }

    /// An answer that cannot be relayed.
    static func badAnswer(provider: String, _ detail: String) -> ProviderFailure {
        ProviderFailure(.failed, .upstreamBadResponse(provider: provider, detail))
    }

    /// A request the provider's API cannot express (refused before anything was sent).
    static func refused(_ error: GatewayError) -> ProviderFailure { ProviderFailure(.clientError, error) }
}

extension Duration {
    /// In seconds.
    var seconds: Double { SystemEngineClock.ms(self) / 1000 }
}
