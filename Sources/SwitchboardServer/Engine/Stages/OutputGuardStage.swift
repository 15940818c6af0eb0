import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardProviders

/// Response stage: checks on answers before the client sees them (`guardrails.output`) — personal data and secrets
/// leaving, deny patterns, and an external moderation webhook. The first policy whose scope matches the request
/// applies. A whole answer that trips a check is withheld (400 `content_blocked`) or, with `action: redact`, gets what
/// was found replaced; a stream is checked as it goes (each channel's last 256 bytes with the new text, so a value
/// split across chunks is still found) and ends with an error event when a check trips — never silently cut. The
/// webhook sees a stream's whole text before its end event, which is held back until the answer is cleared.
struct OutputGuardStage: ResponseStage {
    let policies: [OutputPolicy]
    let scanners: [PIIScanner]
    let transport: any UpstreamTransport

    init(policies: [OutputPolicy], transport: any UpstreamTransport) {
        self.policies = policies
        scanners = policies.map { PIIScanner(kinds: $0.pii) }
        self.transport = transport
    }

    func start<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> (any ResponseFilter)? {
        guard let format = API.answerFormat(call.request),
              let n = policies.firstIndex(where: { $0.scope.matches(model: call.model, key: call.identity.name, team: call.identity.team) }) else {
            return nil
        }
        let policy = policies[n]
        return Guard(checks: OutputChecks(policy: policy, scanner: scanners[n]), stream: AnswerStream(format: format, holdsEnd: policy.webhook != nil),
                     webhook: policy.webhook.map { WebhookGuard(hook: $0, guardrail: policy.name, transport: transport, model: call.model, key: call.identity.name) })
    }

    struct Guard: ResponseFilter {
        let checks: OutputChecks
        var stream: AnswerStream
        let webhook: WebhookGuard?
        /// Each channel's last bytes, so a value split across chunks is found.
        var tails: [Int: String] = [:]
        /// A stream's whole text for the webhook (bounded).
        var seen = ""

        mutating func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
            var texts: [String] = []
            _ = AnswerTexts.rewrite(body, stream.format) { text, _ in texts.append(text); return text }
            if let found = checks.findings(in: texts) {
                guard checks.policy.action == .redact else { return .stop(checks.blocked(found)) }
                let checks = self.checks
                body = AnswerTexts.rewrite(body, stream.format) { text, _ in checks.redact(text) }
                exchange.guardrails.append("output=redact:\(found.joined(separator: ","))")
            }
            if let webhook, let reason = await webhook.verdict(texts) { return .stop(checks.blocked([reason], by: "webhook")) }
            return .pass
        }

        mutating func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
            var tails = self.tails
            var seen = self.seen
            var found: [String]?
            let checks = self.checks
            let keepsText = webhook != nil
            bytes = stream.feed(bytes, rewrite: { text, place in
                let window = (tails[place.channel] ?? "") + text
                if found == nil, let f = checks.findings(in: [window]) { found = f }
                tails[place.channel] = String(decoding: window.utf8.suffix(256), as: UTF8.self)
                if keepsText, seen.utf8.count < WebhookGuard.maxTextBytes { seen += text }
                return text
            }, closing: { _ in [] })
            self.tails = tails
            self.seen = seen
            if let found { return .stop(checks.blocked(found)) }
            return .pass
        }

        func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange) {}

        mutating func finish(_ exchange: inout Exchange) async -> (bytes: ByteBuffer?, error: GatewayError?) {
            var rest = stream.finish(rewrite: { text, _ in text }, closing: { _ in [] })
            if let webhook, let reason = await webhook.verdict([seen]) {
                return (rest.readableBytes > 0 ? rest : nil, checks.blocked([reason], by: "webhook"))
            }
            if var end = stream.releaseEnd() { rest.writeBuffer(&end) }
            return (rest.readableBytes > 0 ? rest : nil, nil)
        }
    }
}

/// One output policy's local checks for one answer: personal data and secrets, deny patterns.
struct OutputChecks: Sendable {
    let policy: OutputPolicy
    let scanner: PIIScanner
    /// The deny patterns, compiled once per answer (`Regex` is not `Sendable`; an answer is checked by one task at a
    /// time).
    private final class Compiled: @unchecked Sendable {
        let regexes: [Regex<AnyRegexOutput>]
        init(_ patterns: [String]) { regexes = patterns.compactMap { try? Regex($0) } }
    }
    private let compiled: Compiled

    init(policy: OutputPolicy, scanner: PIIScanner) {
        self.policy = policy
        self.scanner = scanner
        compiled = Compiled(policy.deny)
    }

    /// What the texts hold that they must not (kinds, and `deny` for a pattern); nil when nothing.
    func findings(in texts: [String]) -> [String]? {
        var found = Set<String>()
        let regexes = compiled.regexes
        for text in texts {
            if !policy.pii.isEmpty { for span in scanner.scan(text) { found.insert(span.kind.name) } }
            if regexes.contains(where: { text.contains($0) }) { found.insert("deny") }
        }
        return found.isEmpty ? nil : found.sorted()
    }

    /// `text` with what was found replaced: each value by its kind's placeholder, each deny match by `[REDACTED]`.
    func redact(_ text: String) -> String {
        var masker = PIIMasker(scanner: scanner, action: .redact)
        var out = policy.pii.isEmpty ? text : masker.mask(text) ?? text
        for regex in compiled.regexes { out.replace(regex, with: "[REDACTED]") }
        return out
    }

    func blocked(_ found: [String], by check: String? = nil) -> GatewayError {
        GatewayError(.contentBlocked, "The answer was withheld by the guardrail '\(policy.name)' (\(check.map { "\($0): " } ?? "")"
                     + "\(found.joined(separator: ", "))).")
    }
}

/// `guardrails.output[].webhook`: asks an external moderation service about an answer.
struct WebhookGuard: Sendable {
    let hook: OutputPolicy.Webhook
    let guardrail: String
    let transport: any UpstreamTransport
    let model: String
    let key: String
    static let maxTextBytes = 256 << 10

    /// Nil when the answer may go; else why not. An unreachable, slow or confused service counts as `allow`, or as a
    /// block with `on_error: block`.
    func verdict(_ texts: [String]) async -> String? {
        let body: [String: JSONValue] = ["guardrail": .string(guardrail), "stage": .string("output"), "model": .string(model),
                                         "key": .string(key), "texts": .array(texts.map { .string($0) })]
        let request = UpstreamRequest(method: "POST", url: hook.url, headers: [("content-type", "application/json")] + hook.headers,
                                      body: ByteBuffer(data: (try? JSONEncoder().encode(JSONValue.object(body))) ?? Data()),
                                      timeout: .milliseconds(Int64(hook.timeoutSeconds * 1000)),
                                      limits: AttemptLimits(total: .milliseconds(Int64(hook.timeoutSeconds * 1000))))
        do {
            let response = try await transport.execute(request)
            let bytes = try await response.body.collect(upTo: 64 << 10)
            guard response.status == 200, let answer = JSONValue.parse(Data(buffer: bytes))?.object else {
                return failed("HTTP \(response.status)")
            }
            if answer["action"]?.string == "block" || answer["flagged"]?.bool == true {
                return answer["reason"]?.string.map { "blocked: \($0.prefix(200))" } ?? "blocked"
            }
            return answer["action"]?.string == "allow" || answer["flagged"]?.bool == false ? nil : failed("an answer without action")
        } catch {
            return failed("unreachable or too slow")
        }
    }

    private func failed(_ what: String) -> String? {
        hook.failClosed ? "the moderation service failed (\(what))" : nil
    }
}
