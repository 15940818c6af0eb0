import SwitchboardCore

/// The attempts of one request: which model and deployment each goes to, when, and when to give up.
///
/// Order: the requested model's deployments (each retry on one not yet tried while there is one, after a back-off
/// when it goes back to one already tried); when its attempt budget is spent, or nothing of it is available, its
/// fallbacks in order, then the global default fallback — each with its own attempt budget. A context-length
/// error moves to `context_window_fallbacks`, a content refusal to `content_policy_fallbacks`. Only deployments
/// that can serve the request (capabilities, context window), are healthy and have room under their caps are picked.
/// Everything stops at the deadline.
public struct RoutePlan: Sendable {
    public enum Reason: String, Sendable, Equatable {
        case primary, retry, fallback
        case contextWindowFallback = "context_window_fallback"
        case contentPolicyFallback = "content_policy_fallback"
        case hedge
    }

    /// How an attempt failed before its first byte.
    public enum Failure: Sendable, Equatable {
        /// 429: cool the deployment down (for `Retry-After` ms when given) and retry elsewhere.
        case rateLimited(retryAfterMs: Double?)
        /// Connection error, timeout, 5xx, broken body, rejected provider credentials: retry elsewhere.
        case failed
        /// The upstream said the prompt is too long: go to the context-window fallbacks.
        case contextTooLong
        /// The upstream refused the content: go to the content-policy fallbacks.
        case contentRefused
        /// Any other 4xx: the caller's fault; not retried.
        case clientError

        public var isRetryable: Bool { self != .clientError }
    }

    /// Why no (further) attempt can be made.
    public enum Exhausted: Sendable, Equatable {
        /// No deployment of the model can serve the request (first missing capability).
        case noCapableDeployment(missing: String)
        /// Deployments could serve the request, but its policy (providers, price, regions) excludes each of them.
        case excluded(DeploymentPolicy.Exclusion)
        /// Deployments exist, but none is available now nor soon enough to wait for.
        case unavailable(retryAfterMs: Double, onlyRateLimited: Bool, saturated: Bool)
        /// Every attempt allowed was made (the last failure is the answer).
        case attemptsSpent
        /// The deadline passed.
        case deadline
    }

    public enum Decision: Sendable {
        case attempt(AttemptLease)
        /// Nothing is available yet, but something will be within the back-off limit: call `next()` again after.
        case wait(ms: Double)
        case exhausted(Exhausted)
    }

    let table: RoutingTable
    /// Which models the caller may use (fallbacks it may not use are skipped).
    let allows: @Sendable (String) -> Bool
    public let needs: RequestNeeds
    public let affinityKey: String?
    /// Tokens the request is expected to use (prompt estimate + requested output), for `tpm` caps.
    public let estimatedTokens: Int
    public let startMs: Double
    public private(set) var deadlineMs: Double
    /// The model the client asked for: its fallback lists are followed.
    let primary: RoutedModel
    /// The model being tried now.
    public private(set) var current: RoutedModel
    public private(set) var currentReason: Reason = .primary
    /// Models still to try (nil until the first fallback is needed).
    private var queue: [String]?
    /// A routing rule's escalation (its later tiers, or the next cheapest models): followed instead of the model's
    /// fallback lists, whatever the failure.
    let escalation: [String]?
    /// What the request allows of deployments (providers, prices, regions); checked for every model tried.
    public let policy: DeploymentPolicy
    /// The request's expected usage, for price limits.
    let expectedUsage: Usage
    /// Models in order of trying, with why each was tried (each at most once).
    public private(set) var path: [(model: String, reason: Reason)]
    private var attempts = 0
    private var tried: [Int] = []
    /// Back-offs taken on the current model.
    private var backoffs = 0
    private var waits = 0
    /// Picks lost to a concurrent request (probe or last place taken between filter and pick).
    private var races = 0
    /// A deployment window the prompt is known to exceed: later models need a larger one.
    private var windowTooSmall: Int?
    /// The primary model's reason for being unavailable, reported if nothing else worked.
    private var firstUnavailable: Exhausted?
    private var lastNoCapable: Exhausted?
    private var rng: SplitMix64
    public private(set) var totalAttempts = 0

    init(table: RoutingTable, model: RoutedModel, needs: RequestNeeds, affinityKey: String?, seed: UInt64, escalation: [String]? = nil,
         policy: DeploymentPolicy = .init(), expectedOutputTokens: Int = 256, allows: @escaping @Sendable (String) -> Bool) {
        self.table = table
        self.escalation = escalation
        self.policy = policy
        expectedUsage = Usage(promptTokens: needs.estimatedPromptTokens, completionTokens: needs.maxOutputTokens ?? expectedOutputTokens)
        self.allows = allows
        self.needs = needs
        self.affinityKey = affinityKey
        estimatedTokens = needs.estimatedPromptTokens + (needs.maxOutputTokens ?? 0)
        startMs = table.now()
        deadlineMs = startMs + model.deadlineMs
        current = model
        primary = model
        path = [(model.name, .primary)]
        rng = SplitMix64(seed: seed)
    }

