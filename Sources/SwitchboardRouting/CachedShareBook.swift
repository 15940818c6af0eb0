import SwitchboardCore
import Synchronization

/// Per deployment slot, the share of prompt tokens its provider served from its prompt cache lately: an
/// exponentially weighted average over answered attempts, each weighing ``weight``. "Cheapest capable" prices a
/// request's expected prompt with it (``expectedCost(_:usage:)``), so a deployment whose cache keeps hitting at a
/// cheap cached-input price can win over one that is nominally cheaper. One uncontended lock, never held across
/// an await; starts at 0 (no discount until one is seen).
public final class CachedShareBook: Sendable {
    /// The weight of each new observation.
    public static let weight = 0.1
    private let shares: Mutex<[Double]>

    public init(count: Int) { shares = Mutex([Double](repeating: 0, count: count)) }

    /// The observed cached share of `slot` (0...1).
    public func share(_ slot: Int) -> Double { shares.withLock { slot < $0.count ? $0[slot] : 0 } }

    /// An attempt on `slot` answered with `usage`: moves its share towards this answer's (answers without prompt
    /// tokens say nothing about the cache and are ignored).
    public func observe(_ slot: Int, usage: Usage) {
        guard usage.promptTokens > 0 else { return }
        let observed = min(max(Double(usage.cachedTokens) / Double(usage.promptTokens), 0), 1)
        shares.withLock { s in
            guard slot < s.count else { return }
            s[slot] += Self.weight * (observed - s[slot])
        }
    }

    /// The usage a request of `usage` is expected to have on `slot`: `usage` with the slot's cached share of its
    /// prompt tokens counted as cached.
    public func expectedUsage(_ slot: Int, usage: Usage) -> Usage {
        var expected = usage
        expected.cachedTokens = Int((share(slot) * Double(max(usage.promptTokens, 0))).rounded())
        return expected
    }
}

extension RoutingTable {
    /// Expected USD of a request of `usage` on deployment `d`: cached share × prompt × cached price + the rest of the
    /// prompt × input price + output × output price (``CachedShareBook``).
    public func expectedCost(_ d: RoutedDeployment, usage: Usage) -> Double {
        d.price.cost(of: cachedShares.expectedUsage(d.slot, usage: usage))
    }
}

extension AttemptLease {
    /// The answer ended with `usage` (after `firstByte`): as `finished(latencyMs:tokens:)`, and the deployment's
    /// observed cached share learns from it.
    public func finished(latencyMs: Double, usage: Usage?) {
        if let usage { table.cachedShares.observe(slot, usage: usage) }
        finished(latencyMs: latencyMs, tokens: usage?.totalTokens)
    }
}
