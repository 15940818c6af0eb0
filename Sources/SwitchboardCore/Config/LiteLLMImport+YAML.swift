// LiteLLM import: the converted models and deployments, and the YAML they are written as — sections and keys always in
// the same order (the order of docs/configuration.md), every string from the LiteLLM file double-quoted, numbers
// without exponents, so that two imports of the same file are the same text and a diff of the result is readable.
import Foundation

/// One entry of the written `models:`.
struct ImportedModel {
    var name: String
    var balancing: String?
    var deployments: [ImportedDeployment]
    var fallbacks: [String] = []
    /// nil: not set in LiteLLM (Switchboard then uses `fallbacks`); empty: set, but no target was carried over.
    var contextWindowFallbacks: [String]?
    var contentPolicyFallbacks: [String]?

    init(name: String, deployments: [ImportedDeployment]) {
        self.name = name
        self.deployments = deployments
    }
}

/// One entry of a written model's `deployments:`.
struct ImportedDeployment {
    var provider: String
    var model: String
    /// Its `litellm_params` key path, for notes written after the whole file is read.
    var path = ""
    /// LiteLLM's `weight` as written (may be fractional); `weight` is the whole number written.
    var rawWeight: Double?
    var weight: Int?
    var rpm: Int?
    var tpm: Int?
    var maxConcurrent: Int?
    var firstTokenSeconds: Double?
    var idleSeconds: Double?
    var totalSeconds: Double?
    var price = ImportedPrice()
    var contextWindow: Int?
    var maxOutputTokens: Int?
    var tools: Bool?
    var vision: Bool?
    var jsonMode: Bool?

    init(provider: String, model: String) {
        self.provider = provider
        self.model = model
    }
}

/// USD per million tokens.
struct ImportedPrice {
    var input: Double?
    var output: Double?
    var cachedInput: Double?
    var cacheWrite: Double?
    var reasoning: Double?
}

extension LiteLLMConverter {
    func writeYAML() -> String {
        var out = """
            # Converted from a LiteLLM proxy config by `switchboard import litellm`, which listed what was not carried
            # over or only approximately. Check it with `switchboard check --config FILE`.

            """
        if let n = settings.maxInFlight { out += "server:\n  max_in_flight: \(n)\n" }
        if let s = settings.storage { out += "storage: \(quoted(s))\n" }
        if let k = settings.masterKey { out += "auth:\n  master_key: \(quoted(k))\n" }
        out += "providers:\n"
        for p in providers { out += provider(p) }
        out += "models:\n"
        for m in models { out += model(m) }
        out += routing()
        if settings.jsonLogs { out += "logging:\n  format: json\n" }
        return out
    }

    private func provider(_ p: ImportedProvider) -> String {
        var out = "  - name: \(quoted(p.name))\n    kind: \(p.kind)\n"
        if let v = p.baseURL { out += "    base_url: \(quoted(v))\n" }
        if let v = p.apiKey { out += "    api_key: \(quoted(v))\n" }
        if let v = p.apiVersion { out += "    api_version: \(quoted(v))\n" }
        if !p.headers.isEmpty {
            out += "    headers:\n"
            for h in p.headers { out += "      \(quoted(h.name)): \(quoted(h.value))\n" }
        }
        if let v = p.region { out += "    region: \(quoted(v))\n" }
        if let v = p.healthCheckSeconds { out += "    health_check: { interval_s: \(number(v)) }\n" }
        return out
    }

    private func model(_ m: ImportedModel) -> String {
        var out = "  - name: \(quoted(m.name))\n"
        if let b = m.balancing { out += "    balancing: \(b)\n" }
        out += "    deployments:\n"
        for d in m.deployments {
            out += "      - provider: \(quoted(d.provider))\n        model: \(quoted(d.model))\n"
            if let v = d.weight { out += "        weight: \(v)\n" }
            if let v = d.rpm { out += "        rpm: \(v)\n" }
            if let v = d.tpm { out += "        tpm: \(v)\n" }
            if let v = d.maxConcurrent { out += "        max_concurrent: \(v)\n" }
            let p = d.price
            out += flow("price", [("input", p.input.map(number)), ("output", p.output.map(number)), ("cached_input", p.cachedInput.map(number)),
                                  ("cache_write", p.cacheWrite.map(number)), ("reasoning", p.reasoning.map(number))])
            out += flow("capabilities", [("tools", d.tools.map(String.init)), ("vision", d.vision.map(String.init)),
                                         ("json_mode", d.jsonMode.map(String.init)), ("context_window", d.contextWindow.map(String.init)),
                                         ("max_output_tokens", d.maxOutputTokens.map(String.init))])
            out += flow("timeouts", [("first_token_s", d.firstTokenSeconds.map(number)), ("idle_s", d.idleSeconds.map(number)),
                                     ("total_s", d.totalSeconds.map(number))])
        }
        if !m.fallbacks.isEmpty { out += "    fallbacks: \(list(m.fallbacks))\n" }
        if let l = m.contextWindowFallbacks { out += "    context_window_fallbacks: \(list(l))\n" }
        if let l = m.contentPolicyFallbacks { out += "    content_policy_fallbacks: \(list(l))\n" }
        return out
    }

    private func routing() -> String {
        let s = settings
        var lines: [String] = []
        if let v = s.retries { lines.append("retries: \(v)") }
        if let t = s.timeoutSeconds {
            if t > RoutingConfig().deadlineSeconds { lines.append("deadline_s: \(number(t))") }
            lines.append("timeout_s: \(number(t))")
            lines.append("total_timeout_s: \(number(t))")
        }
        if let b = s.backoffBaseMs { lines.append("backoff: { base_ms: \(number(b)), max_ms: \(number(max(b, BackoffConfig().maxMs))) }") }
        if let f = s.defaultFallback { lines.append("default_fallback: \(quoted(f))") }
        var health: [(String, String?)] = [("failure_threshold", s.failureThreshold.map(String.init))]
        if let e = s.ejectionSeconds {
            health += [("ejection_s", number(e)), ("max_ejection_s", number(e))]
        }
        if s.errorRatioOff { health.append(("error_ratio", "0")) }
        let h = flow("health", health, indent: "")
        if !h.isEmpty { lines.append(String(h.dropLast())) }
        return lines.isEmpty ? "" : "routing:\n" + lines.map { "  \($0)\n" }.joined()
    }

    /// `key: { a: 1, b: 2 }` on one line (with a line break), or nothing when no value is set.
    private func flow(_ key: String, _ values: [(String, String?)], indent: String = "        ") -> String {
        let set = values.compactMap { k, v in v.map { "\(k): \($0)" } }
        return set.isEmpty ? "" : "\(indent)\(key): { \(set.joined(separator: ", ")) }\n"
    }

    private func list(_ names: [String]) -> String { "[" + names.map(quoted).joined(separator: ", ") + "]" }

    /// A number as YAML reads it back: whole numbers without a fraction, others to six decimals without trailing zeros.
    func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        var s = String(format: "%.6f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// A YAML double-quoted string; control and line-separator characters escaped.
    func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                let v = u.value
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0xFEFF {
                    out += String(format: "\\u%04X", v)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// The environment variables the written configuration reads (`env:NAME`), sorted.
    func referencedEnvironment() -> [String] {
        var values: [String?] = [settings.masterKey, settings.storage]
        for p in providers { values += [p.apiKey] + p.headers.map(\.value) }
        let names = values.compactMap { $0 }.filter { $0.hasPrefix("env:") }.map { String($0.dropFirst(4)) }
        return Array(Set(names)).sorted()
    }
}
