// ConfigLoader: the `logging:` section (log format, access log, request-log retention, logged bodies) and `audit:`.
import Yams

extension Walker {
    mutating func loggingConfig(_ node: Node) -> LoggingConfig {
        var l = LoggingConfig()
        guard let m = mapping(node, "logging", allowed: ["format", "access_log", "request_log_retention_days", "bodies"]) else { return l }
        if let f = string(m, "format", "logging") {
            if let format = LoggingConfig.Format(rawValue: f) { l.format = format } else {
                problem("logging.format", "expected text or json, found \"\(f)\"")
            }
        }
        if let v = bool(m, "access_log", "logging") { l.accessLog = v }
        if let v = number(m, "request_log_retention_days", "logging", range: 0...36_500) { l.retentionDays = v }
        if let node = m["bodies"], let b = mapping(node, "logging.bodies", allowed: ["enabled", "max_bytes", "redact", "patterns"]) {
            let path = "logging.bodies"
            if let v = bool(b, "enabled", path) { l.bodies.enabled = v }
            if let v = int(b, "max_bytes", path, range: 1...(1 << 20)) { l.bodies.maxBytes = v }
            if let kinds = stringList(b, "redact", path, what: "a redaction kind") {
                l.bodies.redact = []
                for (i, k) in kinds.enumerated() {
                    if let kind = RedactionKind(rawValue: k) { l.bodies.redact.append(kind) } else {
                        problem("\(path).redact[\(i)]", "expected one of \(RedactionKind.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(k)\"")
                    }
                }
            }
            if let patterns = stringList(b, "patterns", path, what: "a regular expression") {
                for (i, pattern) in patterns.enumerated() {
                    if let why = Redactor.invalidPattern(pattern) { problem("\(path).patterns[\(i)]", why) }
                }
                l.bodies.patterns = patterns
            }
        }
        return l
    }
}

extension Walker {
    /// The `audit:` section.
    mutating func auditConfig(_ node: Node) -> AuditConfig {
        var a = AuditConfig()
        guard let m = mapping(node, "audit", allowed: ["retention_days"]) else { return a }
        if let v = number(m, "retention_days", "audit", range: 0...36_500) { a.retentionDays = v }
        return a
    }
}
