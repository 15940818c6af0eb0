import Prometheus
import Synchronization
import SwitchboardCore

/// `GET /metrics` in Prometheus' text format (swift-prometheus). Labels are bounded: configured model, provider and
/// deployment names, status classes and fixed sets of reasons and kinds — never key ids or anything a client makes up.
///
/// - `switchboard_requests_total{model, provider, deployment, status_class}`: finished requests (`model` is
///   `unknown` for names that are not configured; `provider`/`deployment` are `none` when no attempt was made).
/// - `switchboard_request_duration_seconds{model}`, `switchboard_time_to_first_token_seconds{model}`: histograms.
/// - `switchboard_tokens_total{model, kind}` (`prompt`, `completion`, `cached`), `switchboard_cost_usd_total{model}`.
/// - `switchboard_retries_total{model}` (attempts after the first), `switchboard_fallbacks_total{model}` (answered by
///   a fallback model), `switchboard_hedges_total{model}` (a hedge was started).
/// - `switchboard_in_flight`: requests being served (a stream until it ends).
/// - `switchboard_refused_total{reason}`: requests refused before any upstream: `rate_limit_exceeded`,
///   `budget_exceeded`, `overloaded` (shed by priority), `model_not_allowed`.
/// - `switchboard_request_log_pending`, `switchboard_request_log_dropped_total`, `switchboard_request_log_written_total`,
///   `switchboard_request_log_bodies_dropped_total`.
/// - `switchboard_deployment_state{provider, deployment, state}`: 1 for the deployment's health state (`closed`,
///   `half_open`, `cooling_down`, `open`, `down`), 0 for the others.
/// - `switchboard_deployment_ejections{provider, deployment}`: ejections in a row; `switchboard_deployment_consecutive_failures`.
/// - `switchboard_deployment_probe_up{provider, deployment}`: 0 while active health checks hold it down.
final class GatewayMetrics: UsageRecorder {
    let registry = PrometheusCollectorRegistry()
    private let base: any UsageRecorder
    private let models: Set<String>
    private let providers: Set<String>
    private let deployments: Set<String>
    private let requests = Mutex<[String: Counter]>([:])
    private let perModel = Mutex<[String: ModelSeries]>([:])
    private let refused: [String: Counter]
    private let inFlight: Gauge
    private let log: RequestLogService?
    static let refusalReasons = ["rate_limit_exceeded", "budget_exceeded", "overloaded", "model_not_allowed"]
    static let secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    /// The series of one public model, made once.
    struct ModelSeries {
        var duration: ValueHistogram
        var ttft: ValueHistogram
        var prompt: Counter
        var completion: Counter
        var cached: Counter
        var cost: Counter
        var retries: Counter
        var fallbacks: Counter
        var hedges: Counter
    }

    init(wrapping base: any UsageRecorder, config: GatewayConfig, log: RequestLogService? = nil) {
        self.base = base
        self.log = log
        models = Set(config.models.map(\.name))
        providers = Set(config.providers.map(\.name))
        deployments = Set(config.models.flatMap { $0.deployments.map(\.model) })
        var refused: [String: Counter] = [:]
        for reason in Self.refusalReasons {
            refused[reason] = registry.makeCounter(name: "switchboard_refused_total", labels: [("reason", reason)],
                                                   help: "Requests refused before reaching any upstream.")
        }
        self.refused = refused
        inFlight = registry.makeGauge(name: "switchboard_in_flight", help: "Requests being served (a stream until it ends).")
    }

    func started() { inFlight.increment() }

    func series(_ model: String) -> ModelSeries {
        perModel.withLock { m in
            if let s = m[model] { return s }
            let l = [("model", model)]
            let s = ModelSeries(
                duration: registry.makeValueHistogram(name: "switchboard_request_duration_seconds", labels: l, buckets: Self.secondsBuckets,
                                                      help: "Time from a request's arrival to its last byte."),
                ttft: registry.makeValueHistogram(name: "switchboard_time_to_first_token_seconds", labels: l, buckets: Self.secondsBuckets,
                                                  help: "Time from a request's arrival to the upstream's first byte."),
                prompt: registry.makeCounter(name: "switchboard_tokens_total", labels: l + [("kind", "prompt")], help: "Tokens by kind."),
                completion: registry.makeCounter(name: "switchboard_tokens_total", labels: l + [("kind", "completion")], help: "Tokens by kind."),
                cached: registry.makeCounter(name: "switchboard_tokens_total", labels: l + [("kind", "cached")], help: "Tokens by kind."),
                cost: registry.makeCounter(name: "switchboard_cost_usd_total", labels: l, help: "Cost in USD."),
                retries: registry.makeCounter(name: "switchboard_retries_total", labels: l, help: "Attempts after the first."),
                fallbacks: registry.makeCounter(name: "switchboard_fallbacks_total", labels: l, help: "Requests answered by a fallback model."),
                hedges: registry.makeCounter(name: "switchboard_hedges_total", labels: l, help: "Requests for which a hedge was started."))
            m[model] = s
            return s
        }
    }

