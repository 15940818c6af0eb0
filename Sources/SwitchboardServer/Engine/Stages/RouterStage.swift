import Foundation
import HTTPTypes
import SwitchboardCore
import SwitchboardRouting

/// Request stage: `router.rules` choose the model a request should use — before routing chooses its deployment.
/// Rules are tried in order; the first whose conditions all hold and that has a model the request can use decides:
/// one model, the first capable tier of a tier list (later tiers are its escalation), or the cheapest capable of a
/// set (the others, cheapest first, its escalation). A virtual model (`router.models`, such as `auto`) must be
/// routed by a rule, else by `routing.default_fallback`; a real model no rule matches goes on as asked.
struct RouterStage: RequestStage {
    let router: RouterConfig
    let book: RuleBook
    let table: RoutingTable
    let defaultFallback: String?

    init(router: RouterConfig, table: RoutingTable, defaultFallback: String?, scorer: (any DifficultyScoring)?) {
        self.router = router
        self.table = table
        self.defaultFallback = defaultFallback
        book = RuleBook(rules: router.rules, scorer: scorer)
    }

    func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
        let asked = call.model
        let isVirtual = router.virtualModels.contains(asked)
        var facts = facts(call)
        let identity = call.identity
        var (index, trials) = book.first(&facts)
        var decided: (rule: RouteRule, choice: RouteChoice)?
        // A matching rule none of whose models the request can use gives way to the next rule that matches.
        while let i = index {
            let rule = book.rules[i]
            if let choice = table.choose(rule.route, needs: facts.needs, expectedOutputTokens: router.expectedOutputTokens,
                                         allows: { identity.allows(model: $0) }).choice {
                decided = (rule, choice)
                break
            }
            trials[trials.count - 1].failed = "no usable model"
            let next = book.first(&facts, from: i + 1)
            index = next.index
            trials += next.trials
        }
        guard let (rule, choice) = decided else {
            guard isVirtual else { return .pass }
            if let fallback = defaultFallback, call.identity.allows(model: fallback) {
                exchange.route = RouteNote(rule: "default_fallback")
                exchange.record.routeRule = "default_fallback"
                return rename(&call, to: fallback)
            }
            let tried = trials.map { "\($0.rule) (\($0.failed ?? "matched"))" }.joined(separator: ", ")
            return .refuse(GatewayError(.badRequest, "No routing rule chose a model for this request to the virtual model '\(asked)'"
                + (tried.isEmpty ? "." : "; rules tried: \(tried).")))
        }
        if case .tiers(let tiers) = rule.route { exchange.route = RouteNote(rule: rule.name, tiers: tiers) } else {
            exchange.route = RouteNote(rule: rule.name)
        }
        exchange.record.routeRule = rule.name
        call.escalation = choice.escalation
        return rename(&call, to: choice.model)
    }

    func rename<API: ClientAPI>(_ call: inout Call<API>, to model: String) -> RequestVerdict {
        guard model != call.model else { return .pass }
        do {
            call.request = try API.renamed(call.request, model)
            return .pass
        } catch {
            return .refuse(error)
        }
    }

    /// What the rules may look at; the body is decoded only when a rule reads the text or the request's metadata.
    func facts<API: ClientAPI>(_ call: Call<API>) -> RuleFacts {
        let identity = call.identity
        var facts = RuleFacts(model: call.model, keyName: identity.name, team: identity.team, needs: API.needs(call.request))
        facts.keyMetadata = identity.metadata
        for field in call.headers {
            let name = field.name.canonicalName
            facts.headers[name] = facts.headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        facts.tags = (facts.headers["x-switchboard-tags"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            + (identity.metadata["tags"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        facts.region = router.regionHeader.flatMap { facts.headers[$0] } ?? identity.region
        if needsBody, let body = JSONValue.parse(Data(buffer: API.body(call.request))) {
            facts.text = RequestText(body: body)
            for (k, v) in body["metadata"]?.object ?? [:] { if let s = v.string { facts.requestMetadata[k] = s } }
        }
        return facts
    }

    var needsBody: Bool { router.needsText || router.rules.contains { $0.when.requestMetadata != nil } }
}

/// The rule that chose a request's model (and its tier list, when it has one).
struct RouteNote: Sendable, Equatable {
    var rule: String
    var tiers: [String]?

    /// `x-switchboard-route`'s rule part: `rule=NAME`, and `tier=N` when a tier list chose — the tier of the model
    /// that served, after escalation.
    func header(served model: String) -> String {
        "rule=\(rule)" + (tiers?.firstIndex(of: model).map { "; tier=\($0 + 1)" } ?? "")
    }
}
