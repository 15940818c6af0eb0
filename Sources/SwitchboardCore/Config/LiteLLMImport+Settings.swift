// LiteLLM import: `router_settings` and `litellm_settings` (strategy, retries, timeouts, cooldowns, fallbacks; a key
// in both is taken from router_settings, as LiteLLM does), `general_settings` (master key, database, concurrency,
// health checks) and `environment_variables`, applied to the models once all are read.
import Foundation
import Yams

/// What the settings sections set, for the written `server:`, `storage:`, `auth:`, `routing:` and `logging:`.
struct ImportedSettings {
    var retries: Int?
    var timeoutSeconds: Double?
    var backoffBaseMs: Double?
    var failureThreshold: Int?
    var ejectionSeconds: Double?
    var errorRatioOff = false
    var defaultFallback: String?
    var masterKey: String?
    var storage: String?
    var maxInFlight: Int?
    var jsonLogs = false
    var defaultMaxConcurrent: Int?
    /// `fallbacks`, `context_window_fallbacks`, `content_policy_fallbacks`, `default_fallbacks`: where each was set.
    var fallbackLists: [String: (path: String, node: Node)] = [:]
    /// The key path that set each setting (`timeout` and `request_timeout` are one setting).
    var owners: [String: String] = [:]
}

extension LiteLLMConverter {
    /// Whether the value at `section.key` is the one to use: router_settings wins over litellm_settings.
    mutating func claim(_ setting: String, _ path: String) -> Bool {
        if let owner = settings.owners[setting] {
            if owner.hasPrefix("router_settings") || !path.hasPrefix("router_settings") {
                note(path, "not carried over: \(owner) sets it (router_settings wins, as in LiteLLM)")
                return false
            }
            note(owner, "not carried over: \(path) sets it (router_settings wins, as in LiteLLM)")
        }
        settings.owners[setting] = path
        return true
    }

    /// `router_settings` or `litellm_settings` (most keys are accepted in both).
    mutating func readSettings(_ node: Node, _ section: String) {
        guard case .mapping(let m) = node else {
            note(section, "not carried over: expected a mapping")
            return
        }
        for (key, value) in pairs(m) {
            let path = "\(section).\(key)"
            switch key {
            case "routing_strategy":
                if claim("routing_strategy", path) { strategy = (path, text(value) ?? "") }
            case "num_retries":
                guard claim("num_retries", path) else { continue }
                if let v = number(value), v >= 0, v == v.rounded() {
                    settings.retries = min(Int(v), 10)
                    if v > 10 { note(path, "carried as routing.retries: 10, Switchboard's most") }
                } else { note(path, "not carried over: expected a whole number") }
            case "timeout", "request_timeout":
                guard claim("timeout", path), let t = seconds(value, path) else { continue }
                settings.timeoutSeconds = t
                note(path, "approximately: carried as routing.timeout_s (the response head, and each gap between stream chunks) and routing.total_timeout_s (a whole attempt)" + (t > 120 ? "; routing.deadline_s raised to it" : ""))
            case "retry_after":
                guard claim("retry_after", path) else { continue }
                if let v = number(value), v >= 0, v <= 600 {
                    settings.backoffBaseMs = v * 1000
                    note(path, "approximately: carried as routing.backoff.base_ms, the first back-off before a deployment already tried (it doubles up to max_ms)")
                } else { note(path, "not carried over: expected seconds between 0 and 600") }
            case "allowed_fails":
                guard claim("allowed_fails", path) else { continue }
                if let v = number(value), v >= 0, v < 1000, v == v.rounded() {
                    settings.failureThreshold = Int(v) + 1
                    note(path, "approximately: carried as routing.health.failure_threshold: \(Int(v) + 1) (LiteLLM cools a deployment down after more than \(Int(v)) failures in a minute; Switchboard ejects it after that many failures in a row, or when routing.health.error_ratio of its recent requests failed)")
                } else { note(path, "not carried over: expected a whole number below 1000") }
            case "cooldown_time":
                guard claim("cooldown_time", path), let t = seconds(value, path) else { continue }
                settings.ejectionSeconds = t
                note(path, "carried as routing.health.ejection_s and max_ejection_s (a fixed ejection, as in LiteLLM)")
            case "disable_cooldowns":
                guard claim("disable_cooldowns", path), bool(value) == true else { continue }
                settings.failureThreshold = 1000
                settings.errorRatioOff = true
                note(path, "approximately: routing.health.failure_threshold: 1000 and error_ratio: 0, so failures hardly ever eject a deployment (a 429 still sets it aside for routing.health.cooldown_s)")
            case "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks":
                if claim(key, path) { settings.fallbackLists[key] = (path, value) }
            case "enable_pre_call_checks":
                note(path, "Switchboard always checks a deployment's declared capabilities (context_window from model_info.max_input_tokens) before calling it")
            case "json_logs":
                if bool(value) == true { settings.jsonLogs = true }
            case "set_verbose":
                note(path, "not carried over: set LOG_LEVEL=debug (or --log-level debug) instead")
            case "drop_params":
                note(path, "not carried over: Switchboard passes unknown parameters through to OpenAI-compatible upstreams and translates the rest for Anthropic and Gemini")
            case "callbacks", "success_callback", "failure_callback", "service_callbacks":
                note(path, "not carried over (Switchboard has its own logging, request log, Prometheus /metrics and OpenTelemetry tracing: see docs/observability.md)")
            case "cache", "cache_params", "cache_responses", "caching_groups":
                note(path, "not carried over: Switchboard has no response cache")
            case "redis_host", "redis_port", "redis_password", "redis_url", "redis_db":
                note(path, "not carried over: Switchboard replicas share limits and keys through PostgreSQL (storage), not Redis")
            case "model_group_alias":
                note(path, "not carried over: give the model the name clients use, or add a routing rule (router.rules) that routes the alias")
            case "stream_timeout":
                note(path, "not carried over: routing.timeout_s bounds each gap between stream chunks; a deployment's timeouts.idle_s can shorten it")
            default:
                note(path, "not carried over (no Switchboard equivalent)")
            }
        }
    }

