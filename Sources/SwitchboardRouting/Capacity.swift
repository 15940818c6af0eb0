import SwitchboardCore
import Synchronization

/// The pure state of one deployment's caps (`rpm`, `tpm`, `max_concurrent`).
///
/// Requests and tokens are counted in 60 one-second buckets, so "per minute" means the last 60 whole seconds
/// (a request ages out between 59 and 60 s after it started). Tokens are charged with an estimate when the
/// request starts and corrected with the actual usage when it ends.
public struct CapacityWindow: Sendable, Equatable {
    public var limits: DeploymentLimits
    private var requests = [Int](repeating: 0, count: 60)
    private var tokens = [Int](repeating: 0, count: 60)
    /// The sums of `requests` and of `tokens`, kept as they change (read for every request).
    private var requestTotal = 0
    private var tokenTotal = 0
    private var second: Int = 0
    public private(set) var inFlight = 0

    public init(limits: DeploymentLimits) { self.limits = limits }

    /// A window rebuilt from stored counts: requests and tokens per whole second (older than 60 s are ignored).
    public init(limits: DeploymentLimits, nowMs: Double, seconds: [(second: Int, requests: Int, tokens: Int)], inFlight: Int) {
        self.limits = limits
        second = Int((nowMs / 1000).rounded(.down))
        for s in seconds where s.second > second - 60 && s.second <= second {
            requests[s.second % 60] += s.requests
            tokens[s.second % 60] += s.tokens
            requestTotal += s.requests
            tokenTotal += s.tokens
        }
        self.inFlight = inFlight
    }

    /// Ages out buckets older than 60 s.
    private mutating func advance(to nowMs: Double) {
        let s = Int((nowMs / 1000).rounded(.down))
        guard s > second else { return }
        if s - second >= 60 {
            for i in 0..<60 { requests[i] = 0; tokens[i] = 0 }
            requestTotal = 0
            tokenTotal = 0
        } else {
            for t in (second + 1)...s {
                requestTotal -= requests[t % 60]
                tokenTotal -= tokens[t % 60]
                requests[t % 60] = 0
                tokens[t % 60] = 0
            }
        }
        second = s
    }

    public mutating func requestsInWindow(nowMs: Double) -> Int { advance(to: nowMs); return requestTotal }
    public mutating func tokensInWindow(nowMs: Double) -> Int { advance(to: nowMs); return tokenTotal }

    /// Whether a request estimated at `tokens` fits now.
    public mutating func hasRoom(tokens estimate: Int, nowMs: Double) -> Bool {
        if let c = limits.maxConcurrent, inFlight >= c { return false }
        guard limits.rpm != nil || limits.tpm != nil else { return true }
        advance(to: nowMs)
        if let rpm = limits.rpm, requestTotal >= rpm { return false }
        // A request larger than the whole tpm is let through when the window is empty, or it could never run.
        if let tpm = limits.tpm {
            if tokenTotal > 0, tokenTotal + estimate > tpm { return false }
        }
        return true
    }

    public mutating func acquire(tokens estimate: Int, nowMs: Double) {
        advance(to: nowMs)
        inFlight += 1
        requests[second % 60] += 1
        tokens[second % 60] += estimate
        requestTotal += 1
        tokenTotal += estimate
    }

    /// The request that started at `startedMs` ended; `actualTokens` (when known) replaces its estimate in the
    /// second it was charged to, if that second is still counted.
    public mutating func release(estimate: Int, actualTokens: Int?, startedMs: Double, nowMs: Double) {
        advance(to: nowMs)
        inFlight = max(0, inFlight - 1)
        let s = Int((startedMs / 1000).rounded(.down))
        if let actual = actualTokens, s > second - 60, s <= second {
            let corrected = max(0, tokens[s % 60] + actual - estimate)
            tokenTotal += corrected - tokens[s % 60]
            tokens[s % 60] = corrected
        }
    }

