import SwitchboardCore
import Synchronization

/// What a balancer may know about the request it is placing. Everything is optional: a balancer must work
/// with an empty context.
public struct BalancingContext: Sendable {
    /// 1 for the first attempt, 2 for the first retry, …
    public var attempt: Int
    /// What keeps a conversation on one deployment (for `consistent-hash`), when the request has one.
    public var affinityKey: String?
    public init(attempt: Int = 1, affinityKey: String? = nil) {
        self.attempt = attempt
        self.affinityKey = affinityKey
    }
}

/// Chooses which deployment of a model serves an attempt.
///
/// `candidates` are indices into the model's deployment list, already filtered to the eligible ones (not yet
/// tried, and later: healthy, under their caps). A balancer returns one of them, or nil only when the list is empty.
public protocol Balancer: Sendable {
    func choose(among candidates: [Int], context: BalancingContext) -> Int?
    /// An attempt went to deployment `index` (load-aware policies count it).
    func started(_ index: Int)
    /// It answered: its first byte came after `latencyMs`. It stays in flight until `finishedAfterAnswer`.
    func answered(_ index: Int, latencyMs: Double)
    func finishedAfterAnswer(_ index: Int)
    /// It ended without `answered`: `latencyMs` is its latency sample, nil when it failed.
    func finished(_ index: Int, latencyMs: Double?)
}

extension Balancer {
    public func started(_ index: Int) {}
    public func answered(_ index: Int, latencyMs: Double) {}
    public func finishedAfterAnswer(_ index: Int) {}
    public func finished(_ index: Int, latencyMs: Double?) {}
}

/// The balancer for a model's configured policy over its deployments.
/// - Parameters:
///   - seed: seeds the policies that draw at random (same seed, same sequence).
///   - now: milliseconds on a monotonic clock (injected so tests and the simulator control time).
public func makeBalancer(_ policy: BalancingPolicyName, deployments: [DeploymentConfig], seed: UInt64,
                         now: @escaping @Sendable () -> Double, price: (@Sendable (Int) -> Price)? = nil) -> any Balancer {
    let n = deployments.count
    switch policy {
    case .roundRobin: return RoundRobinBalancer()
    case .weighted: return WeightedRoundRobinBalancer(weights: deployments.map(\.weight))
    case .random: return RandomBalancer(seed: seed)
    case .leastOutstanding: return LeastOutstandingBalancer(count: n, seed: seed, now: now)
    case .p2cEWMA: return P2CEWMABalancer(count: n, seed: seed, now: now, capacity: deployments.map { Double($0.limits.maxConcurrent ?? 8) })
    case .lowestLatency: return LowestLatencyBalancer(count: n, seed: seed, now: now)
    case .leastCost:
        let configured = deployments.map(\.price)
        return LeastCostBalancer(price: price ?? { configured[$0] })
    case .consistentHash: return ConsistentHashBalancer()
    }
}

// MARK: - Round robin

/// The pure state of round-robin: a cursor over deployment indices.
public struct RoundRobinState: Sendable, Equatable {
    public private(set) var cursor: Int = 0
    public init() {}

    /// The first candidate at or after the cursor (wrapping). A first attempt advances the cursor past it; a retry
    /// (`advance: false`) does not, so a failing deployment does not shift the rotation of later requests.
    public mutating func pick(among candidates: [Int], advance: Bool = true) -> Int? {
        guard let first = candidates.min() else { return nil }
        let chosen = candidates.filter { $0 >= cursor }.min() ?? first
        if advance { cursor = chosen + 1 }
        return chosen
    }
}

/// Each deployment in turn, shared by all requests of a model.
public final class RoundRobinBalancer: Balancer {
    private let state = Mutex(RoundRobinState())
    public init() {}
    public func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        state.withLock { $0.pick(among: candidates, advance: context.attempt == 1) }
    }
}

// MARK: - Smooth weighted round robin

/// The pure state of smooth weighted round-robin (as in nginx): every pick adds each eligible deployment's weight
/// to its running score and takes the highest, which then pays back the total. Over any window of
/// `sum(weights)` picks each deployment is chosen exactly `weight` times, interleaved rather than in bursts.
public struct SmoothWeightedState: Sendable, Equatable {
    public let weights: [Int]
    public private(set) var scores: [Int]

    public init(weights: [Int]) {
        self.weights = weights.map { max($0, 1) }
        self.scores = Array(repeating: 0, count: weights.count)
    }

    /// Picks among `candidates`. A retry (`advance: false`) takes the candidate that would win next without
    /// changing any score, so retries do not disturb the split of first attempts.
    public mutating func pick(among candidates: [Int], advance: Bool = true) -> Int? {
        let valid = candidates.filter { $0 >= 0 && $0 < weights.count }
        guard !valid.isEmpty else { return nil }
        guard advance else { return valid.max { scores[$0] + weights[$0] < scores[$1] + weights[$1] } }
        var total = 0
        var best = valid[0]
        for i in valid {
            scores[i] += weights[i]
            total += weights[i]
            if scores[i] > scores[best] { best = i }
        }
        scores[best] -= total
        return best
    }
}

/// In turn, in proportion to each deployment's `weight`.
public final class WeightedRoundRobinBalancer: Balancer {
    private let state: Mutex<SmoothWeightedState>
    public init(weights: [Int]) { state = Mutex(SmoothWeightedState(weights: weights)) }
    public func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        state.withLock { $0.pick(among: candidates, advance: context.attempt == 1) }
    }
}
