import CoreMetrics
import Prometheus
import Synchronization
import SwitchboardCore

/// `GET /metrics` in Prometheus' text format (swift-prometheus). Labels are bounded: configured model, provider and
/// deployment names, status classes and fixed sets of reasons and kinds — never key ids or anything a client makes up.
/// With `metrics.key_labels`, also per client key (by the key's name, one series set per key with traffic).
///
/// - `switchboard_requests_total{model, provider, deployment, status_class}`: finished requests (`model` is
///   `unknown` for names that are not configured; `provider`/`deployment` are `none` when no attempt was made).
/// - `switchboard_request_duration_seconds{model}`, `switchboard_time_to_first_token_seconds{model}`: histograms.
/// - `switchboard_tokens_total{model, kind}` (`prompt`, `completion`, `cached`), `switchboard_cost_usd_total{model}`.
/// - `switchboard_retries_total{model}` (attempts after the first), `switchboard_fallbacks_total{model}` (answered by
///   a fallback model), `switchboard_hedges_total{model}` (a hedge was started).
/// - `switchboard_in_flight`: requests being served (a stream until it ends).
/// - `switchboard_refused_total{reason}`: requests refused before any upstream: `rate_limit_exceeded`,
///   `budget_exceeded`, `overloaded` (shed by priority), `model_not_allowed`, `ip_not_allowed` and `auth_throttled` (the
///   edge), `pii_detected` and `content_blocked` (guardrails).
/// - `switchboard_request_log_pending` (gauge); `switchboard_request_log_dropped_total`,
///   `switchboard_request_log_written_total`, `switchboard_request_log_bodies_dropped_total` (counters that follow the
///   request log's own counts, brought up to date whenever `/metrics` is read).
/// - `switchboard_deployment_state{provider, deployment, state}`: 1 for the deployment's health state (`closed`,
///   `half_open`, `cooling_down`, `open`, `down`), 0 for the others.
/// - `switchboard_deployment_ejections{provider, deployment}`: ejections in a row; `switchboard_deployment_consecutive_failures`.
/// - `switchboard_deployment_probe_up{provider, deployment}`: 0 while active health checks hold it down.
///
/// The series are made through swift-metrics' `MetricsFactory`: by default `PrometheusFactory` over the registry
/// that `/metrics` renders; tests pass a `TestMetrics` factory and read the values directly.
final class GatewayMetrics: UsageRecorder {
    /// What `/metrics` renders (nil when another factory was given).
    let registry: PrometheusCollectorRegistry?
    let factory: any MetricsFactory
    private let base: any UsageRecorder
    /// The configured names that label series (a reload adds its names: labels stay bounded by what was configured)
    /// and the request counters by label values, under one lock (one per record).
    private struct Requests {
        var models: Set<String>
        var providers: Set<String>
        var deployments: Set<String>
        var counters: [CounterKey: CoreMetrics.Counter] = [:]
    }
    private let requests: Mutex<Requests>
    /// A request counter's label values (a struct, not a joined string: no string is made per record).
    private struct CounterKey: Hashable {
        var model: String
        var provider: String
        var deployment: String
        var status: String
    }
    private let perModel = Mutex<[String: ModelSeries]>([:])
    private let refused: [String: CoreMetrics.Counter]
    private let inFlight: Meter
    /// `metrics.key_labels`: per-key series, by key name.
    private let keyLabels: Bool
    private let perKey = Mutex<[String: KeySeries]>([:])
    private let log: RequestLogService?
    /// The request log's running totals as counters (only with a log).
    private let logTotals: (dropped: FollowingCounter, written: FollowingCounter, bodiesDropped: FollowingCounter)?
    static let refusalReasons = ["rate_limit_exceeded", "budget_exceeded", "overloaded", "model_not_allowed", "ip_not_allowed", "auth_throttled",
                                 "headers_too_large", "json_too_deep", "too_many_messages", "content_too_large", "request_timeout",
                                 "pii_detected", "content_blocked"]

    /// The series of one public model, made once.
    struct ModelSeries {
        var duration: CoreMetrics.Timer
        var ttft: CoreMetrics.Timer
        var prompt: CoreMetrics.Counter
        var completion: CoreMetrics.Counter
        var cached: CoreMetrics.Counter
        var cost: FloatingPointCounter
        var retries: CoreMetrics.Counter
        var fallbacks: CoreMetrics.Counter
        var hedges: CoreMetrics.Counter
    }

