import Yams

/// A routing simulation: traffic and how each provider behaves over time (`switchboard simulate --scenario`).
public struct Scenario: Sendable {
    public var name: String
    /// `model`: the public model to send traffic to (default: the config's first).
    public var model: String?
    /// `duration_s`: simulated seconds of traffic.
    public var durationSeconds: Double = 600
    /// `warmup_s`: the first seconds are left out of the figures.
    public var warmupSeconds: Double = 30
    /// `rate_per_s`: mean arrivals per second (Poisson).
    public var ratePerSecond: Double = 20
    public var seed: UInt64 = 1
    /// `prompt_tokens`, `output_tokens`: every request's size (for costs and `tpm` caps).
    public var promptTokens = 500
    public var outputTokens = 200
    /// `policies`: the balancing policies to compare (default: all).
    public var policies: [BalancingPolicyName] = BalancingPolicyName.allCases
    /// `providers`: behaviour by provider name; providers not listed answer with the default behaviour.
    public var providers: [String: SimulatedProvider] = [:]
    /// `watch`: a provider whose return after an outage is reported (time from `recovered_at_s` to its next success).
    public var watch: String?
    public var recoveredAtSeconds: Double?

    public init(name: String) { self.name = name }
}

/// How one simulated provider answers.
public struct SimulatedProvider: Sendable {
    /// `latency_ms: {p50, p99}`: time to first token, log-normally distributed.
    public var p50Ms: Double = 300
    public var p99Ms: Double = 900
    /// `tokens_per_s`: generation speed after the first token (0: instant); the request stays in flight meanwhile.
    public var tokensPerSecond: Double = 0
    /// `error_rate`: fraction answered with a 500.
    public var errorRate: Double = 0
    /// `events`: changes over time.
    public var events: [SimulatedEvent] = []
    public init() {}
}

/// A change of behaviour between `at_s` and `until_s`.
public struct SimulatedEvent: Sendable {
    public enum Outage: String, Sendable { case refuse, timeout }
    public var fromSeconds: Double
    public var untilSeconds: Double
    /// `latency_factor`: multiplies latency.
    public var latencyFactor: Double = 1
    /// `error_rate`: replaces the error rate.
    public var errorRate: Double?
    /// `down`: `refuse` (connections refused at once) or `timeout` (no answer until the attempt times out).
    public var down: Outage?
    /// `rate_limited`: fraction answered with 429, with `Retry-After: retry_after_s`.
    public var rateLimited: Double = 0
    public var retryAfterSeconds: Double?
    public init(fromSeconds: Double, untilSeconds: Double) {
        self.fromSeconds = fromSeconds
        self.untilSeconds = untilSeconds
    }
}

/// Reads a scenario YAML file, reporting every problem with its key path (as `ConfigLoader` does).
///
/// Keys: `name`, `model`, `duration_s`, `warmup_s`, `rate_per_s`, `seed`, `prompt_tokens`, `output_tokens`,
/// `policies` (list of balancing policy names), `watch: {provider, recovered_at_s}`, and `providers`: a map from
/// provider name to `{latency_ms: {p50, p99}, tokens_per_s, error_rate, events: [{at_s, until_s, latency_factor,
/// error_rate, down: refuse|timeout, rate_limited, retry_after_s}]}`.
public enum ScenarioLoader {
    public static func load(yaml: String) throws(ConfigError) -> Scenario {
        var walker = Walker(environment: [:])
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(problems: [ConfigLoader.yamlProblem(error, in: yaml)])
        }
        guard let root else { throw ConfigError(problems: [ConfigProblem(path: "", message: "the scenario is empty")]) }
        let scenario = walker.scenario(root)
        if let scenario, walker.problems.isEmpty { return scenario }
        throw ConfigError(problems: walker.problems)
    }
}

