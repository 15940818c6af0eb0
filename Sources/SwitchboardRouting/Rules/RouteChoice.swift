import SwitchboardCore

/// The model a matched rule chose for a request, the models to escalate to when it fails, and every candidate
/// weighed on the way (for `x-switchboard-route` and route explanations).
public struct RouteChoice: Sendable, Equatable {
    /// A model the rule could route to, its expected cost for this request and, when it was passed over, why.
    public struct Candidate: Sendable, Equatable {
        public var model: String
        /// Expected USD for this request on its cheapest capable, available deployment (nil: none).
        public var expectedCostUSD: Double?
        /// Why it was not chosen: `not_allowed`, `lacks_<capability>`, `excluded_<region|provider|price>` (the request's
        /// policy), `unavailable` (nil: usable).
        public var excluded: String?
        /// The observed cached share of prompt tokens its expected cost assumed, when not 0 (``CachedShareBook``).
        public var cachedShare: Double? = nil
    }

    public var model: String
    /// 1-based tier of `model` for a tier list (nil otherwise).
    public var tier: Int?
    /// Models tried, in order, when `model` fails (nil: the model's own fallback lists).
    public var escalation: [String]?
    public var candidates: [Candidate]
}

extension RoutingTable {
    /// Where `target` sends a request that needs `needs`, for a caller that may use the models `allows` accepts.
    /// Nil when no model of the target can take it (each candidate then says why).
    public func choose(_ target: RouteTarget, needs: RequestNeeds, expectedOutputTokens: Int, policy: DeploymentPolicy = .init(),
                       allows: (String) -> Bool) -> (choice: RouteChoice?, candidates: [RouteChoice.Candidate]) {
        let usage = Usage(promptTokens: needs.estimatedPromptTokens, completionTokens: needs.maxOutputTokens ?? expectedOutputTokens)
        let candidates = target.models.map { name in
            candidate(name, needs: needs, usage: usage, policy: policy, allows: allows, checkHealth: target.kind != "model")
        }
        switch target {
        case .model(let name):
            // A model its deployments cannot serve may still have fallbacks that can: the capability stage decides.
            guard candidates[0].excluded == nil || candidates[0].excluded!.hasPrefix("lacks_") else { return (nil, candidates) }
            return (RouteChoice(model: name, tier: nil, escalation: nil, candidates: candidates), candidates)
        case .tiers(let names):
            guard let i = candidates.firstIndex(where: { $0.excluded == nil }) else { return (nil, candidates) }
            let later = names[(i + 1)...].filter { name in name != reviewTier && candidates.first { $0.model == name }?.excluded != "not_allowed" }
            return (RouteChoice(model: names[i], tier: i + 1, escalation: Array(later), candidates: candidates), candidates)
        case .cheapest:
            // Cheapest first; equal costs keep the order the rule lists them in.
            let usable = candidates.enumerated().filter { $0.element.excluded == nil }
                .sorted { ($0.element.expectedCostUSD ?? .infinity, $0.offset) < ($1.element.expectedCostUSD ?? .infinity, $1.offset) }
                .map(\.element.model)
            guard let first = usable.first else { return (nil, candidates) }
            return (RouteChoice(model: first, tier: nil, escalation: Array(usable.dropFirst()), candidates: candidates), candidates)
        }
    }

    /// One model weighed for a request: whether the caller may use it, whether one of its deployments can serve
    /// the request (and, when `checkHealth`, is healthy with room under its caps now), and its expected cost there.
    func candidate(_ name: String, needs: RequestNeeds, usage: Usage, policy: DeploymentPolicy, allows: (String) -> Bool,
                   checkHealth: Bool) -> RouteChoice.Candidate {
        if name == reviewTier { return .init(model: name, expectedCostUSD: nil, excluded: nil) }
        guard let model = models[name] else { return .init(model: name, expectedCostUSD: nil, excluded: "unknown_model") }
        guard allows(name) else { return .init(model: name, expectedCostUSD: nil, excluded: "not_allowed") }
        var gap: String?
        var capable: [RoutedDeployment] = []
        for d in model.deployments {
            if let missing = d.capabilities.missing(for: needs) { gap = gap ?? missing } else { capable.append(d) }
        }
        guard !capable.isEmpty else { return .init(model: name, expectedCostUSD: nil, excluded: "lacks_" + (gap ?? "deployments")) }
        let allowed = capable.filter { policy.excluded($0, usage: usage) == nil }
        guard !allowed.isEmpty else {
            return .init(model: name, expectedCostUSD: nil, excluded: "excluded_" + (policy.excluded(capable[0], usage: usage)?.rawValue ?? "policy"))
        }
        capable = allowed
        var usable = capable
        if checkHealth {
            let slots = capable.map(\.slot)
            let up = Set(capacity.withRoom(health.available(slots), tokens: usage.promptTokens + usage.completionTokens))
            usable = capable.filter { up.contains($0.slot) }
        }
        // The cheapest deployment at its expected cost, its observed cached share included.
        guard let cheapest = (usable.isEmpty ? capable : usable).min(by: { expectedCost($0, usage: usage) < expectedCost($1, usage: usage) })
        else { return .init(model: name, expectedCostUSD: nil, excluded: "unavailable") }
        let share = cachedShares.share(cheapest.slot)
        return .init(model: name, expectedCostUSD: expectedCost(cheapest, usage: usage), excluded: usable.isEmpty ? "unavailable" : nil,
                     cachedShare: share > 0 ? share : nil)
    }
}