    /// Milliseconds left before the deadline.
    public var remainingMs: Double { deadlineMs - table.now() }

    /// The next step: an attempt (already counted, with capacity taken), a wait, or the end.
    public mutating func next() -> Decision {
        while true {
            let now = table.now()
            if totalAttempts > 0, now >= deadlineMs { return .exhausted(.deadline) }
            let m = current
            var capable: [Int] = []
            capable.reserveCapacity(m.deployments.count)
            var missing: String?
            var excludedBy: DeploymentPolicy.Exclusion?
            for i in m.deployments.indices {
                let d = m.deployments[i]
                if let gap = d.capabilities.missing(for: needs) { missing = missing ?? gap; continue }
                if let small = windowTooSmall, let w = d.capabilities.contextWindow, w <= small { missing = missing ?? "context_window"; continue }
                if let why = policy.excluded(d, usage: expectedUsage) { excludedBy = excludedBy ?? why; continue }
                capable.append(i)
            }
            if capable.isEmpty {
                // Every deployment the request could otherwise use is excluded by its policy: say so, not "incapable".
                lastNoCapable = missing == nil && excludedBy != nil ? .excluded(excludedBy!) : .noCapableDeployment(missing: missing ?? "context_window")
                excludedBy = nil
                if advance(missing == "context_window" ? .contextWindowFallback : .fallback) { continue }
                return .exhausted(firstUnavailable ?? (totalAttempts > 0 ? .attemptsSpent : lastNoCapable!))
            }
            if attempts >= m.maxAttempts {
                if advance(.fallback) { continue }
                return .exhausted(.attemptsSpent)
            }
            // Slots are few (a model's deployments) and distinct: arrays, and no copies when every one qualifies
            // (the books hand back the array they were given), since this runs for every request.
            let slots = capable.map { m.deployments[$0].slot }
            let healthySlots = table.health.available(slots)
            let roomSlots = table.capacity.withRoom(slots, tokens: estimatedTokens)
            let available = healthySlots.count == slots.count && roomSlots.count == slots.count ? capable
                : capable.filter { healthySlots.contains(m.deployments[$0].slot) && roomSlots.contains(m.deployments[$0].slot) }
            if available.isEmpty {
                // A deployment is back when it is both healthy and has room; 0 means "unknown" (a probe in flight,
                // or room only when in-flight requests end).
                let wait = slots.map { s -> Double in
                    let h = healthySlots.contains(s) ? 0 : table.health.waitMs([s])
                    let r = roomSlots.contains(s) ? 0 : (table.capacity.msUntilRoom([s], tokens: estimatedTokens) ?? 0)
                    return max(h, r)
                }.min() ?? 0
                let onlyRateLimited = roomSlots.count == slots.count && table.health.onlyRateLimited(slots)
                let reason = Exhausted.unavailable(retryAfterMs: max(wait, 1000), onlyRateLimited: onlyRateLimited,
                                                   saturated: roomSlots.count < slots.count)
                if firstUnavailable == nil { firstUnavailable = reason }
                if advance(.fallback) { continue }
                // The last resort: wait for it if that is short and fits in the deadline.
                if wait >= 1, wait <= table.backoff.maxMs, now + wait < deadlineMs, waits < 16 {
                    waits += 1
                    return .wait(ms: wait)
                }
                return .exhausted(firstUnavailable ?? reason)
            }
            let untried = tried.isEmpty ? available : available.filter { !tried.contains($0) }
            var pool = untried.isEmpty ? available : untried
            // A deployment whose ejection is over gets its one probe now, whatever the balancer thinks of its past
            // latency: otherwise a latency-aware policy could avoid it long after it recovered.
            let probing = table.health.awaitingProbe(pool.count == capable.count ? slots : pool.map { m.deployments[$0].slot })
            if !probing.isEmpty { pool = pool.filter { probing.contains(m.deployments[$0].slot) } }
            let context = BalancingContext(attempt: attempts + 1, affinityKey: affinityKey)
            let picked = policy.ranks ? policy.best(pool, of: m, latency: table.latency) : m.balancer.choose(among: pool, context: context)
            guard let chosen = picked ?? pool.first else { return .exhausted(.attemptsSpent) }
            var delay = 0.0
            if tried.contains(chosen) {
                backoffs += 1
                delay = table.backoff.delayMs(backoffs, using: &rng)
                if now + delay >= deadlineMs {
                    if advance(.fallback) { continue }
                    return .exhausted(.deadline)
                }
            }
            let slot = m.deployments[chosen].slot
            // Another request may have taken the half-open probe or the last place since the filter above.
            guard table.health.admit(slot) else { races += 1; if races > 64 { return .exhausted(.attemptsSpent) }; continue }
            guard table.capacity.tryAcquire(slot, tokens: estimatedTokens) else {
                table.health.abandoned(slot)
                races += 1
                if races > 64 { return .exhausted(.attemptsSpent) }
                continue
            }
            let reason: Reason = attempts == 0 ? currentReason : .retry
            attempts += 1
            totalAttempts += 1
            tried.append(chosen)
            return .attempt(AttemptLease(table: table, model: m, deployment: chosen, estimatedTokens: estimatedTokens,
                                         reason: reason, delayMs: delay))
        }
    }

