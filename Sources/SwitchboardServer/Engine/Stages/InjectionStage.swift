import NIOCore
import SwitchboardCore

/// Request stage: prompt-injection and jailbreak attempts (`guardrails.injection`). The first policy whose scope
/// matches decides what a request whose score reaches its threshold gets: `log`, `flag` (it goes on, marked in
/// `x-switchboard-guardrails`), `block` (400 `content_blocked`, naming the signals) or `review` (held for a person, `review:`). What is scored: each
/// of the last 32 messages' texts — the user's turns and tool results, never the operator's system prompt —
/// taking the highest score.
struct InjectionStage: RequestStage {
    let policies: [InjectionPolicy]
    let detectors: [InjectionDetector]
    static let maxMessages = 32

    init(policies: [InjectionPolicy]) {
        self.policies = policies
        detectors = policies.map { InjectionDetector(threshold: $0.threshold) }
    }

    func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
        guard API.isConversation(call.request),
              let n = policies.firstIndex(where: { $0.scope.matches(model: call.model, key: call.identity.name, team: call.identity.team) }) else {
            return .pass
        }
        let policy = policies[n]
        let detector = detectors[n]
        var worst: InjectionScore?
        for text in Self.texts(API.body(call.request)) {
            let score = detector.score(text)
            if score.score > worst?.score ?? -1 { worst = score }
        }
        guard let worst, worst.isAttack else { return .pass }
        let reasons = worst.reasons.map(\.rawValue).joined(separator: ", ")
        let score = (worst.score * 100).rounded() / 100
        exchange.guardrails.append("injection=\(policy.action.rawValue):\(score)")
        exchange.spans?.request.attributes["switchboard.guardrails"] = exchange.guardrails.joined(separator: ", ")
        call.logger.warning("guardrail injection", metadata: ["policy": "\(policy.name)", "action": "\(policy.action.rawValue)",
                                                              "score": "\(score)", "reasons": "\(reasons)"])
        switch policy.action {
        case .log, .flag:
            return .pass
        case .block:
            return .refuse(GatewayError(.contentBlocked, "The request was blocked by the guardrail '\(policy.name)': it looks like a prompt "
                                        + "injection or jailbreak attempt (score \(score); \(reasons))."))
        case .review:
            return .review("guardrail '\(policy.name)': prompt injection score \(score) (\(reasons))")
        }
    }

    /// The texts of the last messages that are not the operator's (system and developer turns, Anthropic's `system`,
    /// the Responses API's `instructions`): `messages`, or a Responses request's `input` (a string, or items whose
    /// texts, tool results and call arguments are read like messages').
    static func texts(_ body: ByteBuffer) -> [String] {
        var texts: [Int: String] = [:]
        var roles: [Int: String] = [:]
        body.withUnsafeReadableBytes { bytes in
            try? JSONPeek.forEachScalar(bytes, enter: { path in
                guard path.first?.key == "messages" || path.first?.key == "input" else { return false }
                if let key = path.last?.key, path.count > 2, PIIBody.structural.contains(key), key != "role" { return false }
                return true
            }) { path, value in
                if path.count == 1, path[0].key == "input", let text = JSONPeek.string(bytes, value) { texts[0] = text }
                guard path.count >= 3, case .index(let i) = path[1], let text = JSONPeek.string(bytes, value) else { return }
                if path.count == 3, path[2].key == "role" { roles[i] = text } else { texts[i, default: ""] += texts[i] == nil ? text : "\n" + text }
            }
        }
        return texts.keys.sorted().suffix(maxMessages).compactMap { i in
            ["system", "developer"].contains(roles[i] ?? "") ? nil : texts[i]
        }
    }
}
