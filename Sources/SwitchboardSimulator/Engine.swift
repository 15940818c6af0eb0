// The discrete-event engine behind `Simulator`: simulated provider behaviour, the routed and oracle runs, and the
// queue of pending events on the virtual clock.
import Foundation
import SwitchboardCore
import SwitchboardRouting

/// The virtual clock the routing table reads. Only the simulation's one thread touches it.
final class VirtualClock: @unchecked Sendable {
    var now = 0.0
}

struct Engine {
    let config: GatewayConfig
    let scenario: Scenario
    let model: String
    let clock = VirtualClock()
    let table: RoutingTable
    var rng: SplitMix64
    var queue = EventQueue()
    var requests: [SimRequest] = []
    var result: SimulationResult
    var latencies: [Double] = []
    var answers: [String: Int] = [:]
    var attempts = 0
    let warmupMs: Double
    let endMs: Double

    init(config: GatewayConfig, scenario: Scenario, model: String) {
        self.config = config
        self.scenario = scenario
        self.model = model
        let clock = self.clock
        table = RoutingTable(config: config, seed: scenario.seed, now: { clock.now })
        rng = SplitMix64(seed: scenario.seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xC0FFEE)
        result = SimulationResult(policy: "")
        warmupMs = scenario.warmupSeconds * 1000
        endMs = scenario.durationSeconds * 1000
    }

    // MARK: Provider behaviour

    enum Outcome {
        case answered(ttftMs: Double, busyMs: Double)
        case failed(RoutePlan.Failure, afterMs: Double)
    }

    /// How `provider` answers an attempt started now on a deployment with the given first-token timeout.
    mutating func draw(provider: String, timeoutMs: Double) -> Outcome {
        let p = scenario.providers[provider] ?? SimulatedProvider()
        let t = clock.now / 1000
        var factor = 1.0
        var errorRate = p.errorRate
        var down: SimulatedEvent.Outage?
        var limited = 0.0
        var retryAfter: Double?
        for e in p.events where t >= e.fromSeconds && t < e.untilSeconds {
            factor *= e.latencyFactor
            if let r = e.errorRate { errorRate = r }
            if let d = e.down { down = d }
            if e.rateLimited > 0 { limited = e.rateLimited; retryAfter = e.retryAfterSeconds.map { $0 * 1000 } }
        }
        switch down {
        case .refuse: return .failed(.failed, afterMs: 2)
        case .timeout: return .failed(.failed, afterMs: timeoutMs)
        case nil: break
        }
        if limited > 0, uniform() < limited { return .failed(.rateLimited(retryAfterMs: retryAfter), afterMs: 20) }
        if errorRate > 0, uniform() < errorRate { return .failed(.failed, afterMs: 50) }
        let latency = lognormal(p50: p.p50Ms, p99: p.p99Ms) * factor
        if latency > timeoutMs { return .failed(.failed, afterMs: timeoutMs) }
        let generation = p.tokensPerSecond > 0 ? Double(scenario.outputTokens) / p.tokensPerSecond * 1000 : 0
        return .answered(ttftMs: latency, busyMs: latency + generation)
    }

    /// The true median latency of `provider` now, and whether it is usable at all (for the oracle).
    func truth(provider: String) -> (medianMs: Double, usable: Bool) {
        let p = scenario.providers[provider] ?? SimulatedProvider()
        let t = clock.now / 1000
        var factor = 1.0
        var usable = p.errorRate < 0.5
        for e in p.events where t >= e.fromSeconds && t < e.untilSeconds {
            factor *= e.latencyFactor
            if e.down != nil || e.rateLimited >= 0.5 || (e.errorRate ?? 0) >= 0.5 { usable = false }
        }
        return (p.p50Ms * factor, usable)
    }

    mutating func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    mutating func lognormal(p50: Double, p99: Double) -> Double {
        let sigma = (log(p99) - log(p50)) / 2.3263
        // Box–Muller.
        let u1 = max(uniform(), 1e-12), u2 = uniform()
        let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        return p50 * exp(sigma * z)
    }

    mutating func exponential(mean: Double) -> Double { -log(max(uniform(), 1e-12)) * mean }

    // MARK: Routed run

