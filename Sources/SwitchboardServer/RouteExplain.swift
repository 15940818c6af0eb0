import Foundation
import HTTPTypes
import NIOCore
import SwitchboardCore
import SwitchboardRouting

/// Why a request would go where it goes — `POST /admin/route/explain` and `switchboard route explain`: the rules
/// tried (and the condition each failed on), the models each matching rule weighed with their expected cost and why
/// any was passed over, the decision, and the chosen model's deployments with their health and cost. Nothing is sent.
public struct RouteExplainer: Sendable {
    let table: RoutingTable
    let stage: RouterStage
    /// The running gateway's engine holder: a request is explained by the engine serving new requests then.
    let live: LiveGateway?

    /// From a configuration alone (the CLI): every deployment healthy, as at start.
    public init(config: GatewayConfig) {
        table = RoutingTable(config: config, seed: 1, now: { Date().timeIntervalSince1970 * 1000 })
        stage = RouterStage(router: config.router, table: table, defaultFallback: config.routing.defaultFallback,
                            scorer: (try? RouterStage.classifier(config.router)) ?? DifficultyClassifier())
        live = nil
    }

    /// From one engine: its rules, and its deployments' health and caps as they are now.
    init(gateway: Gateway) {
        let config = gateway.config
        table = gateway.table
        stage = gateway.stages.request.compactMap { $0 as? RouterStage }.first
            ?? RouterStage(router: config.router, table: gateway.table, defaultFallback: config.routing.defaultFallback,
                           scorer: (try? RouterStage.classifier(config.router)) ?? DifficultyClassifier())
        live = nil
    }

    /// From the running gateway, following configuration reloads.
    init(live: LiveGateway) {
        let first = RouteExplainer(gateway: live.gateway)
        (table, stage, self.live) = (first.table, first.stage, live)
    }

    /// Which client API a body is for.
    public enum API: String, Sendable, CaseIterable {
        case chat, messages, embeddings
    }

    /// The explanation of `body` sent to `api` by `identity` with `headers`; the client's 400 when the body is not one.
    public func explain(body: ByteBuffer, api: API, identity: Identity, headers: HTTPFields = [:]) throws(GatewayError) -> JSONValue {
        if let gateway = live?.gateway, gateway.table !== table {
            return try RouteExplainer(gateway: gateway).explain(body: body, api: api, identity: identity, headers: headers)
        }
        let (model, needs): (String, RequestNeeds)
        switch api {
        case .chat: let r = try OpenAIRequest.chat(body); (model, needs) = (r.model, r.needs)
        case .embeddings: let r = try OpenAIRequest.embeddings(body); (model, needs) = (r.model, r.needs)
        case .messages: let r = try AnthropicMessagesRequest.parse(body); (model, needs) = (r.model, r.needs)
        }
        let router = stage.router
        guard table.models[model] != nil || router.virtualModels.contains(model) else {
            throw .unknownModel(model, suggestion: suggestion(for: model, among: table.modelNames + router.virtualModels))
        }
        var facts = RouterStage.facts(model: model, identity: identity, needs: needs, headers: headers, body: body, router: router)
        let decision = stage.decide(&facts, identity: identity)
        var out: [String: JSONValue] = [
            "model": .string(model), "virtual": .bool(router.virtualModels.contains(model)),
            "request": Self.factsJSON(&facts, scorer: stage.book.scorer),
            "rules": .array(decision.trials.map { .object(["rule": .string($0.rule), "matched": .bool($0.failed == nil),
                                                           "failed_on": $0.failed.map(JSONValue.string) ?? .null]) }),
            "weighed": .array(decision.weighed.map { .object(["rule": .string($0.rule), "candidates": .array($0.candidates.map(Self.json))]) }),
        ]
        var chosen: String?
        switch decision.outcome {
        case .asked:
            chosen = model
            out["decision"] = .object(["by": "as_asked", "model": .string(model),
                                       "why": .string("no rule chose a model; the model asked for is used, with its own fallbacks")])
        case .defaultFallback(let fallback):
            chosen = fallback
            out["decision"] = .object(["by": "default_fallback", "model": .string(fallback),
                                       "why": .string("no rule chose a model for the virtual model; routing.default_fallback serves it")])
        case .refused(let error):
            out["decision"] = .object(["by": "refused", "status": .int(error.status), "error": .string(error.message)])
        case .rule(let rule, let choice):
            chosen = choice.model
            var d: [String: JSONValue] = ["by": "rule", "rule": .string(rule.name), "route": .string(rule.route.kind), "model": .string(choice.model),
                                          "escalation": choice.escalation.map { .array($0.map(JSONValue.string)) } ?? .null,
                                          "why": .string(Self.why(rule.route, choice))]
            if let tier = choice.tier { d["tier"] = .int(tier) }
            out["decision"] = .object(d)
        }
        if let chosen, let m = table.models[chosen] {
            let usage = Usage(promptTokens: needs.estimatedPromptTokens, completionTokens: needs.maxOutputTokens ?? router.expectedOutputTokens)
            let up = Set(table.health.available(m.deployments.map(\.slot)))
            out["deployments"] = .array(m.deployments.map { d in
                var o: [String: JSONValue] = [
                    "provider": .string(d.provider), "model": .string(d.upstreamModel),
                    "expected_cost_usd": .double(table.expectedCost(d, usage: usage)),
                    "excluded": d.capabilities.missing(for: needs).map { .string("lacks_" + $0) } ?? (up.contains(d.slot) ? .null : "unavailable")]
                let share = table.cachedShares.share(d.slot)
                if share > 0 { o["cached_share"] = .double(share) }
                return .object(o)
            })
        }
        return .object(out)
    }