    /// Reports a failure before the first byte (ends the lease) and steers the next step.
    public mutating func failed(_ lease: AttemptLease, _ failure: Failure) {
        lease.failed(failure)
        switch failure {
        case .contextTooLong:
            windowTooSmall = max(windowTooSmall ?? 0, lease.model.deployments[lease.deployment].capabilities.contextWindow ?? 0)
            if lease.model === current { attempts = current.maxAttempts; jump = .contextWindowFallback }
        case .contentRefused:
            if lease.model === current { attempts = current.maxAttempts; jump = .contentPolicyFallback }
        default:
            break
        }
    }

    /// Set when a failure decides which fallback list to follow.
    private var jump: Reason?

    /// Whether a routing rule's escalation has a model left to try (one that exists, the caller may use, and was
    /// not tried yet).
    public var canEscalate: Bool {
        guard policy.allowFallbacks, let escalation else { return false }
        let left = queue ?? escalation
        return left.contains { !visited($0) && table.models[$0] != nil && allows($0) }
    }

    /// The current model answered, but a routing rule's output check rejected the answer: the next model of the
    /// escalation is tried (the deployment is healthy; its lease has ended).
    public mutating func escalate(after lease: AttemptLease) {
        if lease.model === current {
            attempts = current.maxAttempts
            jump = .fallback
        }
    }

    /// A second attempt on another deployment of the current model, for hedging (nil when none is available).
    public mutating func hedge(excluding lease: AttemptLease) -> AttemptLease? {
        let m = lease.model
        let candidates = m.deployments.indices.filter { i in
            i != lease.deployment && !tried.contains(i) && m.deployments[i].capabilities.missing(for: needs) == nil
                && policy.excluded(m.deployments[i], usage: expectedUsage) == nil
        }
        let slots = Set(table.health.available(candidates.map { m.deployments[$0].slot }))
        let room = Set(table.capacity.withRoom(Array(slots), tokens: estimatedTokens))
        let pool = candidates.filter { room.contains(m.deployments[$0].slot) }
        guard let chosen = m.balancer.choose(among: pool, context: BalancingContext(attempt: attempts + 1, affinityKey: affinityKey)) else { return nil }
        let slot = m.deployments[chosen].slot
        guard table.health.admit(slot) else { return nil }
        guard table.capacity.tryAcquire(slot, tokens: estimatedTokens) else { table.health.abandoned(slot); return nil }
        tried.append(chosen)
        totalAttempts += 1
        return AttemptLease(table: table, model: m, deployment: chosen, estimatedTokens: estimatedTokens, reason: .hedge, delayMs: 0)
    }

    /// Whether the model was tried already (a few at most: no set to make for every request).
    private func visited(_ name: String) -> Bool { path.contains { $0.model == name } }

    /// Moves to the next model to try; false when there is none.
    private mutating func advance(_ why: Reason) -> Bool {
        // `provider.allow_fallbacks: false`: the model asked for, on the providers allowed, and nothing else.
        guard policy.allowFallbacks else { return false }
        let reason = jump ?? why
        jump = nil
        if queue == nil {
            var list: [String]
            switch escalation == nil ? reason : .primary {
            case .contextWindowFallback: list = primary.contextWindowFallbacks
            case .contentPolicyFallback: list = primary.contentPolicyFallbacks
            default: list = escalation ?? primary.fallbacks
            }
            if let d = table.defaultFallback { list.append(d) }
            queue = list
        }
        while let name = queue?.first {
            queue?.removeFirst()
            guard !visited(name), let m = table.models[name], allows(name) else { continue }
            current = m
            currentReason = reason == .primary || reason == .retry ? .fallback : reason
            path.append((name, currentReason))
            attempts = 0
            tried = []
            backoffs = 0
            // A fallback model may allow a longer deadline than the primary.
            deadlineMs = max(deadlineMs, startMs + m.deadlineMs)
            return true
        }
        return false
    }
}
