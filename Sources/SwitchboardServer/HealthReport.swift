import Foundation
import SwitchboardCore
import SwitchboardRouting

/// The health of every model's deployments as `GET /admin/health` and `/metrics` show it: circuit state, cooldown,
/// load and caps, and recent changes of state, read from the routing table's books. Beside the engine, not in it:
/// it serves no request.
struct HealthReport: Sendable {
    /// The routing table reported on: the serving engine's, read once per report (a reload replaces it).
    let current: @Sendable () -> RoutingTable
    var table: RoutingTable { current() }
    /// `router.pricing` (nil: none configured).
    var pricing: PricingService?
    /// Seconds since 1970: events are kept on the table's clock and shown on this one.
    var wallNow: @Sendable () -> Double = { Date().timeIntervalSince1970 }

    init(table: RoutingTable, pricing: PricingService? = nil, wallNow: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        current = { table }
        self.pricing = pricing
        self.wallNow = wallNow
    }

    /// The report of whichever engine serves new requests.
    init(live: LiveGateway, pricing: PricingService?) {
        current = { live.gateway.table }
        self.pricing = pricing
    }

    /// The health of one deployment.
    struct Deployment {
        var provider: String
        var upstreamModel: String
        /// closed, open, half_open, cooling_down or down.
        var state: String
        var ejections: Int
        var consecutiveFailures: Int?
        var probeDown: Bool
        var ejectedForMs: Double
        var cooldownMs: Double
        var slot: Int
    }

    static let states = ["closed", "half_open", "cooling_down", "open", "down"]

    /// Every model's deployments with their health, in configuration order.
    func snapshot() -> [(model: String, deployments: [Deployment])] { snapshot(of: table) }

    func snapshot(of table: RoutingTable) -> [(model: String, deployments: [Deployment])] {
        let now = table.now()
        let breakers = table.health.snapshot
        return table.modelNames.compactMap { name in
            guard let model = table.models[name] else { return nil }
            return (name, model.deployments.map { d in
                let b = breakers[d.slot]
                var state: String
                var ejectedMs = 0.0
                switch b.state {
                case .closed: state = "closed"
                case .open(let until): state = "open"; ejectedMs = max(until - now, 0)
                case .halfOpen: state = "half_open"
                }
                if state == "closed", b.cooldownUntilMs > now { state = "cooling_down" }
                if b.activelyDown { state = "down" }
                var failures: Int?
                if case .closed(let n) = b.state { failures = n }
                return Deployment(provider: d.provider, upstreamModel: d.upstreamModel, state: state, ejections: b.ejections,
                                  consecutiveFailures: failures, probeDown: b.activelyDown, ejectedForMs: ejectedMs,
                                  cooldownMs: max(b.cooldownUntilMs - now, 0), slot: d.slot)
            })
        }
    }

    /// A deployment's changes of state, oldest first, in wall-clock time: the table's clock is monotonic, so an
    /// event's time is now on the wall clock less its age on the table's.
    static func json(_ events: [HealthEvent], tableNowMs: Double, wallNowS: Double) -> JSONValue {
        guard !events.isEmpty else { return .array([]) }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return .array(events.map { e in
            let at = wallNowS - (tableNowMs - e.atMs) / 1000
            return .object(["at": .string(iso.string(from: Date(timeIntervalSince1970: at))), "at_s": .double((at * 1000).rounded() / 1000),
                            "state": .string(e.state.rawValue), "reason": .string(e.reason)])
        })
    }

    /// `GET /admin/health`'s body.
    func json() -> String {
        let table = self.table
        let events = table.health.events
        let (tableNow, wall) = (table.now(), wallNow())
        let models: [JSONValue] = snapshot(of: table).compactMap { name, deployments in
            guard let model = table.models[name] else { return nil }
            let load = (model.balancer as? LoadAwareBalancer)?.load
            let entries: [JSONValue] = deployments.enumerated().map { i, h in
                var e: [String: JSONValue] = [
                    "provider": .string(h.provider), "model": .string(h.upstreamModel),
                    "state": .string(h.state), "ejections": .int(h.ejections), "probe_down": .bool(h.probeDown),
                    "ejected_for_ms": .int(Int(h.ejectedForMs)), "cooldown_ms": .int(Int(h.cooldownMs)),
                ]
                if let n = h.consecutiveFailures { e["consecutive_failures"] = .int(n) }
                if let load {
                    e["in_flight"] = .int(load.outstanding[i])
                    e["ewma_ttft_ms"] = load.ewmaMs[i].map { .double(($0 * 10).rounded() / 10) } ?? .null
                }
                let limits = table.slotDeployments[h.slot].limits
                if !limits.isUnlimited {
                    let use = table.capacity.snapshot(h.slot)
                    var caps: [String: JSONValue] = ["in_flight": .int(use.inFlight), "requests_last_minute": .int(use.requests),
                                                     "tokens_last_minute": .int(use.tokens)]
                    if let v = limits.rpm { caps["rpm"] = .int(v) }
                    if let v = limits.tpm { caps["tpm"] = .int(v) }
                    if let v = limits.maxConcurrent { caps["max_concurrent"] = .int(v) }
                    e["capacity"] = .object(caps)
                }
                if let p95 = table.latency.percentile(h.slot, 95) { e["p95_ttft_ms"] = .double((p95 * 10).rounded() / 10) }
                e["events"] = Self.json(events[h.slot], tableNowMs: tableNow, wallNowS: wall)
                return .object(e)
            }
            var entry: [String: JSONValue] = ["name": .string(name), "deployments": .array(entries)]
            if !model.fallbacks.isEmpty { entry["fallbacks"] = .array(model.fallbacks.map { .string($0) }) }
            return .object(entry)
        }
        var report: [String: JSONValue] = ["models": .array(models)]
        if let pricing { report["pricing"] = pricing.json() }
        return JSONValue.object(report).jsonText
    }
}