    /// The series of one client key (`metrics.key_labels`).
    struct KeySeries {
        var requests: [String: CoreMetrics.Counter]
        var prompt: CoreMetrics.Counter
        var completion: CoreMetrics.Counter
        var cost: FloatingPointCounter
    }

    init(wrapping base: any UsageRecorder, config: GatewayConfig, log: RequestLogService? = nil, factory given: (any MetricsFactory)? = nil) {
        keyLabels = config.metrics.keyLabels
        if let given {
            registry = nil
            factory = given
        } else {
            let registry = PrometheusCollectorRegistry()
            self.registry = registry
            factory = PrometheusFactory(registry: registry)
        }
        self.base = base
        self.log = log
        requests = Mutex(Requests(models: Set(config.models.map(\.name)), providers: Set(config.providers.map(\.name)),
                                  deployments: Set(config.models.flatMap { $0.deployments.map(\.model) })))
        var refused: [String: CoreMetrics.Counter] = [:]
        for reason in Self.refusalReasons {
            refused[reason] = CoreMetrics.Counter(label: "switchboard_refused_total", dimensions: [("reason", reason)], factory: factory)
        }
        self.refused = refused
        inFlight = Meter(label: "switchboard_in_flight", factory: factory)
        if log != nil {
            logTotals = (FollowingCounter(label: "switchboard_request_log_dropped_total", factory: factory),
                         FollowingCounter(label: "switchboard_request_log_written_total", factory: factory),
                         FollowingCounter(label: "switchboard_request_log_bodies_dropped_total", factory: factory))
        } else {
            logTotals = nil
        }
    }

    func started() { inFlight.increment() }

    /// A reloaded configuration: its names label series from now on, and the health gauges of deployments it no
    /// longer has (`gone`: provider, upstream model) are removed from `/metrics`.
    func reconfigure(_ config: GatewayConfig, gone: [(provider: String, model: String)]) {
        requests.withLock { n in
            n.models.formUnion(config.models.map(\.name))
            n.providers.formUnion(config.providers.map(\.name))
            n.deployments.formUnion(config.models.flatMap { $0.deployments.map(\.model) })
        }
        for (provider, model) in gone {
            let labels = [("provider", provider), ("deployment", model)]
            for state in HealthReport.states { Gauge(label: "switchboard_deployment_state", dimensions: labels + [("state", state)], factory: factory).destroy() }
            for label in ["switchboard_deployment_ejections", "switchboard_deployment_consecutive_failures", "switchboard_deployment_probe_up"] {
                Gauge(label: label, dimensions: labels, factory: factory).destroy()
            }
        }
    }

    /// A request the edge (`waf:`) refused before any key was looked at.
    func refusedAtEdge(_ reason: String) { refused[reason]?.increment() }

    func series(_ model: String) -> ModelSeries {
        perModel.withLock { m in
            if let s = m[model] { return s }
            let l = [("model", model)]
            let s = ModelSeries(
                duration: CoreMetrics.Timer(label: "switchboard_request_duration_seconds", dimensions: l, factory: factory),
                ttft: CoreMetrics.Timer(label: "switchboard_time_to_first_token_seconds", dimensions: l, factory: factory),
                prompt: CoreMetrics.Counter(label: "switchboard_tokens_total", dimensions: l + [("kind", "prompt")], factory: factory),
                completion: CoreMetrics.Counter(label: "switchboard_tokens_total", dimensions: l + [("kind", "completion")], factory: factory),
                cached: CoreMetrics.Counter(label: "switchboard_tokens_total", dimensions: l + [("kind", "cached")], factory: factory),
                cost: FloatingPointCounter(label: "switchboard_cost_usd_total", dimensions: l, factory: factory),
                retries: CoreMetrics.Counter(label: "switchboard_retries_total", dimensions: l, factory: factory),
                fallbacks: CoreMetrics.Counter(label: "switchboard_fallbacks_total", dimensions: l, factory: factory),
                hedges: CoreMetrics.Counter(label: "switchboard_hedges_total", dimensions: l, factory: factory))
            m[model] = s
            return s
        }
    }

