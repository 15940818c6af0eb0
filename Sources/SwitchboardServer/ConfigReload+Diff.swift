import Foundation
import SwitchboardCore
import SwitchboardRouting

/// What a reloaded configuration changes: which of its settings can take effect now and which wait for a restart,
/// what changed (for the reload's answer and log), and which deployments stay the same (so they keep their state).
/// Pure functions of two configurations.
enum ConfigDiff {
    /// Where a provider's requests go: its kind and base URL (a mock: its simulated behaviour). A deployment is the
    /// same across a reload when its provider's name, endpoint and upstream model are.
    static func endpoint(_ p: ProviderConfig) -> String {
        switch p.kind {
        case .openai(let o): "openai \(o.baseURL)"
        case .anthropic(let a): "anthropic \(a.baseURL)"
        case .azure(let a): "azure \(a.baseURL)"
        case .gemini(let g): "gemini \(g.baseURL)"
        case .mock(let m): "mock \(m)"
        }
    }

    /// For each slot of `table` (built from `config`), the slot of `old` (built from `oldConfig`) for the same
    /// deployment, or nil when it is new or its provider's endpoint changed.
    static func previousSlots(_ table: RoutingTable, _ config: GatewayConfig, old: RoutingTable, _ oldConfig: GatewayConfig) -> [Int?] {
        func key(_ d: DeploymentConfig, _ c: GatewayConfig) -> String? {
            c.provider(named: d.provider).map { "\(d.provider)\u{0}\(endpoint($0))\u{0}\(d.model)" }
        }
        var oldSlot: [String: Int] = [:]
        for (i, d) in old.slotDeployments.enumerated() { if let k = key(d, oldConfig), oldSlot[k] == nil { oldSlot[k] = i } }
        return table.slotDeployments.map { d in key(d, config).flatMap { oldSlot[$0] } }
    }

    /// Deployments (provider, upstream model) that `old` has and `new` has not: their gauges leave `/metrics`.
    static func gone(from old: GatewayConfig, to new: GatewayConfig) -> [(provider: String, model: String)] {
        let kept = Set(new.models.flatMap { $0.deployments.map { "\($0.provider)\u{0}\($0.model)" } })
        var seen = Set<String>()
        return old.models.flatMap(\.deployments).compactMap { d in
            let k = "\(d.provider)\u{0}\(d.model)"
            guard !kept.contains(k), seen.insert(k).inserted else { return nil }
            return (d.provider, d.model)
        }
    }

    /// `next` with the settings that only a restart can change put back to the running ones, and the key paths of
    /// those that differ (in the order of the configuration reference).
    ///
    /// Taken from the file: providers, models, routing (but its client timeouts), router (but `pricing`), guardrails,
    /// `auth.master_key` and `auth.keys`, `server.max_in_flight`/`queue_depth`/`queue_timeout_s`. Everything else
    /// waits for a restart: the listener (`server.listen`, `tls`, `max_connections`, `max_body_bytes`,
    /// `request_timeout_s`, `event_loop_threads`, `shutdown_grace_s`), `storage`, `tracing`, `metrics`, `logging`,
    /// `waf`, `review`, `audit`, `responses` and `batches` (their services start once), the other `auth` settings, `routing.connect_timeout_s`/`timeout_s` (the shared
    /// upstream clients) and `router.pricing` (its refresh loop).
    static func applicable(_ next: GatewayConfig, running: GatewayConfig) -> (config: GatewayConfig, needsRestart: [String]) {
        var e = next
        var pending: [String] = []
        func keep<T: Equatable>(_ path: String, _ field: WritableKeyPath<GatewayConfig, T>) {
            guard e[keyPath: field] != running[keyPath: field] else { return }
            pending.append(path)
            e[keyPath: field] = running[keyPath: field]
        }
        if e.server.host != running.server.host || e.server.port != running.server.port {
            pending.append("server.listen")
            (e.server.host, e.server.port) = (running.server.host, running.server.port)
        }
        keep("server.tls", \.server.tls)
        keep("server.max_body_bytes", \.server.maxBodyBytes)
        keep("server.max_connections", \.server.maxConnections)
        keep("server.request_timeout_s", \.server.requestTimeoutSeconds)
        keep("server.event_loop_threads", \.server.eventLoopThreads)
        keep("server.shutdown_grace_s", \.server.shutdownGraceSeconds)
        keep("storage", \.storage)
        keep("tracing", \.tracing)
        keep("metrics", \.metrics)
        keep("logging", \.logging)
        keep("waf", \.waf)
        keep("review", \.review)
        keep("audit", \.audit)
        keep("responses", \.responses)
        keep("batches", \.batches)
        keep("auth.encryption_key", \.auth.encryptionKey)
        keep("auth.budget_alert_webhook", \.auth.budgetAlertWebhook)
        keep("auth.key_cache_s", \.auth.keyCacheSeconds)
        keep("routing.connect_timeout_s", \.routing.connectTimeoutSeconds)
        keep("routing.timeout_s", \.routing.timeoutSeconds)
        keep("router.pricing", \.router.pricing)
        return (e, pending)
    }

