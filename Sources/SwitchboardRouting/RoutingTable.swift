import SwitchboardCore
import Synchronization

/// A deployment of a public model: where it goes (provider, upstream model), what it can do, what it costs, and its
/// time limits.
public struct RoutedDeployment: Sendable {
    /// Its slot in the shared health, capacity and latency books (one per provider + upstream model).
    public let slot: Int
    /// The configured provider's name.
    public let provider: String
    /// The model's name at the provider.
    public let upstreamModel: String
    public let capabilities: Capabilities
    /// The configured price (USD per million tokens).
    public let configuredPrice: Price
    /// Prices from a pricing source, when one is configured.
    let prices: PriceBook?
    /// Its price now: the pricing source's, else the configured one.
    public var price: Price { prices?.price(slot) ?? configuredPrice }
    /// Its connect, first-token, idle and total limits; `total` is always set (`routing.total_timeout_s` when the
    /// deployment sets none): every attempt ends at some point.
    public let timeouts: DeploymentTimeouts
    /// Its provider's `region`, when set.
    public let region: String?
}

/// A public model as routing sees it: deployments, balancer, attempt budget, fallbacks, hedging.
public final class RoutedModel: Sendable {
    public let name: String
    public let deployments: [RoutedDeployment]
    /// Its balancing policy, as configured.
    public let policy: String
    public let balancer: any Balancer
    public let maxAttempts: Int
    public let deadlineMs: Double
    public let fallbacks: [String]
    public let contextWindowFallbacks: [String]
    public let contentPolicyFallbacks: [String]
    public let hedge: HedgeConfig?

    init(_ m: ModelConfig, slots: [Int], routing: RoutingConfig, regions: [String: String], prices: PriceBook?, seed: UInt64,
         now: @escaping @Sendable () -> Double) {
        name = m.name
        let routed = zip(m.deployments, slots).map { d, slot in
            var timeouts = d.timeouts
            timeouts.totalSeconds = timeouts.totalSeconds ?? routing.totalTimeoutSeconds
            return RoutedDeployment(slot: slot, provider: d.provider, upstreamModel: d.model, capabilities: d.capabilities, configuredPrice: d.price,
                                    prices: prices, timeouts: timeouts, region: regions[d.provider])
        }
        deployments = routed
        policy = m.balancing.rawValue
        balancer = makeBalancer(m.balancing, deployments: m.deployments, seed: seed ^ stableHash(m.name), now: now, price: { routed[$0].price })
        maxAttempts = 1 + (m.retries ?? routing.retries)
        deadlineMs = (m.deadlineSeconds ?? routing.deadlineSeconds) * 1000
        fallbacks = m.fallbacks
        contextWindowFallbacks = m.contextWindowFallbacks ?? m.fallbacks
        contentPolicyFallbacks = m.contentPolicyFallbacks ?? m.fallbacks
        hedge = m.hedge
    }
}

/// Everything routing knows, shared by all requests: models, and per deployment slot its health, caps and recent
/// latency. Pure logic over an injected clock (milliseconds): the gateway runs it on the real clock, the simulator
/// on a virtual one.
public final class RoutingTable: Sendable {
    public let models: [String: RoutedModel]
    /// Public model names in configuration order.
    public let modelNames: [String]
    public let health: HealthBook
    public let capacity: CapacityBook
    public let latency: LatencyBook
    public let backoff: BackoffConfig
    public let defaultFallback: String?
    /// Prices from `router.pricing`, per slot (nil: no pricing source).
    public let prices: PriceBook?
    /// Each slot's observed share of prompt tokens served from cache, for expected costs.
    public let cachedShares: CachedShareBook
    /// "provider/model" of each slot.
    public let slotNames: [String]
    /// Each slot's limits and timeouts (from the first deployment that uses it).
    public let slotDeployments: [DeploymentConfig]
    public let now: @Sendable () -> Double
    private let seeds: Mutex<SplitMix64>
    /// The table that replaced this one after a configuration reload (RoutingTable+Adopt.swift).
    public let succession = TableSuccession()

    public init(config: GatewayConfig, seed: UInt64, now: @escaping @Sendable () -> Double) {
        var slotOf: [String: Int] = [:]
        var slotDeployments: [DeploymentConfig] = []
        var names: [String] = []
        for m in config.models {
            for d in m.deployments where slotOf["\(d.provider)/\(d.model)"] == nil {
                slotOf["\(d.provider)/\(d.model)"] = slotDeployments.count
                slotDeployments.append(d)
                names.append("\(d.provider)/\(d.model)")
            }
        }
        health = HealthBook(count: slotDeployments.count, policy: CircuitBreaker.Policy(config.routing.health), now: now)
        capacity = CapacityBook(limits: slotDeployments.map(\.limits), now: now)
        latency = LatencyBook(count: slotDeployments.count)
        cachedShares = CachedShareBook(count: slotDeployments.count)
        let prices = config.router.pricing == nil ? nil : PriceBook(slots: slotDeployments.count)
        self.prices = prices
        var models: [String: RoutedModel] = [:]
        var regions: [String: String] = [:]
        for p in config.providers { regions[p.name] = p.region }
        for m in config.models {
            let slots = m.deployments.map { slotOf["\($0.provider)/\($0.model)"]! }
            models[m.name] = RoutedModel(m, slots: slots, routing: config.routing, regions: regions, prices: prices, seed: seed, now: now)
        }
        self.models = models
        modelNames = config.models.map(\.name)
        backoff = config.routing.backoff
        defaultFallback = config.routing.defaultFallback
        slotNames = names
        self.slotDeployments = slotDeployments
        self.now = now
        seeds = Mutex(SplitMix64(seed: seed ^ 0x5EED))
    }