extension Walker {
    mutating func scenario(_ root: Node) -> Scenario? {
        guard let m = mapping(root, "", allowed: ["name", "model", "duration_s", "warmup_s", "rate_per_s", "seed", "prompt_tokens",
                                                  "output_tokens", "policies", "providers", "watch"]) else { return nil }
        var s = Scenario(name: string(m, "name", "") ?? "scenario")
        s.model = string(m, "model", "")
        if let v = number(m, "duration_s", "", range: 1...86_400 * 7) { s.durationSeconds = v }
        if let v = number(m, "warmup_s", "", range: 0...86_400) { s.warmupSeconds = v }
        if s.warmupSeconds >= s.durationSeconds { problem("warmup_s", "must be shorter than duration_s") }
        if let v = number(m, "rate_per_s", "", range: 0.001...100_000) { s.ratePerSecond = v }
        if let v = int(m, "seed", "", range: 0...Int.max) { s.seed = UInt64(v) }
        if let v = int(m, "prompt_tokens", "", range: 0...10_000_000) { s.promptTokens = v }
        if let v = int(m, "output_tokens", "", range: 0...10_000_000) { s.outputTokens = v }
        if let names = stringList(m, "policies", "") {
            s.policies = []
            for (i, name) in names.enumerated() {
                if let p = BalancingPolicyName(rawValue: name) { s.policies.append(p) } else {
                    let all = BalancingPolicyName.allCases.map(\.rawValue)
                    let hint = suggestion(for: name, among: all).map { "; did you mean \"\($0)\"?" } ?? ""
                    problem("policies[\(i)]", "unknown balancing policy \"\(name)\"\(hint)")
                }
            }
        }
        if let node = m["watch"], let w = mapping(node, "watch", allowed: ["provider", "recovered_at_s"]) {
            s.watch = string(w, "provider", "watch", required: true)
            s.recoveredAtSeconds = number(w, "recovered_at_s", "watch", range: 0...86_400 * 7)
            if s.recoveredAtSeconds == nil { problem("watch.recovered_at_s", "required: when the provider recovers") }
        }
        if let node = m["providers"] {
            guard case .mapping(let map) = node else {
                problem("providers", "expected a mapping of provider names to behaviour, found \(describe(node))")
                return s
            }
            for (key, value) in map {
                guard let name = key.string else { continue }
                s.providers[name] = simulatedProvider(value, "providers.\(name)")
            }
        }
        return s
    }

    mutating func simulatedProvider(_ node: Node, _ path: String) -> SimulatedProvider {
        var p = SimulatedProvider()
        guard let m = mapping(node, path, allowed: ["latency_ms", "tokens_per_s", "error_rate", "events"]) else { return p }
        if let node = m["latency_ms"], let l = mapping(node, "\(path).latency_ms", allowed: ["p50", "p99"]) {
            if let v = number(l, "p50", "\(path).latency_ms", range: 0.001...3_600_000) { p.p50Ms = v }
            if let v = number(l, "p99", "\(path).latency_ms", range: 0.001...3_600_000) { p.p99Ms = v }
            if p.p99Ms < p.p50Ms { problem("\(path).latency_ms.p99", "must be at least p50") }
        }
        if let v = number(m, "tokens_per_s", path, range: 0...1_000_000) { p.tokensPerSecond = v }
        if let v = number(m, "error_rate", path, range: 0...1) { p.errorRate = v }
        if let node = m["events"], let list = sequence(node, "\(path).events") {
            for (i, item) in list.enumerated() {
                let ep = "\(path).events[\(i)]"
                guard let e = mapping(item, ep, allowed: ["at_s", "until_s", "latency_factor", "error_rate", "down", "rate_limited", "retry_after_s"]) else { continue }
                let from = number(e, "at_s", ep, range: 0...86_400 * 7)
                let until = number(e, "until_s", ep, range: 0...86_400 * 7)
                guard let from, let until else {
                    if e["at_s"] == nil { problem("\(ep).at_s", "required") }
                    if e["until_s"] == nil { problem("\(ep).until_s", "required") }
                    continue
                }
                if until <= from { problem("\(ep).until_s", "must be after at_s") }
                var event = SimulatedEvent(fromSeconds: from, untilSeconds: until)
                if let v = number(e, "latency_factor", ep, range: 0.001...10_000) { event.latencyFactor = v }
                event.errorRate = number(e, "error_rate", ep, range: 0...1)
                if let raw = string(e, "down", ep) {
                    if let d = SimulatedEvent.Outage(rawValue: raw) { event.down = d } else { problem("\(ep).down", "expected refuse or timeout, found \"\(raw)\"") }
                }
                if let v = number(e, "rate_limited", ep, range: 0...1) { event.rateLimited = v }
                event.retryAfterSeconds = number(e, "retry_after_s", ep, range: 0...86_400)
                p.events.append(event)
            }
        }
        return p
    }
}