    /// What changed from `old` to `new` (both as they run): providers, models and static keys added, removed and
    /// changed by name (never a key's text), and which other applied sections changed.
    static func changes(from old: GatewayConfig, to new: GatewayConfig) -> JSONValue {
        func named<T>(_ a: [T], _ b: [T], _ name: (T) -> String) -> JSONValue {
            let before = Dictionary(a.map { (name($0), fingerprint($0)) }, uniquingKeysWith: { x, _ in x })
            let after = Dictionary(b.map { (name($0), fingerprint($0)) }, uniquingKeysWith: { x, _ in x })
            let list = { (names: [String]) in JSONValue.array(names.map(JSONValue.string)) }
            return .object([
                "added": list(b.map(name).filter { before[$0] == nil }),
                "removed": list(a.map(name).filter { after[$0] == nil }),
                "changed": list(b.map(name).filter { before[$0] != nil && before[$0] != after[$0] }),
            ])
        }
        var sections: [String] = []
        if fingerprint(old.routing) != fingerprint(new.routing) { sections.append("routing") }
        if fingerprint(old.router) != fingerprint(new.router) { sections.append("router") }
        if fingerprint(old.guardrails) != fingerprint(new.guardrails) { sections.append("guardrails") }
        if old.auth.masterKey != new.auth.masterKey { sections.append("auth.master_key") }
        let gates = { (s: ServerConfig) in [s.maxInFlight, s.queueDepth, Int(s.queueTimeoutSeconds * 1000)] }
        if gates(old.server) != gates(new.server) { sections.append("server.max_in_flight") }
        return .object([
            "providers": named(old.providers, new.providers, \.name),
            "models": named(old.models, new.models, \.name),
            "keys": named(old.auth.keys, new.auth.keys, \.name),
            "sections": .array(sections.map(JSONValue.string)),
        ])
    }

    /// A value's description with object addresses taken out (compiled expressions print theirs), to compare
    /// configuration parts that are not `Equatable`. Only compared, never shown: it may hold secrets.
    static func fingerprint(_ value: Any) -> String {
        String(describing: value).replacingOccurrences(of: "0x[0-9a-fA-F]+", with: "", options: .regularExpression)
    }
}

extension Gateway {
    /// Whether the priority queues' settings are the same in two configurations (a reload then keeps the queues of
    /// `server.max_in_flight` and of the models whose capacity did not change, with the requests holding places).
    static func gatesUnchanged(_ a: ServerConfig, _ b: ServerConfig) -> Bool {
        a.queueDepth == b.queueDepth && a.queueTimeoutSeconds == b.queueTimeoutSeconds
    }

    /// The places of a model's queue: the sum of its deployments' `max_concurrent`.
    static func modelGateCapacity(_ m: ModelConfig) -> Int { m.deployments.reduce(0) { $0 + ($1.limits.maxConcurrent ?? 0) } }
}