    mutating func readGeneralSettings(_ node: Node) {
        guard case .mapping(let m) = node else {
            note("general_settings", "not carried over: expected a mapping")
            return
        }
        let fields = pairs(m)
        for (key, value) in fields {
            let path = "general_settings.\(key)"
            switch key {
            case "master_key":
                guard let raw = text(value) else { continue }
                let v = LiteLLMValue(raw)
                if case .literal(let s) = v, s.utf8.count < AuthConfig.minimumMasterKeyLength {
                    note(path, "not carried over: shorter than the \(AuthConfig.minimumMasterKeyLength) characters Switchboard requires; set auth.master_key to a longer key")
                } else {
                    settings.masterKey = v.switchboard
                    if case .literal = v { note(path, "a literal key: written into the new file as it is (an env:NAME reference keeps it out of the file)") }
                }
            case "database_url":
                guard let raw = text(value) else { continue }
                switch LiteLLMValue(raw) {
                case .env(let name):
                    settings.storage = "env:\(name)"
                    note(path, "carried as storage: env:\(name); it must hold a postgres:// URL (Switchboard creates its own tables, LiteLLM's data is not migrated)")
                case .literal(let s):
                    if s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") {
                        settings.storage = s
                        note(path, "carried as storage (Switchboard creates its own tables; LiteLLM's keys, teams and spend are not migrated)")
                    } else {
                        note(path, "not carried over: Switchboard stores in PostgreSQL or SQLite")
                    }
                }
            case "max_parallel_requests":
                settings.defaultMaxConcurrent = positiveInt(value, path, max: 1_000_000)
                if settings.defaultMaxConcurrent != nil { note(path, "carried as max_concurrent of each deployment that sets none") }
            case "global_max_parallel_requests":
                settings.maxInFlight = positiveInt(value, path, max: 1_000_000)
                if settings.maxInFlight != nil { note(path, "carried as server.max_in_flight (beyond it requests queue by priority)") }
            case "background_health_checks":
                guard bool(value) == true else { continue }
                var interval = 300.0
                if let node = fields.value("health_check_interval"), let v = seconds(node, "general_settings.health_check_interval") { interval = v }
                for i in providers.indices { providers[i].healthCheckSeconds = interval }
                note(path, "approximately: carried as each provider's health_check (a GET of its model list every \(trim(interval)) s, not a completion)")
            case "health_check_interval":
                continue
            case "alerting", "alerting_threshold", "alert_to_webhook_url", "alert_types":
                note(path, "not carried over: Switchboard has no Slack or e-mail alerts; budget alerts go to auth.budget_alert_webhook, the rest is on /metrics")
            case "store_model_in_db":
                note(path, "not carried over: Switchboard's models live in its config file (POST /admin/config/reload reads it again)")
            default:
                note(path, "not carried over (no Switchboard equivalent)")
            }
        }
    }

    mutating func readEnvironmentVariables(_ node: Node) {
        guard case .mapping(let m) = node else {
            note("environment_variables", "not carried over: expected a mapping")
            return
        }
        for (name, _) in pairs(m) {
            note("environment_variables.\(name)", "not copied into the new file: set \(name) in Switchboard's environment")
        }
    }

    // MARK: Applying the settings to the models

    mutating func applySettings() {
        for i in models.indices { balance(&models[i]) }
        if let (path, name) = strategy {
            switch name {
            case "simple-shuffle", "least-busy", "latency-based-routing", "cost-based-routing": break
            case "usage-based-routing", "usage-based-routing-v2":
                note(path, "approximately: carried as balancing: least-outstanding (fewest requests in flight) on every model; the deployments' rpm and tpm caps still hold")
            default:
                note(path, "not carried over: unknown strategy \"\(name)\"; models use Switchboard's default balancing (p2c-ewma)")
            }
        }
        if let limit = settings.defaultMaxConcurrent {
            for i in models.indices { for j in models[i].deployments.indices where models[i].deployments[j].maxConcurrent == nil {
                models[i].deployments[j].maxConcurrent = limit
            } }
        }
        let names = models.map(\.name)
        for key in ["fallbacks", "context_window_fallbacks", "content_policy_fallbacks"] {
            guard let (path, node) = settings.fallbackLists[key] else { continue }
            for (model, at, targets) in fallbackEntries(node, path) {
                guard let index = models.firstIndex(where: { $0.name == model }) else {
                    note(at, "not carried over: no model \"\(model)\" was carried over")
                    continue
                }
                let kept = checkedTargets(targets, at, owner: model, names: names)
                switch key {
                case "fallbacks": models[index].fallbacks = kept
                case "context_window_fallbacks": models[index].contextWindowFallbacks = kept
                default: models[index].contentPolicyFallbacks = kept
                }
            }
        }
        if let (path, node) = settings.fallbackLists["default_fallbacks"] {
            let targets = stringList(node)
            let kept = checkedTargets(targets, path, owner: nil, names: names)
            settings.defaultFallback = kept.first
            if kept.count > 1 { note(path, "only \"\(kept[0])\" carried over (routing.default_fallback): Switchboard has one default fallback") }
        }
        let routingTimeout = settings.timeoutSeconds ?? RoutingConfig().timeoutSeconds
        for m in models { for d in m.deployments where (d.firstTokenSeconds ?? 0) > routingTimeout {
            note("\(d.path).timeout", "carried as timeouts.first_token_s and total_s, but routing.timeout_s (\(trim(routingTimeout)) s) caps the wait for the response head: raise it to allow more")
        } }
    }

    /// `[{model: [targets]}, …]` as (model, its key path, targets).
    func fallbackEntries(_ node: Node, _ path: String) -> [(String, String, [String])] {
        guard case .sequence(let items) = node else { return [] }
        var out: [(String, String, [String])] = []
        for (i, item) in items.enumerated() {
            guard case .mapping(let m) = item else { continue }
            for (model, targets) in pairs(m) { out.append((model, "\(path)[\(i)].\(model)", stringList(targets))) }
        }
        return out
    }

    /// The targets that name a carried-over model other than `owner`, in order; a note for each other one.
    mutating func checkedTargets(_ targets: [String], _ path: String, owner: String?, names: [String]) -> [String] {
        var kept: [String] = []
        for target in targets {
            if target == owner { note(path, "\"\(target)\" not carried over: a model cannot fall back to itself") }
            else if !names.contains(target) { note(path, "\"\(target)\" not carried over: no model of that name was carried over (Switchboard falls back to models, not deployment ids)") }
            else if !kept.contains(target) { kept.append(target) }
        }
        return kept
    }

    func stringList(_ node: Node) -> [String] {
        if case .sequence(let s) = node { return s.compactMap(text) }
        return text(node).map { [$0] } ?? []
    }

    /// The model's balancing from `routing_strategy`, and its deployments' weights.
    func balance(_ model: inout ImportedModel) {
        let name = strategy?.name ?? "simple-shuffle"
        var weights = model.deployments.map(\.rawWeight)
        if name == "simple-shuffle", weights.allSatisfy({ $0 == nil }) {
            // LiteLLM's simple-shuffle weighs deployments by rpm (else tpm) when all of them set it.
            if model.deployments.allSatisfy({ $0.rpm != nil }) { weights = model.deployments.map { $0.rpm.map(Double.init) } }
            else if model.deployments.allSatisfy({ $0.tpm != nil }) { weights = model.deployments.map { $0.tpm.map(Double.init) } }
        }
        let weighted = weights.contains(where: { $0 != nil }) && model.deployments.count > 1
        if weighted {
            for (j, w) in integerWeights(weights.map { $0 ?? 1 }).enumerated() { model.deployments[j].weight = w }
        }
        guard model.deployments.count > 1 else { return }
        switch name {
        case "simple-shuffle": model.balancing = strategy == nil && !weighted ? nil : weighted ? "weighted" : "random"
        case "least-busy": model.balancing = "least-outstanding"
        case "latency-based-routing": model.balancing = "lowest-latency"
        case "cost-based-routing": model.balancing = "least-cost"
        case "usage-based-routing", "usage-based-routing-v2":
            model.balancing = "least-outstanding"
        default: break
        }
    }

    /// Positive numbers as whole weights in 1…1000000 with the same proportions (to a hundredth).
    func integerWeights(_ raw: [Double]) -> [Int] {
        let scaled = raw.allSatisfy({ $0 == $0.rounded() }) ? raw : raw.map { $0 * 100 }
        var ints = scaled.map { max(1, Int($0.rounded())) }
        let top = ints.max() ?? 1
        if top > 1_000_000 { ints = ints.map { max(1, Int((Double($0) * 1_000_000 / Double(top)).rounded())) } }
        let divisor = ints.reduce(0) { gcd($0, $1) }
        return divisor > 1 ? ints.map { $0 / divisor } : ints
    }

    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    func trim(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}