    static func why(_ route: RouteTarget, _ choice: RouteChoice) -> String {
        switch route {
        case .model: "the first rule that matched routes to this model"
        case .tiers: "the first tier that can serve the request" + (choice.tier.map { " (tier \($0))" } ?? "")
        case .cheapest: "the lowest expected cost among the models that can serve the request now"
        }
    }

    static func json(_ c: RouteChoice.Candidate) -> JSONValue {
        var o: [String: JSONValue] = ["model": .string(c.model), "expected_cost_usd": c.expectedCostUSD.map(JSONValue.double) ?? .null,
                                      "excluded": c.excluded.map(JSONValue.string) ?? .null]
        if let share = c.cachedShare { o["cached_share"] = .double(share) }
        return .object(o)
    }

    static func factsJSON(_ facts: inout RuleFacts, scorer: (any DifficultyScoring)?) -> JSONValue {
        var o: [String: JSONValue] = [
            "key": .string(facts.keyName), "estimated_prompt_tokens": .int(facts.needs.estimatedPromptTokens), "tools": .bool(facts.needs.tools),
            "images": .bool(facts.needs.vision), "json": .bool(facts.needs.jsonMode), "stream": .bool(facts.needs.streaming),
        ]
        if let team = facts.team { o["team"] = .string(team) }
        if let region = facts.region { o["region"] = .string(region) }
        if let language = facts.detectedLanguage() { o["language"] = .string(language) }
        if let score = facts.score(scorer) { o["difficulty"] = .double((score * 1000).rounded() / 1000) }
        return .object(o)
    }

    /// The explanation as lines of text, for the terminal.
    public static func text(_ e: JSONValue) -> String {
        var lines: [String] = []
        let facts = e["request"]?.object ?? [:]
        let shown = facts.keys.sorted().map { "\($0)=\(describe(facts[$0]!))" }.joined(separator: " ")
        lines.append("request for \(e["model"]?.string ?? "?")\(e["virtual"] == .bool(true) ? " (virtual)" : ""): \(shown)")
        let rules = e["rules"]?.array ?? []
        lines.append(rules.isEmpty ? "rules: none tried" : "rules tried:")
        for r in rules {
            lines.append("  \(r["rule"]?.string ?? "") — " + (r["matched"] == .bool(true) ? "matched" : "no: \(r["failed_on"]?.string ?? "")"))
        }
        for w in e["weighed"]?.array ?? [] {
            lines.append("models weighed by \(w["rule"]?.string ?? ""):")
            for c in w["candidates"]?.array ?? [] {
                let cost = c["expected_cost_usd"]?.number.map { "$" + formatUSD($0) } ?? "-"
                lines.append("  \(c["model"]?.string ?? "")  expected \(cost)" + Self.cachedNote(c)
                    + (c["excluded"]?.string.map { "  excluded: \($0)" } ?? ""))
            }
        }
        let d = e["decision"]?.object ?? [:]
        if d["by"] == "refused" {
            lines.append("decision: refused (\(d["status"].map(describe) ?? "")): \(d["error"]?.string ?? "")")
        } else {
            var line = "decision: \(d["model"]?.string ?? "") — \(d["why"]?.string ?? "")"
            if let rule = d["rule"]?.string { line += " [rule \(rule)]" }
            lines.append(line)
            if let esc = d["escalation"]?.array, !esc.isEmpty { lines.append("  if it fails: " + esc.compactMap(\.string).joined(separator: ", ")) }
        }
        for dep in e["deployments"]?.array ?? [] {
            let cost = dep["expected_cost_usd"]?.number.map { "$" + formatUSD($0) } ?? "-"
            lines.append("  deployment \(dep["provider"]?.string ?? "")/\(dep["model"]?.string ?? "")  expected \(cost)" + Self.cachedNote(dep)
                + (dep["excluded"]?.string.map { "  excluded: \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// " (62% of the prompt cached)" when an expected cost assumed an observed cached share.
    static func cachedNote(_ v: JSONValue) -> String {
        guard let share = v["cached_share"]?.number, share > 0 else { return "" }
        return " (\(Int((share * 100).rounded()))% of the prompt cached)"
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): s
        case .double(let d): String(d)
        default: v.jsonText
        }
    }
}