    func record(_ record: RequestRecord) {
        inFlight.decrement()
        let status = record.status >= 100 && record.status < 600 ? "\(record.status / 100)xx" : "other"
        let (counter, model) = requests.withLock { r -> (CoreMetrics.Counter, String) in
            let model = r.models.contains(record.model) ? record.model : "unknown"
            let provider = record.provider.map { r.providers.contains($0) ? $0 : "other" } ?? "none"
            let deployment = record.upstreamModel.map { r.deployments.contains($0) ? $0 : "other" } ?? "none"
            let key = CounterKey(model: model, provider: provider, deployment: deployment, status: status)
            if let existing = r.counters[key] { return (existing, model) }
            let made = CoreMetrics.Counter(label: "switchboard_requests_total",
                                           dimensions: [("model", model), ("provider", provider), ("deployment", deployment), ("status_class", status)],
                                           factory: factory)
            r.counters[key] = made
            return (made, model)
        }
        counter.increment()
        if let code = record.errorCode, let r = refused[code] { r.increment() }
        let s = series(model)
        s.duration.recordNanoseconds(Int64(record.latencyMs * 1_000_000))
        if let ttft = record.ttftMs { s.ttft.recordNanoseconds(Int64(ttft * 1_000_000)) }
        if record.usage.promptTokens > 0 { s.prompt.increment(by: record.usage.promptTokens) }
        if record.usage.completionTokens > 0 { s.completion.increment(by: record.usage.completionTokens) }
        if record.usage.cachedTokens > 0 { s.cached.increment(by: record.usage.cachedTokens) }
        if record.costUSD > 0 { s.cost.increment(by: record.costUSD) }
        if record.attempts > 1 { s.retries.increment(by: record.attempts - 1) }
        if record.servedModel != nil { s.fallbacks.increment() }
        if record.hedged { s.hedges.increment() }
        if keyLabels { countPerKey(record, status: status) }
        base.record(record)
    }

    func countPerKey(_ record: RequestRecord, status: String) {
        let key = [("key", record.keyName)]
        let (requests, s) = perKey.withLock { m -> (CoreMetrics.Counter, KeySeries) in
            var s = m[record.keyName] ?? KeySeries(
                requests: [:],
                prompt: CoreMetrics.Counter(label: "switchboard_key_tokens_total", dimensions: key + [("kind", "prompt")], factory: factory),
                completion: CoreMetrics.Counter(label: "switchboard_key_tokens_total", dimensions: key + [("kind", "completion")], factory: factory),
                cost: FloatingPointCounter(label: "switchboard_key_cost_usd_total", dimensions: key, factory: factory))
            let requests = s.requests[status] ?? CoreMetrics.Counter(label: "switchboard_key_requests_total",
                                                                      dimensions: key + [("status_class", status)], factory: factory)
            s.requests[status] = requests
            m[record.keyName] = s
            return (requests, s)
        }
        requests.increment()
        if record.usage.promptTokens > 0 { s.prompt.increment(by: record.usage.promptTokens) }
        if record.usage.completionTokens > 0 { s.completion.increment(by: record.usage.completionTokens) }
        if record.costUSD > 0 { s.cost.increment(by: record.costUSD) }
    }

    /// Sets the health and request-log gauges from `snapshot` and the log's counts, and brings the log's counters up
    /// to date.
    func updateGauges(health snapshot: [(model: String, deployments: [HealthReport.Deployment])]) {
        var seen = Set<Int>()
        for (_, deployments) in snapshot {
            for h in deployments where seen.insert(h.slot).inserted {
                let labels = [("provider", h.provider), ("deployment", h.upstreamModel)]
                for state in HealthReport.states {
                    Gauge(label: "switchboard_deployment_state", dimensions: labels + [("state", state)], factory: factory).record(h.state == state ? 1 : 0)
                }
                Gauge(label: "switchboard_deployment_ejections", dimensions: labels, factory: factory).record(h.ejections)
                Gauge(label: "switchboard_deployment_consecutive_failures", dimensions: labels, factory: factory).record(h.consecutiveFailures ?? 0)
                Gauge(label: "switchboard_deployment_probe_up", dimensions: labels, factory: factory).record(h.probeDown ? 0 : 1)
            }
        }
        if let log {
            let c = log.counts
            Gauge(label: "switchboard_request_log_pending", factory: factory).record(c.pending)
            if let logTotals {
                logTotals.dropped.follow(c.dropped)
                logTotals.written.follow(c.written)
                logTotals.bodiesDropped.follow(c.bodiesDropped)
            }
        }
    }

