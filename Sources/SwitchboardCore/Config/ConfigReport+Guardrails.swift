// `GET /admin/config`: the edge, guardrails and review sections (webhook URLs and header values masked).

extension ConfigReport {
    static func waf(_ w: WAFConfig) -> JSONValue {
        var o: [String: JSONValue] = [
            "allow": strings(w.allow.map(\.description)), "deny": strings(w.deny.map(\.description)),
            "trust_forwarded_for": .bool(w.trustForwardedFor),
        ]
        if let a = w.authFailures {
            o["auth_failures"] = .object(["max": .int(a.max), "window_s": .double(a.windowSeconds), "block_s": .double(a.blockSeconds)])
        }
        return .object(o)
    }

    static func guardrails(_ g: GuardrailsConfig) -> JSONValue {
        func scope(_ s: GuardrailScope, into o: inout [String: JSONValue]) {
            if !s.models.isEmpty { o["models"] = strings(s.models) }
            if !s.keys.isEmpty { o["keys"] = strings(s.keys) }
            if !s.teams.isEmpty { o["teams"] = strings(s.teams) }
        }
        let pii: [JSONValue] = g.pii.map { p in
            var o: [String: JSONValue] = ["name": .string(p.name), "action": .string(p.action.rawValue), "kinds": strings(p.kinds.map(\.name).sorted()),
                                          "names": .int(p.names.count), "patterns": strings(p.patterns.map(\.kind.name))]
            scope(p.scope, into: &o)
            return .object(o)
        }
        let injection: [JSONValue] = g.injection.map { p in
            var o: [String: JSONValue] = ["name": .string(p.name), "action": .string(p.action.rawValue), "threshold": p.threshold.map(JSONValue.double) ?? .null]
            scope(p.scope, into: &o)
            return .object(o)
        }
        let output: [JSONValue] = g.output.map { p in
            var o: [String: JSONValue] = ["name": .string(p.name), "action": .string(p.action.rawValue), "pii": strings(p.pii.map(\.name).sorted()),
                                          "deny": strings(p.deny)]
            if let w = p.webhook {
                o["webhook"] = .object(["url": .string(maskURL(w.url)), "timeout_s": .double(w.timeoutSeconds),
                                        "on_error": .string(w.failClosed ? "block" : "allow"),
                                        "headers": .object(Dictionary(w.headers.map { ($0.name, JSONValue.string(mask($0.value))) }, uniquingKeysWith: { a, _ in a }))])
            }
            scope(p.scope, into: &o)
            return .object(o)
        }
        return .object(["pii": .array(pii), "injection": .array(injection), "output": .array(output)])
    }

    static func review(_ r: ReviewConfig) -> JSONValue {
        .object(["mode": .string(r.mode.rawValue), "wait_s": .double(r.waitSeconds), "on_timeout": .string(r.onTimeout.rawValue),
                 "fallback_model": optional(r.fallbackModel), "poll_ms": .int(r.pollMilliseconds)])
    }
}
