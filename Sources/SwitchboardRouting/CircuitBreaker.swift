import SwitchboardCore
import Synchronization

/// Passive health of one deployment, as a pure state machine driven by attempt outcomes and a clock in ms.
///
/// closed → (`failureThreshold` consecutive failures, or a failure ratio of at least `errorRatio` over the last
/// `ratioWindow` outcomes) → open for `baseEjectionMs × 2^(ejections)` (capped) →
/// half-open: exactly one probe request; success closes (and forgets the back-off), failure re-opens for longer.
/// A 429 is not a failure: it puts the deployment in cooldown until its `Retry-After`, health unchanged.
/// Each change of state is returned as a `HealthTransition` (with why) for the deployment's event log.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(untilMs: Double)
        case halfOpen(probeInFlight: Bool)
    }

    public struct Policy: Sendable, Equatable {
        public var failureThreshold = 5
        public var baseEjectionMs = 5_000.0
        public var maxEjectionMs = 300_000.0
        public var defaultCooldownMs = 1_000.0
        /// Eject when at least this fraction of the last `ratioWindow` outcomes failed (nil: consecutive failures only).
        public var errorRatio: Double? = 0.5
        /// Outcomes the ratio is taken over (2…64); no ratio ejection before this many.
        public var ratioWindow = 20
        public init() {}

        /// The policy of `routing.health`.
        public init(_ config: HealthPolicyConfig) {
            failureThreshold = config.failureThreshold
            baseEjectionMs = config.ejectionSeconds * 1000
            maxEjectionMs = config.maxEjectionSeconds * 1000
            defaultCooldownMs = config.cooldownSeconds * 1000
            errorRatio = config.errorRatio
            ratioWindow = config.minRequests
        }
    }

    public private(set) var state = State.closed(consecutiveFailures: 0)
    /// How many times in a row it has been ejected (drives the back-off).
    public private(set) var ejections = 0
    public private(set) var cooldownUntilMs = 0.0
    /// The last outcomes while closed, newest in bit 0 (1 = failure), and how many are recorded.
    private var outcomes: UInt64 = 0
    private var recorded = 0
    /// Set while active health checks say the deployment is down: it is not tried, whatever the passive state.
    public var activelyDown = false
    public let policy: Policy

    public init(policy: Policy = Policy()) { self.policy = policy }

    /// Whether a request may go to this deployment now. Moving from open to half-open hands out the one probe.
    public mutating func admit(nowMs: Double) -> Bool { admitting(nowMs: nowMs).admitted }

    /// `admit`, and the move to half-open when this request is the trial.
    public mutating func admitting(nowMs: Double) -> (admitted: Bool, transition: HealthTransition?) {
        guard nowMs >= cooldownUntilMs, !activelyDown else { return (false, nil) }
        switch state {
        case .closed: return (true, nil)
        case .open(let until):
            guard nowMs >= until else { return (false, nil) }
            state = .halfOpen(probeInFlight: true)
            return (true, HealthTransition(.halfOpen, "ejection over: one trial request let through"))
        case .halfOpen(let probing):
            guard !probing else { return (false, nil) }
            state = .halfOpen(probeInFlight: true)
            return (true, nil)
        }
    }

    /// Whether it would admit a request now, without taking the probe.
    public func isAvailable(nowMs: Double) -> Bool {
        guard nowMs >= cooldownUntilMs, !activelyDown else { return false }
        switch state {
        case .closed: return true
        case .open(let until): return nowMs >= until
        case .halfOpen(let probing): return !probing
        }
    }

    @discardableResult
    public mutating func succeeded() -> HealthTransition? {
        var transition: HealthTransition?
        switch state {
        case .closed: push(failed: false)
        case .halfOpen:
            (outcomes, recorded) = (0, 0)
            transition = HealthTransition(.closed, "recovered after a successful trial request")
        case .open:
            (outcomes, recorded) = (0, 0)
            transition = HealthTransition(.closed, "recovered: a request sent before the ejection succeeded")
        }
        state = .closed(consecutiveFailures: 0)
        ejections = 0
        return transition
    }

    private mutating func push(failed: Bool) {
        let window = min(max(policy.ratioWindow, 2), 64)
        outcomes = (outcomes << 1 | (failed ? 1 : 0)) & (window == 64 ? ~0 : (1 << UInt64(window)) - 1)
        recorded = min(recorded + 1, window)
    }

    /// The failure ratio over the window, once it is full.
    var windowRatio: Double? {
        let window = min(max(policy.ratioWindow, 2), 64)
        guard recorded >= window else { return nil }
        return Double(outcomes.nonzeroBitCount) / Double(window)
    }

    @discardableResult
    public mutating func failed(nowMs: Double) -> HealthTransition? {
        switch state {
        case .closed(let n):
            push(failed: true)
            if n + 1 >= policy.failureThreshold {
                let why = n == 0 ? "1 failure" : "\(n + 1) consecutive failures"
                return HealthTransition(.open, "\(why); ejected for \(describeMs(eject(nowMs)))")
            }
            if let r = policy.errorRatio, let ratio = windowRatio, ratio >= r {
                let why = "\(Int((ratio * 100).rounded()))% of the last \(recorded) requests failed"
                return HealthTransition(.open, "\(why); ejected for \(describeMs(eject(nowMs)))")
            }
            state = .closed(consecutiveFailures: n + 1)
            return nil
        case .halfOpen:
            return HealthTransition(.open, "trial request failed; ejected for \(describeMs(eject(nowMs)))")
        case .open:
            return nil     // an attempt that started before the ejection ended late
        }
    }

    /// An admitted request was given up before it ended (a hedge that lost): it says nothing about health, but a
    /// half-open probe it held is handed back.
    public mutating func abandoned() {
        if case .halfOpen(true) = state { state = .halfOpen(probeInFlight: false) }
    }

    /// A 429: cooldown until `retryAfterMs` from now (or the default), health unchanged; a half-open probe is
    /// released so the next one can go once the cooldown ends.
    /// Returns the start of a cooldown (none when it only extends one under way).
    @discardableResult
    public mutating func rateLimited(nowMs: Double, retryAfterMs: Double?) -> HealthTransition? {
        let starts = nowMs >= cooldownUntilMs
        cooldownUntilMs = max(cooldownUntilMs, nowMs + (retryAfterMs ?? policy.defaultCooldownMs))
        if case .halfOpen = state { state = .halfOpen(probeInFlight: false) }
        guard starts else { return nil }
        return HealthTransition(.coolingDown, retryAfterMs.map { "rate limited, Retry-After \(describeMs($0))" }
                                    ?? "rate limited (no Retry-After): set aside for \(describeMs(policy.defaultCooldownMs))")
    }

    /// Active health checks' verdict; the change, when it is one, with `reason`.
    @discardableResult
    public mutating func setActivelyDown(_ down: Bool, reason: String) -> HealthTransition? {
        guard down != activelyDown else { return nil }
        activelyDown = down
        return HealthTransition(down ? .down : .up, reason)
    }

    /// Whether the next request would be its half-open probe (ejection over, probe not taken yet).
    public func awaitsProbe(nowMs: Double) -> Bool {
        guard isAvailable(nowMs: nowMs) else { return false }
        switch state {
        case .open, .halfOpen: return true
        case .closed: return false
        }
    }

    /// When it may next be tried (now if available).
    public func availableAtMs(nowMs: Double) -> Double {
        var t = max(nowMs, cooldownUntilMs)
        if case .open(let until) = state { t = max(t, until) }
        if activelyDown { t = max(t, nowMs + policy.baseEjectionMs) }     // until the next probes say otherwise
        return t
    }

    /// Opens the circuit; how long for.
    private mutating func eject(_ nowMs: Double) -> Double {
        let duration = min(policy.baseEjectionMs * Double(1 << min(ejections, 20)), policy.maxEjectionMs)
        ejections += 1
        state = .open(untilMs: nowMs + duration)
        outcomes = 0
        recorded = 0
        return duration
    }
}