    mutating func run(label: String) -> SimulationResult {
        result = SimulationResult(policy: label)
        queue.push(0, .arrival)
        var watchedSuccess: Double?
        var backoffAtRecovery: Double?
        let watchSlots = scenario.watch.map { table.slots(ofProvider: $0) } ?? []
        let recoveredMs = (scenario.recoveredAtSeconds ?? .infinity) * 1000
        while let event = queue.pop() {
            clock.now = event.time
            if backoffAtRecovery == nil, clock.now >= recoveredMs, !watchSlots.isEmpty {
                backoffAtRecovery = watchSlots.map { backoffMs(slot: $0) }.max() ?? 0
            }
            switch event.kind {
            case .arrival:
                guard clock.now < endMs else { continue }
                let needs = RequestNeeds(maxOutputTokens: scenario.outputTokens, estimatedPromptTokens: scenario.promptTokens)
                guard let plan = table.plan(model: model, needs: needs) else { continue }
                let request = SimRequest(id: requests.count, arrival: clock.now, plan: plan)
                requests.append(request)
                step(request)
                queue.push(clock.now + exponential(mean: 1000 / scenario.ratePerSecond), .arrival)
            case .step(let id):
                step(requests[id])
            case .start(let id, let attempt):
                start(requests[id], attempt)
            case .end(let id, let attempt):
                let request = requests[id]
                let a = request.attempts[attempt]
                guard !a.cancelled else { continue }
                a.done = true
                switch a.outcome! {
                case .answered(let ttft, let busy):
                    if !request.done {
                        request.done = true
                        a.lease.firstByte(ttftMs: ttft)
                        for other in request.attempts where !other.done && !other.cancelled && other !== a {
                            other.cancelled = true
                            other.lease.abandon()
                        }
                        let provider = table.slotDeployments[a.lease.slot].provider
                        if provider == scenario.watch, clock.now >= recoveredMs, watchedSuccess == nil { watchedSuccess = clock.now }
                        answered(request, provider: provider, slot: a.lease.slot)
                    }
                    queue.push(clock.now + max(busy - ttft, 0), .finish(id, attempt))
                case .failed(let failure, _):
                    request.plan.failed(a.lease, failure)
                    let running = request.attempts.contains { !$0.done && !$0.cancelled }
                    if !request.done, !running {
                        if failure.isRetryable { step(request) } else { failed(request, why: "client error") }
                    }
                }
            case .finish(let id, let attempt):
                let a = requests[id].attempts[attempt]
                if case .answered(let ttft, _) = a.outcome! { a.lease.finished(latencyMs: ttft, tokens: scenario.promptTokens + scenario.outputTokens) }
            case .hedge(let id, let attempt):
                let request = requests[id]
                let a = request.attempts[attempt]
                guard !request.done, !a.done, let second = request.plan.hedge(excluding: a.lease) else { continue }
                let index = request.attempts.count
                request.attempts.append(SimAttempt(lease: second))
                start(request, index)
            }
        }
        if let s = watchedSuccess { result.recoverySeconds = (s - recoveredMs) / 1000 }
        if let b = backoffAtRecovery { result.backoffAtRecoverySeconds = b / 1000 }
        return summarise()
    }

    /// The ejection a slot is serving (ms), 0 when it is not ejected.
    func backoffMs(slot: Int) -> Double {
        let b = table.health.snapshot[slot]
        guard b.ejections > 0 else { return 0 }
        return min(b.policy.baseEjectionMs * Double(1 << min(b.ejections - 1, 20)), b.policy.maxEjectionMs)
    }

    mutating func step(_ request: SimRequest) {
        switch request.plan.next() {
        case .attempt(let lease):
            let index = request.attempts.count
            request.attempts.append(SimAttempt(lease: lease))
            if lease.delayMs > 0 { queue.push(clock.now + lease.delayMs, .start(request.id, index)) } else { start(request, index) }
        case .wait(let ms):
            queue.push(clock.now + ms, .step(request.id))
        case .exhausted(let why):
            failed(request, why: "\(why)")
        }
    }

    mutating func start(_ request: SimRequest, _ index: Int) {
        let a = request.attempts[index]
        attempts += request.arrival >= warmupMs ? 1 : 0
        let deployment = table.slotDeployments[a.lease.slot]
        let timeoutMs = (deployment.timeouts.firstTokenSeconds ?? config.routing.timeoutSeconds) * 1000
        let outcome = draw(provider: deployment.provider, timeoutMs: min(timeoutMs, max(request.plan.remainingMs, 1)))
        a.outcome = outcome
        switch outcome {
        case .answered(let ttft, _): queue.push(clock.now + ttft, .end(request.id, index))
        case .failed(_, let after): queue.push(clock.now + after, .end(request.id, index))
        }
        if a.lease.reason != .hedge, let delay = table.hedgeDelayMs(a.lease.model, slot: a.lease.slot) {
            queue.push(clock.now + delay, .hedge(request.id, index))
        }
    }

