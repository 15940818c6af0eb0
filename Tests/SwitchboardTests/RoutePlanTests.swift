import SwitchboardCore
import SwitchboardRouting
import SwitchboardTesting
import Testing

/// The routing table and per-request plans, on a manual clock: retries, back-off, fallbacks, caps, waits, deadlines.
@Suite struct RoutePlanTests {
    /// A routing table over mock providers p0…p3 and the given models YAML.
    static func table(_ models: String, routing: String = "", clock: ManualClock = ManualClock(), seed: UInt64 = 1) throws -> RoutingTable {
        let yaml = """
            providers:
              - { name: p0, kind: mock }
              - { name: p1, kind: mock }
              - { name: p2, kind: mock }
              - { name: p3, kind: mock }
            models:
            \(models)
            routing: { backoff: { base_ms: 100, max_ms: 2000 }\(routing) }
            """
        let config = try ConfigLoader.load(yaml: yaml, environment: [:])
        return RoutingTable(config: config, seed: seed, now: { clock.now })
    }

    /// Takes the next attempt, failing the test if the plan does not give one.
    static func attempt(_ plan: inout RoutePlan, sourceLocation: SourceLocation = #_sourceLocation) -> AttemptLease? {
        guard case .attempt(let lease) = plan.next() else {
            Issue.record("expected an attempt", sourceLocation: sourceLocation)
            return nil
        }
        return lease
    }

    static func exhausted(_ plan: inout RoutePlan) -> RoutePlan.Exhausted? {
        if case .exhausted(let why) = plan.next() { return why }
        return nil
    }

    @Test func triesEveryDeploymentBeforeRepeatingThenBacksOff() throws {
        let t = try Self.table("""
              - { name: m, retries: 4, deployments: [{ provider: p0, model: x }, { provider: p1, model: x }, { provider: p2, model: x }] }
            """)
        var plan = t.plan(model: "m", needs: RequestNeeds())!
        var seen: [Int] = []
        var delays: [Double] = []
        while case .attempt(let lease) = plan.next() {
            seen.append(lease.deployment)
            delays.append(lease.delayMs)
            plan.failed(lease, .failed)
        }
        #expect(seen.count == 5)
        #expect(Set(seen.prefix(3)) == [0, 1, 2])
        // A new deployment is tried at once; going back to one already tried waits base × 2^(n-1), half of it jittered.
        #expect(delays.prefix(3).allSatisfy { $0 == 0 })
        #expect((50...100).contains(delays[3]) && (100...200).contains(delays[4]))
        let end = Self.exhausted(&plan)
        #expect(end == .attemptsSpent)
    }

    @Test func retriesDoNotShiftTheRotation() throws {
        let t = try Self.table("""
              - { name: m, retries: 1, balancing: round-robin, deployments: [{ provider: p0, model: x }, { provider: p1, model: x }] }
            """)
        var firsts: [Int] = []
        for _ in 0..<6 {
            var plan = t.plan(model: "m", needs: RequestNeeds())!
            let first = Self.attempt(&plan)!
            firsts.append(first.deployment)
            plan.failed(first, .clientError)      // answered: no effect on health
            let second = Self.attempt(&plan)!
            #expect(second.deployment != first.deployment)
            second.finished(latencyMs: 1, tokens: nil)
        }
        #expect(firsts == [0, 1, 0, 1, 0, 1])
    }

    @Test func fallbackChainThenDefaultFallback() throws {
        let t = try Self.table("""
              - { name: a, retries: 0, fallbacks: [b, c], deployments: [{ provider: p0, model: x }] }
              - { name: b, retries: 1, deployments: [{ provider: p1, model: x }] }
              - { name: c, retries: 0, deployments: [{ provider: p2, model: x }] }
              - { name: d, retries: 0, deployments: [{ provider: p3, model: x }] }
            """, routing: ", default_fallback: d")
        var plan = t.plan(model: "a", needs: RequestNeeds())!
        var steps: [String] = []
        while case .attempt(let lease) = plan.next() {
            steps.append("\(lease.model.name):\(lease.reason.rawValue)")
            plan.failed(lease, .failed)
        }
        #expect(steps == ["a:primary", "b:fallback", "b:retry", "c:fallback", "d:fallback"])
        #expect(plan.path.map(\.model) == ["a", "b", "c", "d"])
    }

    @Test func fallbacksTheKeyMayNotUseAreSkipped() throws {
        let t = try Self.table("""
              - { name: a, retries: 0, fallbacks: [b, c], deployments: [{ provider: p0, model: x }] }
              - { name: b, deployments: [{ provider: p1, model: x }] }
              - { name: c, deployments: [{ provider: p2, model: x }] }
            """)
        var plan = t.plan(model: "a", needs: RequestNeeds(), allows: { $0 != "b" })!
        plan.failed(Self.attempt(&plan)!, .failed)
        let next = Self.attempt(&plan)
        #expect(next?.model.name == "c")
    }

