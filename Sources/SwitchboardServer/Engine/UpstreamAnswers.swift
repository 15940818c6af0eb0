import Foundation
import SwitchboardCore
import SwitchboardProviders

/// What the gateway makes of an upstream's answer before anything reaches the client: whether a 2xx can be relayed,
/// the client's error for a failed one (scrubbed of credentials), `Retry-After`, transport failures.
enum UpstreamAnswers {
    /// Why a 2xx answer's head cannot be relayed as it is, if it cannot: a stream must be `text/event-stream` and
    /// nothing may be compressed (the gateway reads the bytes). A plain answer's body is checked itself (one JSON
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

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded(.up))) }

    static func gatewayError(_ error: UpstreamError, provider: String, seconds: Double) -> GatewayError {
        switch error.code {
        case .timeout: .upstreamTimeout(provider: provider, seconds: seconds)
        case .connectFailed, .connectionClosed, .other: .upstreamUnreachable(provider: provider)
        case .responseTooLarge: .upstreamBadResponse(provider: provider, "the response is too large")
        }
    }

    /// The error the client gets for an upstream error status: 4xx keep their status, 5xx become 502; the upstream's
    /// own message, type, code and param are kept when it sent an OpenAI- or Anthropic-shaped error — after every
    /// provider key and anything credential-shaped has been taken out (an upstream may quote the key it got).
    static func failure(_ upstream: UpstreamResponse, provider: String, scrubber: SecretScrubber) async -> GatewayError {
        var error = GatewayError.upstreamStatus(provider: provider, status: upstream.status)
        if let text = upstream.header("retry-after"), let seconds = Int(text), (0...86_400).contains(seconds) { error.retryAfterSeconds = seconds }
        guard let body = try? await upstream.body.collect(upTo: 1 << 20),
              let inner = JSONValue.parse(body.readableBytesView.withUnsafeBytes { Data($0) })?["error"] else { return error }
        if let m = inner["message"]?.string {
            let message = scrubber.field(m, limit: 2000)
            error.message = upstream.status >= 500 ? "The upstream provider '\(provider)' failed: \(message)" : message
        }
        if upstream.status < 500 {
            if let t = inner["type"]?.string { error.upstream?.type = scrubber.field(t, limit: 64) }
            if let c = inner["code"]?.string ?? inner["code"]?.int.map(String.init) { error.upstream?.code = scrubber.field(c, limit: 64) }
            error.param = inner["param"]?.string.map { scrubber.field($0, limit: 200) }
        }
        return error
    }
}
