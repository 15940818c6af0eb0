import SwitchboardCore
import Synchronization

extension BackoffConfig {
    /// The wait before the `n`-th back-off (1-based): `base × 2^(n-1)` capped at `max`, of which half is fixed and
    /// half drawn at random ("equal jitter"), so retries of many requests spread out but none retries at once.
    public func delayMs(_ n: Int, using rng: inout some RandomNumberGenerator) -> Double {
        let full = min(maxMs, baseMs * Double(1 << min(max(n - 1, 0), 30)))
        return full / 2 + Double.random(in: 0...1, using: &rng) * full / 2
    }
}

/// Recent times to first byte per deployment, for hedging thresholds ("the p95 of this deployment").
public final class LatencyBook: Sendable {
    public static let window = 64
    public static let minimumSamples = 20
    private let rings: Mutex<[Ring]>

    struct Ring {
        var samples: [Double] = []
        var next = 0
        mutating func add(_ v: Double) {
            if samples.count < LatencyBook.window { samples.append(v) } else { samples[next] = v }
            next = (next + 1) % LatencyBook.window
        }
    }

    public init(count: Int) { rings = Mutex(Array(repeating: Ring(), count: count)) }

    /// Takes over another book's samples (configuration reload): slot `i` gets `old`'s slot `map[i]` (nil: none).
    public func adopt(from old: LatencyBook, map: [Int?]) {
        let theirs = old.rings.withLock { $0 }
        rings.withLock { r in
            for (i, j) in map.enumerated() where i < r.count { if let j, j < theirs.count { r[i] = theirs[j] } }
        }
    }

    public func add(_ slot: Int, ms: Double) { rings.withLock { $0[slot].add(ms) } }

    /// The `p`-th percentile (0–100, nearest rank) of the last samples, nil with fewer than `minimumSamples`.
    public func percentile(_ slot: Int, _ p: Double) -> Double? {
        let samples = rings.withLock { $0[slot].samples }
        guard samples.count >= Self.minimumSamples else { return nil }
        let sorted = samples.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank - 1, 0), sorted.count - 1)]
    }
}