    @Test func contextWindowFallbackByEstimateAndByUpstreamError() throws {
        let t = try Self.table("""
              - { name: small, fallbacks: [other], context_window_fallbacks: [big], deployments: [{ provider: p0, model: s, capabilities: { context_window: 8000 } }] }
              - { name: big, deployments: [{ provider: p1, model: b, capabilities: { context_window: 200000 } }] }
              - { name: other, deployments: [{ provider: p2, model: o }] }
              - { name: undeclared, context_window_fallbacks: [big], fallbacks: [other], deployments: [{ provider: p3, model: u }] }
            """)
        // The estimate alone is too long for `small`: the first attempt goes to `big`.
        var plan = t.plan(model: "small", needs: RequestNeeds(estimatedPromptTokens: 50_000))!
        let first = Self.attempt(&plan)!
        #expect(first.model.name == "big")
        #expect(first.reason == .contextWindowFallback)
        // A model with no declared window finds out from the upstream's error, and goes to its context-window list.
        var plan2 = t.plan(model: "undeclared", needs: RequestNeeds(estimatedPromptTokens: 50_000))!
        let tried = Self.attempt(&plan2)!
        plan2.failed(tried, .contextTooLong)
        let next = Self.attempt(&plan2)!
        #expect(next.model.name == "big")
        #expect(next.reason == .contextWindowFallback)
        // Without a fallback that fits, the capability error is the answer.
        let t2 = try Self.table("""
              - { name: small, deployments: [{ provider: p0, model: s, capabilities: { context_window: 8000 } }] }
            """)
        var plan3 = t2.plan(model: "small", needs: RequestNeeds(estimatedPromptTokens: 50_000))!
        let end = Self.exhausted(&plan3)
        #expect(end == .noCapableDeployment(missing: "context_window"))
    }

    @Test func contentRefusalGoesToTheContentPolicyList() throws {
        let t = try Self.table("""
              - { name: a, fallbacks: [b], content_policy_fallbacks: [c], deployments: [{ provider: p0, model: x }, { provider: p1, model: x }] }
              - { name: b, deployments: [{ provider: p2, model: x }] }
              - { name: c, deployments: [{ provider: p3, model: x }] }
            """)
        var plan = t.plan(model: "a", needs: RequestNeeds())!
        plan.failed(Self.attempt(&plan)!, .contentRefused)
        let next = Self.attempt(&plan)!
        #expect(next.model.name == "c")           // not the other deployment of `a`, not `b`
        #expect(next.reason == .contentPolicyFallback)
    }

    @Test func saturatedDeploymentsAreSkippedUntilTheWindowMoves() throws {
        let clock = ManualClock()
        let t = try Self.table("""
              - { name: m, retries: 0, deployments: [{ provider: p0, model: x, rpm: 2 }, { provider: p1, model: x, max_concurrent: 1 }] }
            """, clock: clock)
        // p0 takes two requests a minute, p1 one at a time: two requests in flight on p1 are impossible.
        var leases: [AttemptLease] = []
        var picks: [Int] = []
        for _ in 0..<3 {
            var plan = t.plan(model: "m", needs: RequestNeeds())!
            let lease = Self.attempt(&plan)!
            picks.append(lease.deployment)
            leases.append(lease)
        }
        #expect(picks.filter { $0 == 0 }.count == 2 && picks.filter { $0 == 1 }.count == 1)
        var full = t.plan(model: "m", needs: RequestNeeds())!
        guard case .exhausted(.unavailable(let wait, _, let saturated)) = full.next() else { Issue.record("expected saturation"); return }
        #expect(saturated)
        #expect(wait > 0)
        // The p1 request ends: p1 has room again (p0 still has none this minute).
        let p1 = leases.first { $0.deployment == 1 }!
        p1.finished(latencyMs: 5, tokens: 10)
        var again = t.plan(model: "m", needs: RequestNeeds())!
        let lease = Self.attempt(&again)!
        #expect(lease.deployment == 1)
        // A lease dropped without an ending (an abandoned stream) still gives its place back.
        _ = consume lease
        clock.advance(60_000)
        var later = t.plan(model: "m", needs: RequestNeeds())!
        let afterMinute = Self.attempt(&later)
        #expect(afterMinute != nil)
        #expect(t.capacity.snapshot(1).inFlight <= 1)
    }

