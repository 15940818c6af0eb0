// The `models:` section of the configuration: public model names, their balancing and deployments.

/// One entry of `models:` — a public model name and the deployments that can serve it.
public struct ModelConfig: Sendable {
    public var name: String
    public var balancing: BalancingPolicyName
    public var deployments: [DeploymentConfig]
    /// `fallbacks`: models tried in order when every attempt on this one failed.
    public var fallbacks: [String] = []
    /// `context_window_fallbacks`: models tried when the prompt is too long for this one (default: `fallbacks`).
    public var contextWindowFallbacks: [String]?
    /// `content_policy_fallbacks`: models tried when a provider refuses the content (default: `fallbacks`).
    public var contentPolicyFallbacks: [String]?
    /// `retries`: overrides `routing.retries` for this model.
    public var retries: Int?
    /// `deadline_s`: overrides `routing.deadline_s` for this model.
    public var deadlineSeconds: Double?
    /// `hedge`: opt-in hedged requests.
    public var hedge: HedgeConfig?

    public init(name: String, balancing: BalancingPolicyName = .p2cEWMA, deployments: [DeploymentConfig]) {
        self.name = name
        self.balancing = balancing
        self.deployments = deployments
    }
}

/// `balancing:` — how a model's deployments share its traffic.
public enum BalancingPolicyName: String, Sendable, CaseIterable {
    /// Each deployment in turn.
    case roundRobin = "round-robin"
    /// In turn, in proportion to `weight` (smooth weighted round-robin).
    case weighted
    /// Uniformly at random.
    case random
    /// Fewest requests in flight ("least connections").
    case leastOutstanding = "least-outstanding"
    /// Power of two random choices on peak-EWMA time to first byte × requests in flight.
    case p2cEWMA = "p2c-ewma"
    /// Lowest peak-EWMA time to first byte.
    case lowestLatency = "lowest-latency"
    /// Cheapest by price.
    case leastCost = "least-cost"
    /// The same conversation to the same deployment (`x-switchboard-affinity` header, else `user`).
    case consistentHash = "consistent-hash"
}

/// One entry of `models[].deployments`.
public struct DeploymentConfig: Sendable {
    public var provider: String
    /// The model name the upstream knows.
    public var model: String
    public var weight: Int
    public var price: Price
    /// `capabilities`: what this deployment can do (defaults per provider kind, overridden key by key).
    public var capabilities: Capabilities
    /// `rpm`, `tpm`, `max_concurrent`.
    public var limits: DeploymentLimits
    /// `timeouts`.
    public var timeouts: DeploymentTimeouts
    /// `price_id`: its entry in `router.pricing`'s list (default: the entry named like `model`).
    public var priceID: String?

    public init(provider: String, model: String, weight: Int = 1, price: Price = .free, capabilities: Capabilities = Capabilities(),
                limits: DeploymentLimits = .init(), timeouts: DeploymentTimeouts = .init()) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.price = price
        self.capabilities = capabilities
        self.limits = limits
        self.timeouts = timeouts
    }
}
