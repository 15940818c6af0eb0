import Prometheus
import Synchronization
import SwitchboardCore

/// `GET /metrics` in Prometheus' text format (swift-prometheus). Labels are bounded: configured model and provider
/// names, status classes and a fixed set of refusal reasons — never key ids or anything a client makes up.
///
/// - `switchboard_requests_total{model, status_class}`: finished requests (`model` is `unknown` for names that are
///   not configured).
/// - `switchboard_refused_total{reason}`: requests refused before any upstream: `rate_limit_exceeded`,
///   `budget_exceeded`, `overloaded` (shed by priority), `model_not_allowed`.
/// - `switchboard_deployment_state{provider, deployment, state}`: 1 for the deployment's health state (`closed`,
///   `half_open`, `cooling_down`, `open`, `down`), 0 for the others.
/// - `switchboard_deployment_ejections{provider, deployment}`: ejections in a row; `switchboard_deployment_consecutive_failures`.
/// - `switchboard_deployment_probe_up{provider, deployment}`: 0 while active health checks hold it down.
final class GatewayMetrics: UsageRecorder {
    let registry = PrometheusCollectorRegistry()
    private let base: any UsageRecorder
    private let models: Set<String>
    private let requests = Mutex<[String: Counter]>([:])
    private let refused: [String: Counter]
    static let refusalReasons = ["rate_limit_exceeded", "budget_exceeded", "overloaded", "model_not_allowed"]

    init(wrapping base: any UsageRecorder, models: [String]) {
        self.base = base
        self.models = Set(models)
        var refused: [String: Counter] = [:]
        for reason in Self.refusalReasons {
            refused[reason] = registry.makeCounter(name: "switchboard_refused_total", labels: [("reason", reason)],
                                                   help: "Requests refused before reaching any upstream.")
        }
        self.refused = refused
    }

    func record(_ record: RequestRecord) {
        let model = models.contains(record.model) ? record.model : "unknown"
        let status = record.status >= 100 && record.status < 600 ? "\(record.status / 100)xx" : "other"
        let key = model + "\u{0}" + status
        let counter = requests.withLock { c in
            if let existing = c[key] { return existing }
            let made = registry.makeCounter(name: "switchboard_requests_total", labels: [("model", model), ("status_class", status)],
                                            help: "Finished requests by public model and status class.")
            c[key] = made
            return made
        }
        counter.increment()
        if let code = record.errorCode, let r = refused[code] { r.increment() }
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
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
