import Foundation
import HTTPTypes
import NIOCore
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
    /// `router.geoip`'s database, opened (nil: none).
    let geoip: MaxMindDB?
    /// The models some rule may match (and the virtual ones): a request for any other goes on at once.
    let routable: Set<String>

    init(router: RouterConfig, table: RoutingTable, defaultFallback: String?, scorer: (any DifficultyScoring)?, geoip: MaxMindDB? = nil) {
        self.router = router
        self.geoip = geoip
        self.table = table
        self.defaultFallback = defaultFallback
        book = RuleBook(rules: router.rules, scorer: scorer)
        routable = Set(router.virtualModels + table.modelNames.filter { name in router.rules.contains { $0.when.mayMatch(model: name) } })
    }

    func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
        guard routable.contains(call.model) else { return .pass }
        var facts = Self.facts(model: call.model, identity: call.identity, needs: API.needs(call.request), headers: call.headers,
                               body: needsBody ? API.body(call.request) : nil, router: router)
        if facts.region == nil, needsRegion { facts.region = region(of: call.clientAddress, headers: facts.headers) }
        let decision = decide(&facts, identity: call.identity, policy: call.policy)
        switch decision.outcome {
        case .asked:
            return .pass
        case .defaultFallback(let fallback):
            exchange.route = RouteNote(rule: "default_fallback")
            exchange.record.routeRule = "default_fallback"
            return rename(&call, to: fallback)
        case .refused(let error):
            return .refuse(error)
        case .rule(let rule, let choice):
            if case .tiers(let tiers) = rule.route { exchange.route = RouteNote(rule: rule.name, tiers: tiers) } else {
                exchange.route = RouteNote(rule: rule.name)
            }
            exchange.record.routeRule = rule.name
            if choice.model == reviewTier { return .review("routing rule '\(rule.name)'") }
            call.escalation = choice.escalation
            if let escalate = rule.escalate, escalate.checksAnswers, !(choice.escalation ?? []).isEmpty {
                call.outputCheck = OutputCheck(escalation: escalate, wantsJSON: API.needs(call.request).jsonMode)
            }
            return rename(&call, to: choice.model)
        }
    }

    /// What the rules decided for a request, with every rule tried and every model weighed on the way.
    struct Decision {
        enum Outcome {
            /// No rule chose, and the model asked for is a real one: it goes on as asked.
            case asked
            case rule(RouteRule, RouteChoice)
            /// No rule chose a model for a virtual model: `routing.default_fallback` serves it.
            case defaultFallback(String)
            /// No rule chose a model for a virtual model, and there is no default fallback.
            case refused(GatewayError)
        }
        var outcome: Outcome
        var trials: [RuleBook.Trial]
        /// The models each matching rule weighed, by rule name.
        var weighed: [(rule: String, candidates: [RouteChoice.Candidate])]
    }

    /// Tries the rules in order; a matching rule none of whose models the request can use gives way to the next.
    func decide(_ facts: inout RuleFacts, identity: Identity, policy: DeploymentPolicy = .init()) -> Decision {
        var (index, trials) = book.first(&facts)
        var weighed: [(rule: String, candidates: [RouteChoice.Candidate])] = []
        while let i = index {
            let rule = book.rules[i]
            var route = rule.route
            var skipped = 0
            // A difficulty in the rule's uncertain band starts at the second tier.
            if case .tiers(let tiers) = route, tiers.count > 1, let band = rule.escalate?.uncertain, let score = facts.score(book.scorer),
               band.contains(score) {
                route = .tiers(Array(tiers.dropFirst()))
                skipped = 1
            }
            var (choice, candidates) = table.choose(route, needs: facts.needs, expectedOutputTokens: router.expectedOutputTokens,
                                                    policy: policy, allows: { identity.allows(model: $0) })
            if let tier = choice?.tier { choice?.tier = tier + skipped }
            weighed.append((rule.name, candidates))
            if let choice { return Decision(outcome: .rule(rule, choice), trials: trials, weighed: weighed) }
            trials[trials.count - 1].failed = "no usable model"
            let next = book.first(&facts, from: i + 1)
            index = next.index
            trials += next.trials
        }
        guard router.virtualModels.contains(facts.model) else { return Decision(outcome: .asked, trials: trials, weighed: weighed) }
        if let fallback = defaultFallback, identity.allows(model: fallback) {
            return Decision(outcome: .defaultFallback(fallback), trials: trials, weighed: weighed)
        }
        let tried = trials.map { "\($0.rule) (\($0.failed ?? "matched"))" }.joined(separator: ", ")
        let error = GatewayError(.badRequest, "No routing rule chose a model for this request to the virtual model '\(facts.model)'"
            + (tried.isEmpty ? "." : "; rules tried: \(tried)."))
        return Decision(outcome: .refused(error), trials: trials, weighed: weighed)
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

    /// What the rules may look at; the body (nil: not needed) is decoded only when a rule reads the text or the
    /// request's metadata.
    static func facts(model: String, identity: Identity, needs: RequestNeeds, headers: HTTPFields, body: ByteBuffer?,
                      router: RouterConfig) -> RuleFacts {
        var facts = RuleFacts(model: model, keyName: identity.name, team: identity.team, needs: needs)
        facts.keyMetadata = identity.metadata
        for field in headers {
            let name = field.name.canonicalName
            facts.headers[name] = facts.headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        facts.tags = commaList(facts.headers["x-switchboard-tags"]) + commaList(identity.metadata["tags"])
        facts.region = router.regionHeader.flatMap { facts.headers[$0] }
        if let body, let decoded = JSONValue.parse(Data(buffer: body)) {
            facts.text = RequestText(body: decoded)
            for (k, v) in decoded["metadata"]?.object ?? [:] { if let s = v.string { facts.requestMetadata[k] = s } }
        }
        return facts
    }

    /// The difficulty classifier: `router.classifier`'s model file, else the one built in.
    static func classifier(_ router: RouterConfig) throws -> DifficultyClassifier {
        guard let path = router.classifierFile else { return DifficultyClassifier() }
        guard let data = FileManager.default.contents(atPath: path) else { throw DifficultyModelError("cannot read \(path)") }
        return DifficultyClassifier(model: try DifficultyModel(bytes: [UInt8](data)))
    }

    /// Whether any rule asks for the client's region.
    var needsRegion: Bool { router.rules.contains { $0.when.regions != nil } }

    /// The client's region from GeoIP: its address (or, behind a trusted proxy, `X-Forwarded-For`'s first entry)
    /// looked up, and the configured field read from the record.
    func region(of peer: String?, headers: [String: String]) -> String? {
        guard let geoip, let config = router.geoip else { return nil }
        var address = peer
        if config.trustForwardedFor, let forwarded = commaList(headers["x-forwarded-for"]).first { address = forwarded }
        guard let address, var value = geoip.lookup(address) else { return nil }
        for part in config.field.split(separator: ".") {
            guard let next = value[String(part)] else { return nil }
            value = next
        }
        return value.string
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