    @Test func capacityWindowCountsTheLastSixtySecondsAndCorrectsTokens() {
        var w = CapacityWindow(limits: DeploymentLimits(rpm: 3, tpm: 1000))
        w.acquire(tokens: 400, nowMs: 0)
        w.acquire(tokens: 400, nowMs: 10_000)
        let full = w.hasRoom(tokens: 400, nowMs: 20_000)        // 800 + 400 > 1000
        #expect(!full)
        w.release(estimate: 400, actualTokens: 100, startedMs: 10_000, nowMs: 20_000)
        let tokens = w.tokensInWindow(nowMs: 20_000)
        let room = w.hasRoom(tokens: 400, nowMs: 20_000)
        #expect(tokens == 500 && room)
        w.acquire(tokens: 400, nowMs: 20_000)
        let atRPM = w.hasRoom(tokens: 1, nowMs: 30_000)          // rpm 3 reached
        let until = w.msUntilRoom(tokens: 1, nowMs: 30_000)      // the request of second 0 ages out at 60 s
        let later = w.hasRoom(tokens: 1, nowMs: 60_000)
        let aged = w.requestsInWindow(nowMs: 200_000)
        #expect(!atRPM && until == 30_000 && later && aged == 0)
        // One request larger than the whole tpm still runs when nothing else is counted.
        var big = CapacityWindow(limits: DeploymentLimits(tpm: 100))
        let fits = big.hasRoom(tokens: 5000, nowMs: 0)
        #expect(fits)
    }

    @Test func waitsForAShortRetryAfterButNotALongOne() throws {
        let clock = ManualClock()
        let t = try Self.table("""
              - { name: m, retries: 2, deployments: [{ provider: p0, model: x }] }
            """, clock: clock)
        var plan = t.plan(model: "m", needs: RequestNeeds())!
        plan.failed(Self.attempt(&plan)!, .rateLimited(retryAfterMs: 500))
        guard case .wait(let ms) = plan.next() else { Issue.record("expected a wait"); return }
        #expect(ms == 500)
        clock.advance(500)
        let retried = Self.attempt(&plan)
        #expect(retried != nil)

        var other = t.plan(model: "m", needs: RequestNeeds())!
        let lease = Self.attempt(&other)!
        other.failed(lease, .rateLimited(retryAfterMs: 30_000))     // longer than backoff.max_ms
        guard case .exhausted(.unavailable(let wait, let onlyRateLimited, _)) = other.next() else { Issue.record("expected unavailable"); return }
        #expect(onlyRateLimited)
        #expect(wait == 30_000)
    }

    @Test func theDeadlineStopsRetries() throws {
        let clock = ManualClock()
        let t = try Self.table("""
              - { name: m, retries: 5, deadline_s: 1, deployments: [{ provider: p0, model: x }, { provider: p1, model: x }] }
            """, clock: clock)
        var plan = t.plan(model: "m", needs: RequestNeeds())!
        let first = Self.attempt(&plan)!
        clock.advance(1500)
        plan.failed(first, .failed)
        let end = Self.exhausted(&plan)
        #expect(end == .deadline)
    }

    @Test func hedgeGoesToAnotherDeploymentAndAbandonGivesTheProbeBack() throws {
        let t = try Self.table("""
              - { name: m, hedge: { after_ms: 50 }, deployments: [{ provider: p0, model: x }, { provider: p1, model: x }] }
              - { name: solo, hedge: { after_ms: 50 }, deployments: [{ provider: p2, model: x }] }
            """)
        var plan = t.plan(model: "m", needs: RequestNeeds())!
        let first = Self.attempt(&plan)!
        #expect(t.hedgeDelayMs(first.model, slot: first.slot) == 50)
        let second = plan.hedge(excluding: first)!
        #expect(second.deployment != first.deployment && second.reason == .hedge)
        let third = plan.hedge(excluding: first)
        #expect(third == nil)             // one hedge per attempt
        second.abandon()
        first.firstByte(ttftMs: 10)
        first.finished(latencyMs: 10, tokens: 5)
        var solo = t.plan(model: "solo", needs: RequestNeeds())!
        let only = Self.attempt(&solo)!
        let none = solo.hedge(excluding: only)
        #expect(none == nil)
    }

    @Test func hedgeThresholdFollowsThePercentileOnceThereAreSamples() throws {
        let t = try Self.table("""
              - { name: m, hedge: { after_ms: 700, percentile: 90 }, deployments: [{ provider: p0, model: x }, { provider: p1, model: x }] }
            """)
        let model = t.models["m"]!
        #expect(t.hedgeDelayMs(model, slot: 0) == 700)
        for i in 1...100 { t.latency.add(0, ms: Double(i)) }      // the last 64: 37…100
        #expect(t.hedgeDelayMs(model, slot: 0) == 94)
    }
}