    func record(_ record: RequestRecord) {
        inFlight.decrement()
        let model = models.contains(record.model) ? record.model : "unknown"
        let provider = record.provider.map { providers.contains($0) ? $0 : "other" } ?? "none"
        let deployment = record.upstreamModel.map { deployments.contains($0) ? $0 : "other" } ?? "none"
        let status = record.status >= 100 && record.status < 600 ? "\(record.status / 100)xx" : "other"
        let key = [model, provider, deployment, status].joined(separator: "\u{0}")
        let counter = requests.withLock { c in
            if let existing = c[key] { return existing }
            let made = registry.makeCounter(name: "switchboard_requests_total",
                                            labels: [("model", model), ("provider", provider), ("deployment", deployment), ("status_class", status)],
                                            help: "Finished requests by public model, provider, deployment and status class.")
            c[key] = made
            return made
        }
        counter.increment()
        if let code = record.errorCode, let r = refused[code] { r.increment() }
        let s = series(model)
        s.duration.record(record.latencyMs / 1000)
        if let ttft = record.ttftMs { s.ttft.record(ttft / 1000) }
        if record.usage.promptTokens > 0 { s.prompt.increment(by: Int64(record.usage.promptTokens)) }
        if record.usage.completionTokens > 0 { s.completion.increment(by: Int64(record.usage.completionTokens)) }
        if record.usage.cachedTokens > 0 { s.cached.increment(by: Int64(record.usage.cachedTokens)) }
        if record.costUSD > 0 { s.cost.increment(by: record.costUSD) }
        if record.attempts > 1 { s.retries.increment(by: Int64(record.attempts - 1)) }
        if record.servedModel != nil { s.fallbacks.increment() }
        if record.hedged { s.hedges.increment() }
        base.record(record)
    }

    /// Sets the health gauges from `snapshot` and renders everything.
    func render(health snapshot: [(model: String, deployments: [Gateway.DeploymentHealth])]) -> String {
        var seen = Set<Int>()
        for (_, deployments) in snapshot {
            for h in deployments where seen.insert(h.slot).inserted {
                let labels = [("provider", h.provider), ("deployment", h.upstreamModel)]
                for state in Gateway.healthStates {
                    registry.makeGauge(name: "switchboard_deployment_state", labels: labels + [("state", state)],
                                       help: "1 for the deployment's current health state, 0 for the others.").set(to: h.state == state ? 1.0 : 0.0)
                }
                registry.makeGauge(name: "switchboard_deployment_ejections", labels: labels,
                                   help: "Ejections in a row (passive health).").set(Int64(h.ejections))
                registry.makeGauge(name: "switchboard_deployment_consecutive_failures", labels: labels,
                                   help: "Failures in a row since the last success.").set(Int64(h.consecutiveFailures ?? 0))
                registry.makeGauge(name: "switchboard_deployment_probe_up", labels: labels,
                                   help: "0 while active health checks hold the deployment down.").set(to: h.probeDown ? 0.0 : 1.0)
            }
        }
        if let log {
            let c = log.counts
            registry.makeGauge(name: "switchboard_request_log_pending", help: "Records waiting to be written.").set(Int64(c.pending))
            registry.makeGauge(name: "switchboard_request_log_dropped_total", help: "Records dropped (buffer full or a failed write).").set(Int64(c.dropped))
            registry.makeGauge(name: "switchboard_request_log_written_total", help: "Records written to storage.").set(Int64(c.written))
            registry.makeGauge(name: "switchboard_request_log_bodies_dropped_total",
                               help: "Records written without their bodies (too many body bytes waiting).").set(Int64(c.bodiesDropped))
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
