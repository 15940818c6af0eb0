// ConfigLoader: the `routing:` section (retries, deadline, back-off, default fallback, health, timeouts).
import Yams

extension Walker {
    mutating func routingConfig(_ node: Node) -> RoutingConfig {
        var routing = RoutingConfig()
        guard let m = mapping(node, "routing", allowed: ["retries", "timeout_s", "connect_timeout_s", "deadline_s", "backoff",
                                                         "default_fallback", "health", "total_timeout_s"]) else { return routing }
        if let v = int(m, "retries", "routing", range: 0...10) { routing.retries = v }
        if let v = number(m, "deadline_s", "routing", range: 0.001...86_400) { routing.deadlineSeconds = v }
        routing.defaultFallback = string(m, "default_fallback", "routing")
        if let node = m["backoff"], let b = mapping(node, "routing.backoff", allowed: ["base_ms", "max_ms"]) {
            if let v = number(b, "base_ms", "routing.backoff", range: 0...600_000) { routing.backoff.baseMs = v }
            if let v = number(b, "max_ms", "routing.backoff", range: 0...600_000) { routing.backoff.maxMs = v }
            if routing.backoff.maxMs < routing.backoff.baseMs { problem("routing.backoff.max_ms", "must be at least base_ms (\(trim(routing.backoff.baseMs)))") }
        }
        if let node = m["health"], let h = mapping(node, "routing.health", allowed: ["failure_threshold", "ejection_s", "max_ejection_s", "cooldown_s",
                                                                                  "error_ratio", "min_requests"]) {
            if let v = number(h, "error_ratio", "routing.health", range: 0...1) { routing.health.errorRatio = v == 0 ? nil : v }
            if let v = int(h, "min_requests", "routing.health", range: 2...64) { routing.health.minRequests = v }
            if let v = int(h, "failure_threshold", "routing.health", range: 1...1000) { routing.health.failureThreshold = v }
            if let v = number(h, "ejection_s", "routing.health", range: 0.001...86_400) { routing.health.ejectionSeconds = v }
            if let v = number(h, "max_ejection_s", "routing.health", range: 0.001...86_400) { routing.health.maxEjectionSeconds = v }
            if let v = number(h, "cooldown_s", "routing.health", range: 0...86_400) { routing.health.cooldownSeconds = v }
            if routing.health.maxEjectionSeconds < routing.health.ejectionSeconds { problem("routing.health.max_ejection_s", "must be at least ejection_s") }
        }
        if let v = number(m, "timeout_s", "routing", range: 0.001...86_400) { routing.timeoutSeconds = v }
        if let v = number(m, "connect_timeout_s", "routing", range: 0.001...600) { routing.connectTimeoutSeconds = v }
        if let v = number(m, "total_timeout_s", "routing", range: 0.001...86_400) { routing.totalTimeoutSeconds = v }
        return routing
    }
}