    /// Sets the gauges and renders everything in Prometheus' text format.
    func render(health snapshot: [(model: String, deployments: [HealthReport.Deployment])]) -> String {
        updateGauges(health: snapshot)
        guard let registry else { return "" }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// swift-metrics over a Prometheus registry, with the help text of each series and seconds buckets for timers
/// (swift-prometheus' own factory registers every series without help).
struct PrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    static let secondsBuckets: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
        .map { .nanoseconds(Int64($0 * 1e9)) }
    static let help: [String: String] = [
        "switchboard_requests_total": "Finished requests by public model, provider, deployment and status class.",
        "switchboard_request_duration_seconds": "Time from a request's arrival to its last byte.",
        "switchboard_time_to_first_token_seconds": "Time from a request's arrival to the upstream's first byte.",
        "switchboard_tokens_total": "Tokens by kind.",
        "switchboard_cost_usd_total": "Cost in USD.",
        "switchboard_retries_total": "Attempts after the first.",
        "switchboard_fallbacks_total": "Requests answered by a fallback model.",
        "switchboard_hedges_total": "Requests for which a hedge was started.",
        "switchboard_in_flight": "Requests being served (a stream until it ends).",
        "switchboard_refused_total": "Requests refused (and answers withheld by output guardrails), by reason.",
        "switchboard_deployment_state": "1 for the deployment's current health state, 0 for the others.",
        "switchboard_deployment_ejections": "Ejections in a row (passive health).",
        "switchboard_deployment_consecutive_failures": "Failures in a row since the last success.",
        "switchboard_deployment_probe_up": "0 while active health checks hold the deployment down.",
        "switchboard_request_log_pending": "Records waiting to be written.",
        "switchboard_request_log_dropped_total": "Records dropped (buffer full or a failed write).",
        "switchboard_request_log_written_total": "Records written to storage.",
        "switchboard_request_log_bodies_dropped_total": "Records written without their bodies (too many body bytes waiting).",
        "switchboard_key_requests_total": "Finished requests by client key name and status class (metrics.key_labels).",
        "switchboard_key_tokens_total": "Tokens by client key name and kind (metrics.key_labels).",
        "switchboard_key_cost_usd_total": "Cost in USD by client key name (metrics.key_labels).",
        "switchboard_config_info": "1 for the configuration in force, labelled with the SHA-256 of its file.",
        "switchboard_config_version": "How many configurations have been in force since the start (1: the one it started with).",
        "switchboard_config_reloads_total": "Configuration reloads by result (ok, rejected).",
        "switchboard_config_last_reload_successful": "1 when the last reload was applied, 0 when it was rejected.",
        "switchboard_config_last_reload_success_timestamp_seconds": "When the configuration in force was loaded (seconds since 1970).",
    ]

    func help(_ name: String) -> String { Self.help[name] ?? "" }

    /// The series' name as it is (the label is already the full name: no namespace, subsystem or unit added) and its
    /// help text (none when empty).
    func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help(label))
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        aggregate ? registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: [0.001, 0.01, 0.1, 1, 10, 100])
                  : registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: Self.secondsBuckets)
    }

    // Series live as long as the process, except gauges a configuration reload retires (a deployment removed, the
    // previous configuration's hash).
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// A counter that follows a running total kept elsewhere (the request log's counts): each `follow(_:)` adds what the
/// total grew by since the largest total seen, so the counter stays monotonic even when two readers race with totals
/// read at different times.
final class FollowingCounter: Sendable {
    private let counter: CoreMetrics.Counter
    private let seen = Mutex<Int>(0)

    init(label: String, factory: any MetricsFactory) {
        counter = CoreMetrics.Counter(label: label, factory: factory)
    }

    func follow(_ total: Int) {
        let grown = seen.withLock { seen in
            defer { seen = max(seen, total) }
            return max(0, total - seen)
        }
        if grown > 0 { counter.increment(by: grown) }
    }
}