/// The health of a model's deployments, shared by all requests, and each one's recent changes of state (at most
/// `HealthEventRing.capacity`, kept under the same lock and written only when the state changes).
public final class HealthBook: Sendable {
    struct Books: Sendable {
        var breakers: [CircuitBreaker]
        var events: [HealthEventRing]

        mutating func note(_ index: Int, _ transition: HealthTransition?, atMs: @autoclosure () -> Double) {
            if let transition { events[index].append(HealthEvent(atMs: atMs(), transition)) }
        }
    }

    private let books: Mutex<Books>
    public let now: @Sendable () -> Double

    public let count: Int

    public init(count: Int, policy: CircuitBreaker.Policy = .init(), now: @escaping @Sendable () -> Double) {
        self.count = count
        books = Mutex(Books(breakers: Array(repeating: CircuitBreaker(policy: policy), count: count),
                            events: Array(repeating: HealthEventRing(), count: count)))
        self.now = now
    }

    /// The candidates that may be tried now, in order (without taking probes; `admit` does that for the chosen one):
    /// `candidates` itself when all may, so that the common case copies nothing.
    public func available(_ candidates: [Int]) -> [Int] {
        let t = now()
        return books.withLock { b in
            candidates.allSatisfy { b.breakers[$0].isAvailable(nowMs: t) } ? candidates : candidates.filter { b.breakers[$0].isAvailable(nowMs: t) }
        }
    }

