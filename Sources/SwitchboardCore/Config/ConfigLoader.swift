import Foundation
import Yams

/// One thing wrong with a configuration, at a key path such as `models[2].deployments[0].provider`.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Every problem found in a configuration; thrown by `ConfigLoader.load`.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public init(problems: [ConfigProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Reads a YAML configuration into a `GatewayConfig`, reporting every problem at once.
///
/// Keys (all snake_case; `env:NAME` works wherever a secret goes: `auth.master_key`, `auth.keys[].key`,
/// `providers[].api_key`, `providers[].headers.*`):
/// - `server`: `listen` ("HOST:PORT", "127.0.0.1:8080"), `max_body_bytes` (int, 8388608), `event_loop_threads`
///   (int, 0 = one per core), `shutdown_grace_s` (number, 30), `max_connections` (int, 10000), `request_timeout_s`
///   (number, 60)
/// - `storage`: "memory" or "sqlite:PATH" (default "memory")
/// - `auth`: `master_key` (string), `keys` (list of `{name, key, models: [glob]}`)
/// - `providers` (list): `name`, `kind` (openai | anthropic | mock), `region`; openai: `base_url`, `api_key`,
///   `headers` (map); anthropic: the same plus `version` and `max_tokens`; azure: `base_url` (required), `api_key`,
///   `api_version`, `headers`; gemini: `base_url`, `api_key`, `headers`; mock: `latency_ms`, `ttft_ms`,
///   `tokens_per_s`, `error_rate`, `seed`, `completion_tokens`, `embedding_dimensions`, `api` (openai | anthropic | gemini)
/// - `models` (list): `name`, `balancing` (round-robin | weighted), `deployments` (list of `{provider, model,
///   weight (1), price: {input, output, cached_input, cache_write, reasoning} in USD per 1M tokens, capabilities:
///   {tools, vision, json_mode, streaming (booleans, default true), context_window, max_output_tokens}}`)
/// - `routing`: `retries` (int, 2), `timeout_s` (number, 60), `connect_timeout_s` (number, 5), `total_timeout_s` (number, 600)
public enum ConfigLoader {
    public static func load(yaml: String, environment: [String: String]) throws(ConfigError) -> GatewayConfig {
        var walker = Walker(environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(problems: [ConfigProblem(path: "", message: "not valid YAML: \(yamlErrorSummary(error))")])
        }
        guard let root else {
            throw ConfigError(problems: [ConfigProblem(path: "", message: "the configuration is empty")])
        }
        let config = walker.gatewayConfig(root)
        if let config, walker.problems.isEmpty { return config }
        throw ConfigError(problems: walker.problems)
    }

    static func yamlErrorSummary(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.split(separator: "\n").first.map(String.init) ?? text
    }
}

// MARK: - The tree walker

struct Walker {
    let environment: [String: String]
    var problems: [ConfigProblem] = []

    init(environment: [String: String]) { self.environment = environment }