    mutating func answered(_ request: SimRequest, provider: String, slot: Int) {
        guard request.arrival >= warmupMs else { return }
        result.requests += 1
        latencies.append(clock.now - request.arrival)
        answers[provider, default: 0] += 1
        let price = table.slotDeployments[slot].price
        result.costUSD += price.cost(of: Usage(promptTokens: scenario.promptTokens, completionTokens: scenario.outputTokens))
    }

    mutating func failed(_ request: SimRequest, why: String) {
        request.done = true
        guard request.arrival >= warmupMs else { return }
        result.requests += 1
        result.errors += 1
        result.failures[why, default: 0] += 1
    }

    mutating func summarise() -> SimulationResult {
        latencies.sort()
        func pct(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return latencies[min(latencies.count - 1, max(0, Int((p / 100 * Double(latencies.count)).rounded(.up)) - 1))]
        }
        result.p50Ms = pct(50)
        result.p99Ms = pct(99)
        result.attemptsPerRequest = result.requests == 0 ? 0 : Double(attempts) / Double(result.requests)
        let total = Double(answers.values.reduce(0, +))
        result.share = answers.mapValues { total == 0 ? 0 : Double($0) / total }
        return result
    }

    // MARK: Oracle run

    mutating func runOracle() -> SimulationResult {
        result = SimulationResult(policy: "oracle")
        let m = config.models.first { $0.name == model }!
        var t = 0.0
        while t < endMs {
            clock.now = t
            let ranked = m.deployments.map { d in (d, truth(provider: d.provider)) }
                .sorted { ($0.1.usable ? 0 : 1, $0.1.medianMs) < ($1.1.usable ? 0 : 1, $1.1.medianMs) }
            var elapsed = 0.0
            var served = false
            for (d, _) in ranked.prefix(1 + config.routing.retries) {
                if t >= warmupMs { attempts += 1 }
                let timeoutMs = (d.timeouts.firstTokenSeconds ?? config.routing.timeoutSeconds) * 1000
                switch draw(provider: d.provider, timeoutMs: timeoutMs) {
                case .answered(let ttft, _):
                    elapsed += ttft
                    served = true
                case .failed(_, let after):
                    elapsed += after
                }
                if served {
                    if t >= warmupMs {
                        result.requests += 1
                        latencies.append(elapsed)
                        answers[d.provider, default: 0] += 1
                        result.costUSD += d.price.cost(of: Usage(promptTokens: scenario.promptTokens, completionTokens: scenario.outputTokens))
                    }
                    break
                }
            }
            if !served, t >= warmupMs {
                result.requests += 1
                result.errors += 1
            }
            t += exponential(mean: 1000 / scenario.ratePerSecond)
        }
        return summarise()
    }
}

final class SimRequest {
    let id: Int
    let arrival: Double
    var plan: RoutePlan
    var attempts: [SimAttempt] = []
    var done = false
    init(id: Int, arrival: Double, plan: RoutePlan) {
        self.id = id
        self.arrival = arrival
        self.plan = plan
    }
}

final class SimAttempt {
    let lease: AttemptLease
    var outcome: Engine.Outcome?
    var done = false
    var cancelled = false
    init(lease: AttemptLease) { self.lease = lease }
}

/// Pending events, earliest first (ties in the order they were added).
struct EventQueue {
    enum Kind {
        case arrival
        case step(Int)
        case start(Int, Int)
        case end(Int, Int)
        case finish(Int, Int)
        case hedge(Int, Int)
    }
    struct Event {
        var time: Double
        var seq: Int
        var kind: Kind
        func before(_ o: Event) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
    }
    private var heap: [Event] = []
    private var seq = 0

    mutating func push(_ time: Double, _ kind: Kind) {
        seq += 1
        heap.append(Event(time: time, seq: seq, kind: kind))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].before(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Event? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count, heap[l].before(heap[m]) { m = l }
            if r < heap.count, heap[r].before(heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}
