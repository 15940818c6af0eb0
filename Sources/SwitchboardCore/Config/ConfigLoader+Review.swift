// ConfigLoader: the `review:` section (human review of held requests).
import Yams

/// `review:` — how a request held for a person (a guardrail's or routing rule's `review`) waits for the decision.
public struct ReviewConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The client's request stays open until a reviewer decides or `wait_s` passes.
        case wait
        /// The client gets 202 with a ticket at once and polls `GET /v1/reviews/{id}`.
        case ticket
    }
    public enum OnTimeout: String, Sendable, CaseIterable {
        /// 408 `review_timeout`.
        case reject
        /// Served by `fallback_model` (default: `routing.default_fallback`).
        case fallback
    }
    public var mode = Mode.wait
    /// `wait_s`: how long a decision may take (the ticket's deadline).
    public var waitSeconds = 300.0
    public var onTimeout = OnTimeout.reject
    /// `fallback_model`: serves a request whose review timed out (`on_timeout: fallback`) or that was approved when it
    /// named no real model (a virtual model whose rule chose review).
    public var fallbackModel: String?
    /// `poll_ms`: how often a waiting request looks for the decision in storage (any replica may take it).
    public var pollMilliseconds = 250

    public init() {}
}

extension Walker {
    mutating func reviewConfig(_ node: Node, declaredModels: [String]) -> ReviewConfig {
        var review = ReviewConfig()
        guard let m = mapping(node, "review", allowed: ["mode", "wait_s", "on_timeout", "fallback_model", "poll_ms"]) else { return review }
        if let text = string(m, "mode", "review") {
            if let mode = ReviewConfig.Mode(rawValue: text) { review.mode = mode } else {
                problem("review.mode", "expected wait or ticket, found \"\(text)\"")
            }
        }
        if let v = number(m, "wait_s", "review", range: 1...604_800) { review.waitSeconds = v }
        if let text = string(m, "on_timeout", "review") {
            if let v = ReviewConfig.OnTimeout(rawValue: text) { review.onTimeout = v } else {
                problem("review.on_timeout", "expected reject or fallback, found \"\(text)\"")
            }
        }
        if let model = string(m, "fallback_model", "review") {
            if declaredModels.contains(model) { review.fallbackModel = model } else {
                problem("review.fallback_model", "unknown model \"\(model)\""
                        + (suggestion(for: model, among: declaredModels).map { " (did you mean \"\($0)\"?)" } ?? ""))
            }
        }
        if let v = int(m, "poll_ms", "review", range: 20...10_000) { review.pollMilliseconds = v }
        return review
    }
}