    public func admit(_ index: Int) -> Bool {
        let t = now()
        return books.withLock { b in
            let (admitted, transition) = b.breakers[index].admitting(nowMs: t)
            b.note(index, transition, atMs: t)
            return admitted
        }
    }

    public func succeeded(_ index: Int) {
        // The request path: the clock is read only when the state changes.
        books.withLock { b in b.note(index, b.breakers[index].succeeded(), atMs: self.now()) }
    }
    public func failed(_ index: Int) {
        let t = now()
        books.withLock { b in b.note(index, b.breakers[index].failed(nowMs: t), atMs: t) }
    }
    public func abandoned(_ index: Int) { books.withLock { $0.breakers[index].abandoned() } }
    public func rateLimited(_ index: Int, retryAfterMs: Double?) {
        let t = now()
        books.withLock { b in b.note(index, b.breakers[index].rateLimited(nowMs: t, retryAfterMs: retryAfterMs), atMs: t) }
    }

    /// Milliseconds until the earliest of `candidates` may be tried again.
    public func waitMs(_ candidates: [Int]) -> Double {
        let t = now()
        return books.withLock { b in candidates.map { b.breakers[$0].availableAtMs(nowMs: t) - t }.min() ?? 0 }
    }

    /// True when every one of `candidates` is only cooling down after a 429 (none is failing).
    public func onlyRateLimited(_ candidates: [Int]) -> Bool {
        let t = now()
        return books.withLock { b in
            candidates.allSatisfy { i in
                let breaker = b.breakers[i]
                if case .closed = breaker.state, !breaker.activelyDown { return breaker.cooldownUntilMs > t }
                return false
            }
        }
    }

    /// The candidates whose ejection is over and whose probe is not taken yet.
    public func awaitingProbe(_ candidates: [Int]) -> [Int] {
        let t = now()
        return books.withLock { b in
            candidates.contains { b.breakers[$0].awaitsProbe(nowMs: t) } ? candidates.filter { b.breakers[$0].awaitsProbe(nowMs: t) } : []
        }
    }

    /// Active health checks' verdict on a deployment, and why (for its event log).
    public func setActivelyDown(_ index: Int, _ down: Bool, reason: String? = nil) {
        let why = reason ?? (down ? "health checks failed" : "health checks passed")
        books.withLock { b in b.note(index, b.breakers[index].setActivelyDown(down, reason: why), atMs: self.now()) }
    }

    public var snapshot: [CircuitBreaker] { books.withLock { $0.breakers } }

    /// Each deployment's recent changes of state, oldest first.
    public var events: [[HealthEvent]] { books.withLock { $0.events.map(\.events) } }
}

extension HealthBook {
    /// Takes over another book's state (configuration reload): slot `i` here gets `old`'s slot `map[i]` — its circuit
    /// state, ejections, cooldown, recent outcomes, probe verdict and events — under this book's policy; nil stays fresh.
    public func adopt(from old: HealthBook, map: [Int?]) {
        let theirs = old.books.withLock { $0 }
        books.withLock { b in
            for (i, j) in map.enumerated() {
                guard let j, i < b.breakers.count, j < theirs.breakers.count else { continue }
                b.breakers[i].take(theirs.breakers[j])
                b.events[i] = theirs.events[j]
            }
        }
    }
}

extension CircuitBreaker {
    /// Everything but the policy from `other`.
    mutating func take(_ other: CircuitBreaker) {
        state = other.state
        ejections = other.ejections
        cooldownUntilMs = other.cooldownUntilMs
        outcomes = other.outcomes
        recorded = other.recorded
        activelyDown = other.activelyDown
    }
}

/// Active health of one provider from its probe results: down after `unhealthyThreshold` failed probes in a row, up
/// again after `healthyThreshold` good ones. Starts up.
public struct ProbeTracker: Sendable, Equatable {
    public let healthyThreshold: Int
    public let unhealthyThreshold: Int
    public private(set) var isDown = false
    /// Results in a row that disagree with the current state.
    public private(set) var streak = 0

    public init(healthyThreshold: Int, unhealthyThreshold: Int) {
        self.healthyThreshold = max(healthyThreshold, 1)
        self.unhealthyThreshold = max(unhealthyThreshold, 1)
    }

    /// Records a probe; returns the new state when it changed.
    public mutating func record(up: Bool) -> Bool? {
        guard up == isDown else { streak = 0; return nil }       // agrees with the current state
        streak += 1
        guard streak >= (isDown ? healthyThreshold : unhealthyThreshold) else { return nil }
        isDown.toggle()
        streak = 0
        return isDown
    }
}
