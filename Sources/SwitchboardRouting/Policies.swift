import Foundation
import SwitchboardCore
import Synchronization

/// The generator balancers draw from (seeded: the same seed gives the same sequence).
public typealias SeededGenerator = SplitMix64

/// Uniformly at random among the candidates.
public final class RandomBalancer: Balancer {
    private let rng: Mutex<SeededGenerator>
    public init(seed: UInt64) { rng = Mutex(SeededGenerator(seed: seed)) }
    public func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        rng.withLock { candidates.randomElement(using: &$0) }
    }
}

/// The pure state of load-aware policies: requests in flight, requests still waiting for their first byte, and a
/// peak-sensitive moving average of time to first byte per deployment.
///
/// Peak EWMA (as in Finagle and Linkerd): a sample above the average replaces it at once, a sample below decays it
/// with time constant `tau`, so a slow deployment is avoided immediately and re-trusted gradually.
public struct LoadState: Sendable, Equatable {
    /// Requests in flight (a stream until it ends): "connections".
    public private(set) var outstanding: [Int]
    /// Requests sent and not answered yet: the provider's queue as this gateway sees it.
    public private(set) var awaiting: [Int]
    public private(set) var ewmaMs: [Double?]
    private var lastUpdate: [Double]
    /// The last sample was a failure: the next answer replaces the estimate (the deployment recovered).
    private var lastFailed: [Bool]
    /// How many waiting requests double a deployment's cost (its concurrency; 1 is the classic p2c formula).
    public let capacity: [Double]
    public let tauMs: Double
    /// How fast an estimate without samples drifts towards the best one.
    public let idleTauMs: Double

    public init(count: Int, tauMs: Double = 10_000, idleTauMs: Double = 60_000, capacity: [Double]? = nil) {
        self.idleTauMs = idleTauMs
        self.capacity = capacity ?? Array(repeating: 1, count: count)
        lastFailed = Array(repeating: false, count: count)
        outstanding = Array(repeating: 0, count: count)
        awaiting = Array(repeating: 0, count: count)
        ewmaMs = Array(repeating: nil, count: count)
        lastUpdate = Array(repeating: 0, count: count)
        self.tauMs = tauMs
    }

    /// Deployment `i` takes over `other`'s deployment `j` (configuration reload): its latency estimate and requests in
    /// flight and waiting.
    public mutating func adopt(_ i: Int, from other: LoadState, _ j: Int) {
        guard outstanding.indices.contains(i), other.outstanding.indices.contains(j) else { return }
        outstanding[i] = other.outstanding[j]
        awaiting[i] = other.awaiting[j]
        ewmaMs[i] = other.ewmaMs[j]
        lastUpdate[i] = other.lastUpdate[j]
        lastFailed[i] = other.lastFailed[j]
    }

    public mutating func started(_ i: Int) {
        guard outstanding.indices.contains(i) else { return }
        outstanding[i] += 1
        awaiting[i] += 1
    }

    /// The first byte arrived after `latencyMs`: a sample, and no longer waiting (still in flight).
    public mutating func answered(_ i: Int, latencyMs: Double, nowMs: Double) {
        guard outstanding.indices.contains(i) else { return }
        awaiting[i] = max(0, awaiting[i] - 1)
        observe(i, latencyMs, nowMs: nowMs)
    }

    /// Ends a request that was `answered`.
    public mutating func finishedAfterAnswer(_ i: Int) {
        guard outstanding.indices.contains(i) else { return }
        outstanding[i] = max(0, outstanding[i] - 1)
    }

    /// Ends a request that was not `answered`; `latencyMs` is its sample, nil when it failed. A failure leaves the
    /// estimate alone — failing deployments are the circuit breaker's business (it ejects them), and a fast failure
    /// must not look like a fast answer — but the next answer then replaces the estimate outright.
    public mutating func finished(_ i: Int, latencyMs: Double?, nowMs: Double) {
        guard outstanding.indices.contains(i) else { return }
        outstanding[i] = max(0, outstanding[i] - 1)
        awaiting[i] = max(0, awaiting[i] - 1)
        if let latencyMs { observe(i, latencyMs, nowMs: nowMs) } else { lastFailed[i] = true }
    }

    private mutating func observe(_ i: Int, _ sample: Double, nowMs: Double) {
        defer { lastFailed[i] = false }
        if let old = ewmaMs[i], sample < old, !lastFailed[i] {
            let w = exp(-max(nowMs - lastUpdate[i], 0) / tauMs)
            ewmaMs[i] = old * w + sample * (1 - w)
        } else {
            ewmaMs[i] = sample
        }
        lastUpdate[i] = nowMs
    }

    /// The latency estimate of `i` at `nowMs`. While a deployment gets no samples its estimate decays (time constant
    /// `idleTau`, 60 s) towards the best deployment's, so one that was slow once and then got no traffic is eventually tried
    /// again and can show it recovered — without being flooded while it is still slow.
    public func estimateMs(_ i: Int, nowMs: Double?) -> Double? {
        guard let v = ewmaMs[i] else { return nil }
        guard let now = nowMs, now > lastUpdate[i] else { return v }
        let floor = min(ewmaMs.compactMap { $0 }.min() ?? v, v)
        return floor + (v - floor) * exp(-(now - lastUpdate[i]) / idleTauMs)
    }