    mutating func problem(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path: path, message: message))
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // MARK: Shapes

    /// The mapping at `node`, after checking its keys against `allowed` (unknown keys get a did-you-mean).
    mutating func mapping(_ node: Node, _ path: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let m) = node else {
            problem(path, "expected a mapping (key: value), found \(describe(node))")
            return nil
        }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.string else {
                problem(path, "keys must be strings")
                continue
            }
            if !allowed.contains(key) {
                let hint = suggestion(for: key, among: allowed).map { "; did you mean \"\($0)\"?" } ?? ""
                problem(Self.join(path, key), "unknown key \"\(key)\"\(hint) (allowed: \(allowed.joined(separator: ", ")))")
                continue
            }
            if out[key] != nil { problem(Self.join(path, key), "duplicate key") }
            out[key] = v
        }
        return out
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let s) = node else {
            problem(path, "expected a list, found \(describe(node))")
            return nil
        }
        return Array(s)
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): s.string.isEmpty || s.string == "~" || s.string == "null" ? "nothing" : "\"\(s.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: Scalars

    mutating func string(_ m: [String: Node], _ key: String, _ path: String, required: Bool = false) -> String? {
        let p = Self.join(path, key)
        guard let node = m[key] else {
            if required { problem(p, "required") }
            return nil
        }
        guard case .scalar(let s) = node, !s.string.isEmpty || s.style != .plain else {
            problem(p, "expected a string, found \(describe(node))")
            return nil
        }
        if required && s.string.isEmpty { problem(p, "must not be empty"); return nil }
        return s.string
    }

    mutating func int(_ m: [String: Node], _ key: String, _ path: String, range: ClosedRange<Int>) -> Int? {
        let p = Self.join(path, key)
        guard let node = m[key] else { return nil }
        guard case .scalar(let s) = node, s.style == .plain, let v = Int(s.string) else {
            problem(p, "expected an integer, found \(describe(node))")
            return nil
        }
        guard range.contains(v) else {
            problem(p, "must be between \(range.lowerBound) and \(range.upperBound), found \(v)")
            return nil
        }
        return v
    }

    mutating func number(_ m: [String: Node], _ key: String, _ path: String, range: ClosedRange<Double>) -> Double? {
        let p = Self.join(path, key)
        guard let node = m[key] else { return nil }
        guard case .scalar(let s) = node, s.style == .plain, let v = Double(s.string), v.isFinite else {
            problem(p, "expected a number, found \(describe(node))")
            return nil
        }
        guard range.contains(v) else {
            problem(p, "must be between \(trim(range.lowerBound)) and \(trim(range.upperBound)), found \(trim(v))")
            return nil
        }
        return v
    }

    func trim(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    /// A string that may be an `env:NAME` reference; the reference is resolved, a missing variable is a problem.
    mutating func secret(_ m: [String: Node], _ key: String, _ path: String) -> String? {
        guard let raw = string(m, key, path) else { return nil }
        return resolve(raw, Self.join(path, key))
    }

    /// A secret or header value, `env:` resolved; values with control characters (CR, LF, NUL…) are problems: they
    /// cannot go into an HTTP header, and every request would fail.
    mutating func resolve(_ raw: String, _ path: String) -> String? {
        guard let value = resolveReference(raw, path) else { return nil }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            problem(path, "contains a control character (such as a line break): it cannot be sent in an HTTP header")
            return nil
        }
        return value
    }

    private mutating func resolveReference(_ raw: String, _ path: String) -> String? {
        guard raw.hasPrefix("env:") else { return raw }
        let name = String(raw.dropFirst(4))
        guard !name.isEmpty else {
            problem(path, "\"env:\" needs a variable name, as in env:OPENAI_API_KEY")
            return nil
        }
        guard let value = environment[name], !value.isEmpty else {
            problem(path, "environment variable \(name) is not set")
            return nil
        }
        return value
    }

    // MARK: Sections

    mutating func gatewayConfig(_ root: Node) -> GatewayConfig? {
        guard let top = mapping(root, "", allowed: ["server", "storage", "auth", "providers", "models", "routing", "logging", "tracing", "metrics"]) else { return nil }
        let logging = top["logging"].map { loggingConfig($0) } ?? LoggingConfig()
        let tracing = top["tracing"].map { tracingConfig($0) } ?? TracingConfig()
        var metrics = MetricsConfig()
        if let node = top["metrics"], let m = mapping(node, "metrics", allowed: ["key_labels"]) {
            if let v = bool(m, "key_labels", "metrics") { metrics.keyLabels = v }
        }
        let server = top["server"].map { serverConfig($0) } ?? ServerConfig()
        let storage = top["storage"].map { storageLocation($0) } ?? .memory
        let auth = top["auth"].map { authConfig($0) } ?? AuthConfig()
        let routing = top["routing"].map { routingConfig($0) } ?? RoutingConfig()

        var providers: [ProviderConfig] = []
        if let node = top["providers"], let list = sequence(node, "providers") {
            var seen: [String: Int] = [:]
            for (i, item) in list.enumerated() {
                let path = "providers[\(i)]"
                guard let p = providerConfig(item, path) else { continue }
                if let first = seen[p.name] {
                    problem("\(path).name", "duplicate provider name \"\(p.name)\" (also providers[\(first)])")
                } else {
                    seen[p.name] = i
                }
                providers.append(p)
            }
        } else if top["providers"] == nil {
            problem("providers", "required: at least one provider")
        }
        if top["providers"] != nil, providers.isEmpty, problems.isEmpty { problem("providers", "must list at least one provider") }

        var models: [ModelConfig] = []
        let providerKinds = Dictionary(providers.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        if let node = top["models"], let list = sequence(node, "models") {
            var seen: [String: Int] = [:]
            for (i, item) in list.enumerated() {
                let path = "models[\(i)]"
                guard let model = modelConfig(item, path, providers: providerKinds) else { continue }
                if let first = seen[model.name] {
                    problem("\(path).name", "duplicate model name \"\(model.name)\" (also models[\(first)])")
                } else {
                    seen[model.name] = i
                }
                models.append(model)
            }
            if list.isEmpty { problem("models", "must list at least one model") }
        } else if top["models"] == nil {
            problem("models", "required: at least one model")
        }
        checkFallbacks(models, routing: routing, modelsNode: top["models"])
        var config = GatewayConfig(server: server, storage: storage, auth: auth, providers: providers, models: models, routing: routing)
        config.logging = logging
        config.tracing = tracing
        config.metrics = metrics
        return config
    }

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

    mutating func tracingConfig(_ node: Node) -> TracingConfig {
        var t = TracingConfig()
        let path = "tracing"
        guard let m = mapping(node, path, allowed: ["enabled", "endpoint", "protocol", "headers", "service_name", "sample_ratio",
                                                    "export_interval_ms", "export_timeout_s", "max_queue"]) else { return t }
        if let v = bool(m, "enabled", path) { t.enabled = v }
        if let url = string(m, "endpoint", path) {
            if let c = URLComponents(string: url), c.scheme == "http" || c.scheme == "https", let host = c.host, !host.isEmpty {
                t.endpoint = c.path.isEmpty || c.path == "/" ? (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/v1/traces" : url
            } else {
                problem("tracing.endpoint", "expected an http:// or https:// URL of an OTLP/HTTP collector, found \"\(url)\"")
            }
        }
        if let p = string(m, "protocol", path) {
            if let wire = TracingConfig.WireProtocol(rawValue: p) { t.wireProtocol = wire } else {
                problem("tracing.protocol", "expected http/protobuf or http/json, found \"\(p)\" (OTLP over gRPC is not built in)")
            }
        }
        for (name, value) in headerMap(m, "headers", path) { t.headers[name] = value }
        if let v = string(m, "service_name", path) {
            if v.isEmpty { problem("tracing.service_name", "must not be empty") } else { t.serviceName = v }
        }
        if let v = number(m, "sample_ratio", path, range: 0...1) { t.sampleRatio = v }
        if let v = int(m, "export_interval_ms", path, range: 1...600_000) { t.exportIntervalMs = v }
        if let v = number(m, "export_timeout_s", path, range: 0.001...300) { t.exportTimeoutSeconds = v }
        if let v = int(m, "max_queue", path, range: 1...1_000_000) { t.maxQueue = v }
        return t
    }

    /// Every fallback names a configured model other than the one it belongs to.
    mutating func checkFallbacks(_ models: [ModelConfig], routing: RoutingConfig, modelsNode: Node?) {
        let names = models.map(\.name)
        func check(_ name: String, _ path: String, owner: String?) {
            if name == owner { problem(path, "a model cannot fall back to itself") }
            else if !names.contains(name) {
                let hint = suggestion(for: name, among: names).map { "; did you mean \"\($0)\"?" } ?? ""
                problem(path, "unknown model \"\(name)\"\(hint)")
            }
        }
        if let d = routing.defaultFallback { check(d, "routing.default_fallback", owner: nil) }
        // Models that failed to load are missing from `models`; find each one's index in the YAML list by name.
        let order: [String] = modelsNode?.sequence?.map { $0.mapping?["name"]?.string ?? "" } ?? names
        for m in models {
            let i = order.firstIndex(of: m.name) ?? 0
            for (key, list) in [("fallbacks", m.fallbacks), ("context_window_fallbacks", m.contextWindowFallbacks ?? []),
                                ("content_policy_fallbacks", m.contentPolicyFallbacks ?? [])] {
                for (j, f) in list.enumerated() { check(f, "models[\(i)].\(key)[\(j)]", owner: m.name) }
            }
        }
    }

    mutating func serverConfig(_ node: Node) -> ServerConfig {
        var server = ServerConfig()
        guard let m = mapping(node, "server", allowed: ["listen", "max_body_bytes", "event_loop_threads", "shutdown_grace_s", "max_in_flight",
                                                        "queue_depth", "queue_timeout_s", "tls", "max_connections", "request_timeout_s"]) else {
            return server
        }
        if let v = int(m, "max_in_flight", "server", range: 0...1_000_000) { server.maxInFlight = v }
        if let v = int(m, "queue_depth", "server", range: 0...1_000_000) { server.queueDepth = v }
        if let v = number(m, "queue_timeout_s", "server", range: 0.001...3600) { server.queueTimeoutSeconds = v }
        if let node = m["tls"], let t = mapping(node, "server.tls", allowed: ["cert_file", "key_file", "client_ca_file"]) {
            let cert = string(t, "cert_file", "server.tls", required: true)
            let key = string(t, "key_file", "server.tls", required: true)
            let ca = string(t, "client_ca_file", "server.tls")
            for (name, path) in [("cert_file", cert), ("key_file", key), ("client_ca_file", ca)] {
                if let path, !FileManager.default.isReadableFile(atPath: path) { problem("server.tls.\(name)", "cannot read the file \"\(path)\"") }
            }
            if let cert, let key { server.tls = TLSConfig(certFile: cert, keyFile: key, clientCAFile: ca) }
        }
        if let listen = string(m, "listen", "server") {
            if let (host, port) = parseListen(listen) {
                server.host = host
                server.port = port
            } else {
                problem("server.listen", "expected \"HOST:PORT\" (port 0–65535), found \"\(listen)\"")
            }
        }
        if let v = int(m, "max_body_bytes", "server", range: 1...(1 << 30)) { server.maxBodyBytes = v }
        if let v = int(m, "event_loop_threads", "server", range: 0...256) { server.eventLoopThreads = v }
        if let v = number(m, "shutdown_grace_s", "server", range: 0...3600) { server.shutdownGraceSeconds = v }
        if let v = int(m, "max_connections", "server", range: 1...1_000_000) { server.maxConnections = v }
        if let v = number(m, "request_timeout_s", "server", range: 0.001...3600) { server.requestTimeoutSeconds = v }
        return server
    }

    mutating func storageLocation(_ node: Node) -> StorageLocation {
        guard case .scalar(let s) = node else {
            problem("storage", "expected \"memory\", \"sqlite:PATH\" or \"postgres://USER@HOST:PORT/DATABASE\", found \(describe(node))")
            return .memory
        }
        guard let value = resolve(s.string, "storage") else { return .memory }
        if value == "memory" { return .memory }
        if value.hasPrefix("sqlite:") {
            let path = String(value.dropFirst("sqlite:".count))
            if path.isEmpty { problem("storage", "\"sqlite:\" needs a file path, as in sqlite:switchboard.db") }
            return .sqlite(path: path)
        }
        if value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") {
            guard let c = URLComponents(string: value), let host = c.host, !host.isEmpty, c.path.count > 1 else {
                problem("storage", "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
                return .memory
            }
            return .postgres(url: value)
        }
        problem("storage", "expected \"memory\", \"sqlite:PATH\" or \"postgres://USER@HOST:PORT/DATABASE\", found \"\(value)\"")
        return .memory
    }

    mutating func authConfig(_ node: Node) -> AuthConfig {
        var auth = AuthConfig()
        guard let m = mapping(node, "auth", allowed: ["master_key", "keys", "budget_alert_webhook", "key_cache_s", "encryption_key"]) else { return auth }
        if let text = secret(m, "encryption_key", "auth") {
            if let bytes = Data(base64Encoded: text), bytes.count == 32 {
                auth.encryptionKey = Array(bytes)
            } else if text.utf8.count == 64, let bytes = hexBytes(text) {
                auth.encryptionKey = bytes
            } else {
                problem("auth.encryption_key", "expected 32 bytes as base64 (openssl rand -base64 32) or 64 hex digits")
            }
        }
        auth.masterKey = secret(m, "master_key", "auth")
        if let master = auth.masterKey, master.utf8.count < AuthConfig.minimumMasterKeyLength {
            problem("auth.master_key", "too short: at least \(AuthConfig.minimumMasterKeyLength) characters (it unlocks everything)")
        }
        if let url = string(m, "budget_alert_webhook", "auth") {
            if url.hasPrefix("http://") || url.hasPrefix("https://") { auth.budgetAlertWebhook = url } else {
                problem("auth.budget_alert_webhook", "expected an http:// or https:// URL, found \"\(url)\"")
            }
        }
        if let v = number(m, "key_cache_s", "auth", range: 0...3600) { auth.keyCacheSeconds = v }
        if let node = m["keys"], let list = sequence(node, "auth.keys") {
            var names: [String: Int] = [:]
            var texts: [String: Int] = [:]
            for (i, item) in list.enumerated() {
                let path = "auth.keys[\(i)]"
                guard let k = mapping(item, path, allowed: ["name", "key", "models"]) else { continue }
                let name = string(k, "name", path, required: true)
                let key = secret(k, "key", path)
                if k["key"] == nil { problem("\(path).key", "required") }
                var models: [String] = []
                if let node = k["models"], let list = sequence(node, "\(path).models") {
                    for (j, item) in list.enumerated() {
                        if case .scalar(let s) = item, !s.string.isEmpty { models.append(s.string) } else {
                            problem("\(path).models[\(j)]", "expected a model name or glob, found \(describe(item))")
                        }
                    }
                }
                if let name {
                    if let first = names[name] { problem("\(path).name", "duplicate key name \"\(name)\" (also auth.keys[\(first)])") }
                    names[name] = i
                }
                if let key {
                    // One key text, one identity: a duplicate would be resolved to whichever came first.
                    if let first = texts[key] { problem("\(path).key", "the same key as auth.keys[\(first)]") }
                    if key == auth.masterKey { problem("\(path).key", "the same key as auth.master_key") }
                    texts[key] = i
                }
                if let name, let key { auth.keys.append(StaticKey(name: name, key: key, models: models)) }
            }
        }
        return auth
    }

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

    static let openAIKeys = ["base_url", "api_key", "headers"]
    static let anthropicKeys = ["base_url", "api_key", "headers", "version", "max_tokens"]
    static let azureKeys = ["base_url", "api_key", "headers", "api_version"]
    static let geminiKeys = ["base_url", "api_key", "headers"]
    static let mockKeys = ["latency_ms", "ttft_ms", "tokens_per_s", "error_rate", "seed", "completion_tokens", "embedding_dimensions", "api"]

    mutating func providerConfig(_ node: Node, _ path: String) -> ProviderConfig? {
        guard case .mapping = node else {
            problem(path, "expected a provider mapping, found \(describe(node))")
            return nil
        }
        // Read `kind` first so the allowed keys can depend on it.
        let kindName = node.mapping?["kind"]?.string
        let common = ["name", "kind", "region", "health_check"]
        let allowed: [String]
        switch kindName {
        case "openai": allowed = common + Self.openAIKeys
        case "anthropic": allowed = common + Self.anthropicKeys
        case "azure": allowed = common + Self.azureKeys
        case "gemini": allowed = common + Self.geminiKeys
        case "mock": allowed = common + Self.mockKeys
        default: allowed = common + Self.anthropicKeys + Self.azureKeys + Self.mockKeys
        }
        guard let m = mapping(node, path, allowed: allowed) else { return nil }
        let name = string(m, "name", path, required: true)
        let region = string(m, "region", path)
        guard let kindRaw = string(m, "kind", path, required: true) else { return nil }
        let kind: ProviderKind
        switch kindRaw {
        case "openai":
            var o = OpenAIProviderConfig()
            let http = httpProvider(m, path, defaultBaseURL: o.baseURL)
            (o.baseURL, o.apiKey, o.headers) = (http.baseURL, http.apiKey, http.headers)
            kind = .openai(o)
        case "anthropic":
            var a = AnthropicProviderConfig()
            let http = httpProvider(m, path, defaultBaseURL: a.baseURL)
            (a.baseURL, a.apiKey, a.headers) = (http.baseURL, http.apiKey, http.headers)
            if let v = string(m, "version", path) { a.version = v }
            if let v = int(m, "max_tokens", path, range: 1...1_000_000) { a.defaultMaxTokens = v }
            kind = .anthropic(a)
        case "azure":
            if m["base_url"] == nil { problem("\(path).base_url", "required for kind azure, e.g. https://my-resource.openai.azure.com") }
            let http = httpProvider(m, path, defaultBaseURL: "")
            var a = AzureProviderConfig(baseURL: http.baseURL, apiKey: http.apiKey, headers: http.headers)
            if let v = string(m, "api_version", path) { a.apiVersion = v }
            kind = .azure(a)
        case "gemini":
            var g = GeminiProviderConfig()
            let http = httpProvider(m, path, defaultBaseURL: g.baseURL)
            (g.baseURL, g.apiKey, g.headers) = (http.baseURL, http.apiKey, http.headers)
            kind = .gemini(g)
        case "mock":
            var mock = MockProviderConfig()
            if let v = int(m, "latency_ms", path, range: 0...600_000) { mock.latencyMs = v }
            if let v = int(m, "ttft_ms", path, range: 0...600_000) { mock.ttftMs = v }
            if let v = number(m, "tokens_per_s", path, range: 0...1_000_000) { mock.tokensPerSecond = v }
            if let v = number(m, "error_rate", path, range: 0...1) { mock.errorRate = v }
            if let v = int(m, "seed", path, range: 0...Int.max) { mock.seed = UInt64(v) }
            if let v = int(m, "completion_tokens", path, range: 1...100_000) { mock.completionTokens = v }
            if let v = int(m, "embedding_dimensions", path, range: 1...16_384) { mock.embeddingDimensions = v }
            if let raw = string(m, "api", path) {
                if let api = MockAPI(rawValue: raw) { mock.api = api } else {
                    problem("\(path).api", "unknown API \"\(raw)\" (known: \(MockAPI.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
            }
            kind = .mock(mock)
        default:
            let hint = suggestion(for: kindRaw, among: ProviderKind.names).map { "; did you mean \"\($0)\"?" } ?? ""
            problem("\(path).kind", "unknown provider kind \"\(kindRaw)\"\(hint) (known: \(ProviderKind.names.joined(separator: ", ")))")
            return nil
        }
        let healthCheck = m["health_check"].map { healthCheckConfig($0, "\(path).health_check") }
        guard let name else { return nil }
        return ProviderConfig(name: name, kind: kind, region: region, healthCheck: healthCheck)
    }

    mutating func healthCheckConfig(_ node: Node, _ path: String) -> HealthCheckConfig {
        var c = HealthCheckConfig()
        guard let m = mapping(node, path, allowed: ["path", "interval_s", "timeout_s", "healthy_threshold", "unhealthy_threshold"]) else { return c }
        if let v = string(m, "path", path) {
            if v.hasPrefix("/") { c.path = v } else { problem("\(path).path", "must start with \"/\", e.g. \"/models\"") }
        }
        if let v = number(m, "interval_s", path, range: 0.05...86_400) { c.intervalSeconds = v }
        if let v = number(m, "timeout_s", path, range: 0.001...600) { c.timeoutSeconds = v }
        if let v = int(m, "healthy_threshold", path, range: 1...100) { c.healthyThreshold = v }
        if let v = int(m, "unhealthy_threshold", path, range: 1...100) { c.unhealthyThreshold = v }
        return c
    }

    /// `base_url`, `api_key` and `headers` of a provider that speaks HTTP.
    mutating func httpProvider(_ m: [String: Node], _ path: String, defaultBaseURL: String)
        -> (baseURL: String, apiKey: String?, headers: [(name: String, value: String)]) {
        var baseURL = defaultBaseURL
        var headers: [(name: String, value: String)] = []
        if let url = string(m, "base_url", path) {
            if (url.hasPrefix("http://") || url.hasPrefix("https://")) && url.count > 8 && !url.contains(" ") {
                baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            } else {
                problem("\(path).base_url", "expected an http:// or https:// URL, found \"\(url)\"")
            }
        }
        let apiKey = secret(m, "api_key", path)
        headers = headerMap(m, "headers", path)
        return (baseURL, apiKey, headers)
    }

    /// A mapping of header names to values; values may be `env:NAME` references.
    mutating func headerMap(_ m: [String: Node], _ key: String, _ path: String) -> [(name: String, value: String)] {
        guard let h = m[key] else { return [] }
        let at = Self.join(path, key)
        guard case .mapping(let hm) = h else {
            problem(at, "expected a mapping of header names to values, found \(describe(h))")
            return []
        }
        var headers: [(name: String, value: String)] = []
        for (k, v) in hm {
            guard let hn = k.string, isToken(hn) else {
                problem(at, "invalid header name \(describe(k))")
                continue
            }
            guard case .scalar(let sv) = v else {
                problem("\(at).\(hn)", "expected a string, found \(describe(v))")
                continue
            }
            if let value = resolve(sv.string, "\(at).\(hn)") { headers.append((hn, value)) }
        }
        return headers
    }

    mutating func modelConfig(_ node: Node, _ path: String, providers: [String: ProviderKind]) -> ModelConfig? {
        guard let m = mapping(node, path, allowed: ["name", "balancing", "deployments", "fallbacks", "context_window_fallbacks",
                                                    "content_policy_fallbacks", "retries", "deadline_s", "hedge"]) else { return nil }
        let name = string(m, "name", path, required: true)
        var balancing = BalancingPolicyName.p2cEWMA
        if let raw = string(m, "balancing", path) {
            if let b = BalancingPolicyName(rawValue: raw) { balancing = b } else {
                let all = BalancingPolicyName.allCases.map(\.rawValue)
                let hint = suggestion(for: raw, among: all).map { "; did you mean \"\($0)\"?" } ?? ""
                problem("\(path).balancing", "unknown balancing policy \"\(raw)\"\(hint) (known: \(all.joined(separator: ", ")))")
            }
        }
        var deployments: [DeploymentConfig] = []
        if let node = m["deployments"], let list = sequence(node, "\(path).deployments") {
            if list.isEmpty { problem("\(path).deployments", "must list at least one deployment") }
            for (i, item) in list.enumerated() {
                if let d = deploymentConfig(item, "\(path).deployments[\(i)]", providers: providers) { deployments.append(d) }
            }
        } else if m["deployments"] == nil {
            problem("\(path).deployments", "required: at least one deployment")
        }
        guard let name, !deployments.isEmpty else { return nil }
        var model = ModelConfig(name: name, balancing: balancing, deployments: deployments)
        model.fallbacks = stringList(m, "fallbacks", path) ?? []
        model.contextWindowFallbacks = stringList(m, "context_window_fallbacks", path)
        model.contentPolicyFallbacks = stringList(m, "content_policy_fallbacks", path)
        model.retries = int(m, "retries", path, range: 0...10)
        model.deadlineSeconds = number(m, "deadline_s", path, range: 0.001...86_400)
        if let node = m["hedge"], let h = mapping(node, "\(path).hedge", allowed: ["after_ms", "percentile"]) {
            var hedge = HedgeConfig()
            if let v = number(h, "after_ms", "\(path).hedge", range: 1...600_000) { hedge.afterMs = v }
            hedge.percentile = number(h, "percentile", "\(path).hedge", range: 1...99.9)
            model.hedge = hedge
        }
        return model
    }

    /// A list of non-empty strings.
    mutating func stringList(_ m: [String: Node], _ key: String, _ path: String, what: String = "a model name") -> [String]? {
        guard let node = m[key] else { return nil }
        guard let items = sequence(node, Self.join(path, key)) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            if case .scalar(let s) = item, !s.string.isEmpty { out.append(s.string) } else {
                problem("\(Self.join(path, key))[\(i)]", "expected \(what), found \(describe(item))")
            }
        }
        return out
    }

    mutating func bool(_ m: [String: Node], _ key: String, _ path: String) -> Bool? {
        guard let node = m[key] else { return nil }
        guard case .scalar(let s) = node, s.style == .plain, let v = Bool(s.string.lowercased()) else {
            problem(Self.join(path, key), "expected true or false, found \(describe(node))")
            return nil
        }
        return v
    }

    mutating func capabilities(_ node: Node, _ path: String, kind: ProviderKind?) -> Capabilities {
        var c = kind.map(Capabilities.defaults(for:)) ?? Capabilities()
        guard let m = mapping(node, path, allowed: ["tools", "vision", "json_mode", "streaming", "context_window", "max_output_tokens"]) else { return c }
        if let v = bool(m, "tools", path) { c.tools = v }
        if let v = bool(m, "vision", path) { c.vision = v }
        if let v = bool(m, "json_mode", path) { c.jsonMode = v }
        if let v = bool(m, "streaming", path) { c.streaming = v }
        if let v = int(m, "context_window", path, range: 1...100_000_000) { c.contextWindow = v }
        if let v = int(m, "max_output_tokens", path, range: 1...100_000_000) { c.maxOutputTokens = v }
        return c
    }

    mutating func deploymentConfig(_ node: Node, _ path: String, providers: [String: ProviderKind]) -> DeploymentConfig? {
        let providerNames = Set(providers.keys)
        guard let m = mapping(node, path, allowed: ["provider", "model", "weight", "price", "capabilities", "rpm", "tpm",
                                                    "max_concurrent", "timeouts"]) else { return nil }
        let provider = string(m, "provider", path, required: true)
        if let provider, !providerNames.contains(provider) {
            let hint = suggestion(for: provider, among: Array(providerNames)).map { "; did you mean \"\($0)\"?" } ?? ""
            problem("\(path).provider", "unknown provider \"\(provider)\"\(hint)")
        }
        let model = string(m, "model", path, required: true)
        let weight = int(m, "weight", path, range: 1...1_000_000) ?? 1
        var price = Price()
        if let node = m["price"], let pm = mapping(node, "\(path).price", allowed: ["input", "output", "cached_input", "cache_write", "reasoning"]) {
            if let v = number(pm, "input", "\(path).price", range: 0...1_000_000) { price.input = v }
            if let v = number(pm, "output", "\(path).price", range: 0...1_000_000) { price.output = v }
            price.cachedInput = number(pm, "cached_input", "\(path).price", range: 0...1_000_000)
            price.cacheWrite = number(pm, "cache_write", "\(path).price", range: 0...1_000_000)
            price.reasoning = number(pm, "reasoning", "\(path).price", range: 0...1_000_000)
        }
        let kind = provider.flatMap { providers[$0] }
        let caps = m["capabilities"].map { capabilities($0, "\(path).capabilities", kind: kind) } ?? kind.map(Capabilities.defaults(for:)) ?? Capabilities()
        let limits = DeploymentLimits(rpm: int(m, "rpm", path, range: 1...100_000_000), tpm: int(m, "tpm", path, range: 1...10_000_000_000),
                                      maxConcurrent: int(m, "max_concurrent", path, range: 1...1_000_000))
        var timeouts = DeploymentTimeouts()
        if let node = m["timeouts"], let t = mapping(node, "\(path).timeouts", allowed: ["connect_s", "first_token_s", "idle_s", "total_s"]) {
            let p = "\(path).timeouts"
            timeouts = DeploymentTimeouts(connectSeconds: number(t, "connect_s", p, range: 0.001...600),
                                          firstTokenSeconds: number(t, "first_token_s", p, range: 0.001...86_400),
                                          idleSeconds: number(t, "idle_s", p, range: 0.001...86_400),
                                          totalSeconds: number(t, "total_s", p, range: 0.001...86_400))
        }
        guard let provider, let model, providerNames.contains(provider) else { return nil }
        return DeploymentConfig(provider: provider, model: model, weight: weight, price: price, capabilities: caps, limits: limits, timeouts: timeouts)
    }

    private func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }
}

/// Parses "HOST:PORT" (IPv6 as "[::1]:8080").
/// The bytes of an even-length hex string, or nil.
func hexBytes(_ s: String) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(u.count / 2)
    for i in stride(from: 0, to: u.count, by: 2) {
        guard let b = UInt8(String(decoding: u[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}

public func parseListen(_ s: String) -> (host: String, port: Int)? {
    guard let colon = s.lastIndex(of: ":") else { return nil }
    var host = String(s[..<colon])
    guard let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else { return nil }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
}

/// The closest of `candidates` to `word` by edit distance, if it is close enough to be a likely typo.
public func suggestion(for word: String, among candidates: [String]) -> String? {
    let limit = max(1, min(3, word.count / 3))
    var best: (String, Int)?
    for c in candidates.sorted() {
        let d = editDistance(word.lowercased(), c.lowercased())
        if d <= limit, d < (best?.1 ?? .max) { best = (c, d) }
    }
    return best?.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = prev
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