    /// Milliseconds until the oldest counted second ages out of the window (when a used place frees up); 0 when
    /// nothing is counted.
    public mutating func msUntilOldestAgesOut(nowMs: Double) -> Double {
        advance(to: nowMs)
        for age in stride(from: 59, through: 0, by: -1) where requests[(second - age + 600) % 60] > 0 || tokens[(second - age + 600) % 60] > 0 {
            return max(0, Double(second - age + 60) * 1000 - nowMs)
        }
        return 0
    }

    /// Milliseconds until a request could fit, assuming nothing else starts (0 if it fits now; the time until the
    /// oldest counted second ages out otherwise; nil when only in-flight requests ending can make room).
    public mutating func msUntilRoom(tokens estimate: Int, nowMs: Double) -> Double? {
        if hasRoom(tokens: estimate, nowMs: nowMs) { return 0 }
        if let c = limits.maxConcurrent, inFlight >= c { return nil }
        for ahead in 1...60 {
            // In `ahead` seconds the buckets of seconds second-59 … second-60+ahead have aged out.
            var r = 0, t = 0
            for age in 0..<(60 - ahead) { r += requests[(second - age + 600) % 60]; t += tokens[(second - age + 600) % 60] }
            let rpmOK = limits.rpm.map { r < $0 } ?? true
            let tpmOK = limits.tpm.map { t == 0 || t + estimate <= $0 } ?? true
            if rpmOK && tpmOK { return max(1, Double(second + ahead) * 1000 - nowMs) }
        }
        return 60_000
    }
}

/// The caps of every deployment, shared by all requests (slots as in `HealthBook`).
public final class CapacityBook: Sendable {
    private let windows: Mutex<[CapacityWindow]>
    private let limited: [Bool]
    public let now: @Sendable () -> Double

    public init(limits: [DeploymentLimits], now: @escaping @Sendable () -> Double) {
        windows = Mutex(limits.map(CapacityWindow.init(limits:)))
        limited = limits.map { !$0.isUnlimited }
        self.now = now
    }

    /// The candidates with room for a request of `tokens` (unlimited ones without taking the lock).
    public func withRoom(_ candidates: [Int], tokens: Int) -> [Int] {
        guard candidates.contains(where: { limited[$0] }) else { return candidates }
        let t = now()
        return windows.withLock { w in candidates.filter { !limited[$0] || w[$0].hasRoom(tokens: tokens, nowMs: t) } }
    }

    /// Takes room for one request if there is some (atomically: two requests cannot both take the last place).
    public func tryAcquire(_ slot: Int, tokens: Int) -> Bool {
        guard limited[slot] else { return true }
        let t = now()
        return windows.withLock { w in
            guard w[slot].hasRoom(tokens: tokens, nowMs: t) else { return false }
            w[slot].acquire(tokens: tokens, nowMs: t)
            return true
        }
    }

    public func release(_ slot: Int, estimate: Int, actualTokens: Int?, startedMs: Double) {
        guard limited[slot] else { return }
        let t = now()
        windows.withLock { $0[slot].release(estimate: estimate, actualTokens: actualTokens, startedMs: startedMs, nowMs: t) }
    }

    /// Milliseconds until one of `candidates` has room (nil when they wait on in-flight requests only).
    public func msUntilRoom(_ candidates: [Int], tokens: Int) -> Double? {
        let t = now()
        return windows.withLock { w in candidates.compactMap { w[$0].msUntilRoom(tokens: tokens, nowMs: t) }.min() }
    }

    public func snapshot(_ slot: Int) -> (inFlight: Int, requests: Int, tokens: Int) {
        let t = now()
        return windows.withLock { w in (w[slot].inFlight, w[slot].requestsInWindow(nowMs: t), w[slot].tokensInWindow(nowMs: t)) }
    }
}

extension CapacityBook {
    /// Takes over another book's counts (configuration reload): slot `i` here gets `old`'s slot `map[i]` — requests
    /// and tokens in the window, requests in flight — under this book's limits; nil stays empty.
    public func adopt(from old: CapacityBook, map: [Int?]) {
        let theirs = old.windows.withLock { $0 }
        windows.withLock { w in
            for (i, j) in map.enumerated() {
                guard let j, i < w.count, j < theirs.count else { continue }
                let limits = w[i].limits
                w[i] = theirs[j]
                w[i].limits = limits
            }
        }
    }
}