    /// The expected cost of sending one more request to `i`: its latency estimate × (1 + requests waiting on it /
    /// its capacity). Unmeasured deployments look as good as the best measured one, so they get tried.
    public func cost(_ i: Int, nowMs: Double? = nil) -> Double {
        let latency = estimateMs(i, nowMs: nowMs) ?? ewmaMs.indices.compactMap { estimateMs($0, nowMs: nowMs) }.min() ?? 1
        return max(latency, 0.001) * (1 + Double(awaiting[i]) / max(capacity[i], 1))
    }
}

/// A balancer driven by a `LoadState`, fed by the gateway's start and finish signals.
public class LoadAwareBalancer: Balancer, @unchecked Sendable {
    let state: Mutex<(load: LoadState, rng: SeededGenerator)>
    let now: @Sendable () -> Double

    /// - Parameters:
    ///   - now: the clock in milliseconds (injected; tests use a manual one).
    ///   - capacity: per deployment, how many waiting requests double its cost (default 1).
    public init(count: Int, seed: UInt64, now: @escaping @Sendable () -> Double, capacity: [Double]? = nil) {
        state = Mutex((LoadState(count: count, capacity: capacity), SeededGenerator(seed: seed)))
        self.now = now
    }

    public func choose(among candidates: [Int], context: BalancingContext) -> Int? { nil }

    public func started(_ index: Int) { state.withLock { $0.load.started(index) } }

    public func finished(_ index: Int, latencyMs: Double?) {
        let t = now()
        state.withLock { $0.load.finished(index, latencyMs: latencyMs, nowMs: t) }
    }

    public func answered(_ index: Int, latencyMs: Double) {
        let t = now()
        state.withLock { $0.load.answered(index, latencyMs: latencyMs, nowMs: t) }
    }

    public func finishedAfterAnswer(_ index: Int) { state.withLock { $0.load.finishedAfterAnswer(index) } }

    public var load: LoadState { state.withLock { $0.load } }
}

/// Least outstanding requests ("least connections"); ties broken at random.
public final class LeastOutstandingBalancer: LoadAwareBalancer, @unchecked Sendable {
    public override func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        state.withLock { s in
            guard let fewest = candidates.map({ s.load.outstanding[$0] }).min() else { return nil }
            return candidates.filter { s.load.outstanding[$0] == fewest }.randomElement(using: &s.rng)
        }
    }
}

/// Power of two choices on peak-EWMA latency × (1 + waiting requests / capacity): two random candidates, the
/// cheaper wins. Nearly as good as always picking the best, without herding every request onto it. "Waiting" counts
/// requests sent and not yet answered (a stream that is generating no longer waits); capacity is the deployment's
/// `max_concurrent`, or 8 — model APIs serve many requests at once, and counting every waiting request as a full
/// queue (the RPC formula) sends a slow deployment a few per cent of traffic at moderate load.
public final class P2CEWMABalancer: LoadAwareBalancer, @unchecked Sendable {
    public override func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        let t = now()
        return state.withLock { s in
            guard candidates.count > 1 else { return candidates.first }
            let a = candidates.randomElement(using: &s.rng)!
            var b = candidates.randomElement(using: &s.rng)!
            while b == a { b = candidates.randomElement(using: &s.rng)! }
            return s.load.cost(a, nowMs: t) <= s.load.cost(b, nowMs: t) ? a : b
        }
    }
}

/// The lowest peak-EWMA latency; unmeasured deployments first, ties at random.
public final class LowestLatencyBalancer: LoadAwareBalancer, @unchecked Sendable {
    public override func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        let t = now()
        return state.withLock { s in
            let unmeasured = candidates.filter { s.load.ewmaMs[$0] == nil }
            if !unmeasured.isEmpty { return unmeasured.randomElement(using: &s.rng) }
            guard let best = candidates.compactMap({ s.load.estimateMs($0, nowMs: t) }).min() else { return nil }
            return candidates.filter { s.load.estimateMs($0, nowMs: t) == best }.randomElement(using: &s.rng)
        }
    }
}

/// The cheapest deployment by price (input + output per 1M tokens); ties in turn.
public final class LeastCostBalancer: Balancer {
    /// Deployment `i`'s price now (a pricing source may change it).
    let price: @Sendable (Int) -> Price
    let rotation = RoundRobinBalancer()
    public convenience init(prices: [Price]) { self.init(price: { prices[$0] }) }
    public init(price: @escaping @Sendable (Int) -> Price) { self.price = price }
    public func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        let totals = candidates.map { price($0).input + price($0).output }
        guard let cheapest = totals.min() else { return nil }
        return rotation.choose(among: zip(candidates, totals).filter { $0.1 == cheapest }.map(\.0), context: context)
    }
}

/// Affinity: the same key (a session header, the `user` field, or the prompt's beginning) goes to the same
/// deployment while it is eligible — rendezvous hashing, so removing one deployment only moves its own keys.
/// Without a key it falls back to round-robin.
public final class ConsistentHashBalancer: Balancer {
    let fallback = RoundRobinBalancer()
    public init() {}
    public func choose(among candidates: [Int], context: BalancingContext) -> Int? {
        guard let key = context.affinityKey else { return fallback.choose(among: candidates, context: context) }
        let h = Self.hash(key)
        return candidates.max { Self.mix(h, $0) < Self.mix(h, $1) }
    }

    static func hash(_ s: String) -> UInt64 { stableHash(s) }

    static func mix(_ h: UInt64, _ i: Int) -> UInt64 {
        var g = SeededGenerator(seed: h ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }
}
