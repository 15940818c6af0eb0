import SwitchboardCore

/// What one request allows of the deployments that serve it, beyond capabilities: the providers it prefers or
/// refuses and in what order (OpenRouter's `provider` object), the most it may cost (`x-switchboard-max-price`), and the
/// regions its key may send data to. A deployment it excludes is never attempted, fallbacks included.
public struct DeploymentPolicy: Sendable, Equatable {
    /// `provider.only`: only these providers.
    public var only: Set<String>?
    /// `provider.ignore`: never these providers.
    public var ignore: Set<String> = []
    /// `provider.order`: these providers first, in this order (then the rest, unless fallbacks are off).
    public var order: [String] = []
    /// `provider.allow_fallbacks: false`: only the providers in `order` (or `only`), and no fallback models.
    public var allowFallbacks = true
    /// `provider.sort`: the deployments in this order instead of the balancer's choice.
    public var sort: ProviderPreferences.Sort?
    /// `provider.max_price`: USD per million prompt / completion tokens.
    public var maxPromptPrice: Double?
    public var maxCompletionPrice: Double?
    /// `x-switchboard-max-price`: the most one request may be expected to cost, in USD (prompt estimate at the input
    /// price plus `max_tokens` — or the output assumed for costs — at the output price).
    public var maxRequestUSD: Double?
    /// The key's regions (globs): a deployment outside them, or of no known region, is never used.
    public var regions: [String]?
    /// Its team's regions, held to as well.
    public var teamRegions: [String]?

    public init() {}

    public init(preferences p: ProviderPreferences) {
        only = p.only.map(Set.init)
        ignore = Set(p.ignore)
        order = p.order
        allowFallbacks = p.allowFallbacks
        sort = p.sort
        maxPromptPrice = p.maxPromptPrice
        maxCompletionPrice = p.maxCompletionPrice
    }

    /// Nothing to check: every deployment is allowed in the balancer's order.
    public var isEmpty: Bool { self == DeploymentPolicy() }

    /// Why `d` may not serve this request (nil: it may). `usage` is the request's expected usage.
    public func excluded(_ d: RoutedDeployment, usage: Usage) -> Exclusion? {
        if let regions, !Self.within(d.region, regions) { return .region }
        if let teamRegions, !Self.within(d.region, teamRegions) { return .region }
        if let only, !only.contains(d.provider) { return .provider }
        if ignore.contains(d.provider) { return .provider }
        if !allowFallbacks, !order.isEmpty, only == nil, !order.contains(d.provider) { return .provider }
        if let max = maxPromptPrice, d.price.input > max { return .price }
        if let max = maxCompletionPrice, d.price.output > max { return .price }
        if let max = maxRequestUSD, d.price.cost(of: usage) > max { return .price }
        return nil
    }

    /// Whether a deployment's region is one of `globs` (a deployment of no known region is in none).
    static func within(_ region: String?, _ globs: [String]) -> Bool {
        guard let region else { return false }
        return globs.contains { globMatch($0, region) }
    }

    /// Why a deployment is passed over.
    public enum Exclusion: String, Sendable {
        /// Outside the key's regions.
        case region
        /// Not among the providers the request allows.
        case provider
        /// Dearer than the request's price limits.
        case price
    }

    /// Whether this policy chooses among deployments itself (an order or a sort) rather than the balancer.
    public var ranks: Bool { !order.isEmpty || sort != nil }

    /// The best of `candidates` (indices into `model.deployments`) by `order`, then `sort`; ties keep their order.
    public func best(_ candidates: [Int], of model: RoutedModel, latency: LatencyBook) -> Int? {
        func rank(_ i: Int) -> (Int, Double) {
            let d = model.deployments[i]
            let place = order.firstIndex(of: d.provider) ?? order.count
            let key: Double = switch sort {
            case .price: d.price.input + d.price.output
            case .latency, .throughput: latency.percentile(d.slot, 50) ?? 0
            case nil: 0
            }
            return (place, key)
        }
        return candidates.enumerated().min { a, b in
            let (ra, rb) = (rank(a.element), rank(b.element))
            return ra != rb ? ra < rb : a.offset < b.offset
        }?.element
    }
}