    /// Plans one request for `model` (which must exist).
    public func plan(model: String, needs: RequestNeeds, affinityKey: String? = nil, escalation: [String]? = nil,
                     policy: DeploymentPolicy = .init(), expectedOutputTokens: Int = 256,
                     allows: @escaping @Sendable (String) -> Bool = { _ in true }) -> RoutePlan? {
        guard let m = models[model] else { return nil }
        let seed = seeds.withLock { $0.next() }
        return RoutePlan(table: self, model: m, needs: needs, affinityKey: affinityKey, seed: seed, escalation: escalation, policy: policy,
                         expectedOutputTokens: expectedOutputTokens, allows: allows)
    }

    /// The slots of a provider's deployments (for active health checks).
    public func slots(ofProvider provider: String) -> [Int] {
        slotDeployments.indices.filter { slotDeployments[$0].provider == provider }
    }

    /// How long to wait for a first byte before hedging an attempt on `slot`, when `model` hedges.
    public func hedgeDelayMs(_ model: RoutedModel, slot: Int) -> Double? {
        guard let hedge = model.hedge else { return nil }
        if let p = hedge.percentile, let v = latency.percentile(slot, p) { return max(v, 1) }
        return hedge.afterMs
    }
}

/// One attempt in flight on one deployment. It holds the deployment's capacity and load count until it ends, and
/// reports its end exactly once: if it is dropped without one (a hedge that lost, a stream the client abandoned
/// before it began), it ends as abandoned — so in-flight counts cannot leak.
public final class AttemptLease: Sendable {
    public let model: RoutedModel
    /// Index into `model.deployments`.
    public let deployment: Int
    public let slot: Int
    /// Tokens charged to the deployment's `tpm` up front.
    public let estimatedTokens: Int
    /// Why this attempt exists.
    public let reason: RoutePlan.Reason
    /// Milliseconds to wait before sending it (back-off).
    public let delayMs: Double
    let table: RoutingTable
    let started: Double
    private let ended = Atomic<Bool>(false)
    private let answered = Atomic<Bool>(false)
    /// Started before its table was succeeded (so counted in the successor's copy): its events are handed on.
    private let forwards: Bool

    init(table: RoutingTable, model: RoutedModel, deployment: Int, estimatedTokens: Int, reason: RoutePlan.Reason, delayMs: Double) {
        self.table = table
        self.model = model
        self.deployment = deployment
        self.slot = model.deployments[deployment].slot
        self.estimatedTokens = estimatedTokens
        self.reason = reason
        self.delayMs = delayMs
        started = table.now()
        model.balancer.started(deployment)
        forwards = !table.succession.isSet
    }

    deinit { end(latencyMs: table.now() - started, tokens: 0, health: .abandoned) }

    enum HealthEffect { case none, succeeded, failed, rateLimited(Double?), abandoned }

    private func end(latencyMs: Double?, tokens: Int?, health: HealthEffect) {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if forwards, table.succession.isSet {
            table.forward(.ended(answered: answered.load(ordering: .acquiring), latencyMs: latencyMs, tokens: tokens, estimate: estimatedTokens,
                                 startedMs: started, health: health), slot: slot, model: model.name)
        }
        if answered.load(ordering: .acquiring) {
            model.balancer.finishedAfterAnswer(deployment)
        } else {
            model.balancer.finished(deployment, latencyMs: latencyMs)
        }
        table.capacity.release(slot, estimate: estimatedTokens, actualTokens: tokens, startedMs: started)
        switch health {
        case .none: break
        case .succeeded: table.health.succeeded(slot)
        case .failed: table.health.failed(slot)
        case .rateLimited(let ms): table.health.rateLimited(slot, retryAfterMs: ms)
        case .abandoned: table.health.abandoned(slot)
        }
    }

    /// The first byte arrived: the deployment is healthy. The attempt stays in flight until `finished`.
    public func firstByte(ttftMs: Double) {
        guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
        model.balancer.answered(deployment, latencyMs: ttftMs)
        table.health.succeeded(slot)
        table.latency.add(slot, ms: ttftMs)
        if forwards, table.succession.isSet { table.forward(.answered(ttftMs: ttftMs), slot: slot, model: model.name) }
    }

    /// The answer ended (after `firstByte`, which gave the balancer its latency sample).
    public func finished(latencyMs: Double, tokens: Int?) { end(latencyMs: latencyMs, tokens: tokens, health: .none) }

    /// The stream broke after it had begun.
    public func brokeMidStream(tokens: Int?) { end(latencyMs: nil, tokens: tokens, health: .failed) }

    /// Failed before a first byte.
    public func failed(_ failure: RoutePlan.Failure) {
        let elapsed = table.now() - started
        switch failure {
        case .rateLimited(let ms): end(latencyMs: nil, tokens: 0, health: .rateLimited(ms))
        case .failed: end(latencyMs: nil, tokens: 0, health: .failed)
        // The deployment answered: it is healthy, and the answer's time is a fair latency sample.
        case .contextTooLong, .contentRefused, .clientError: end(latencyMs: elapsed, tokens: 0, health: .succeeded)
        }
    }

    /// Given up without an answer (a hedge that lost): no verdict on health; its elapsed time is a lower bound of its
    /// latency, which the balancer gets.
    public func abandon() { end(latencyMs: table.now() - started, tokens: 0, health: .abandoned) }
}
