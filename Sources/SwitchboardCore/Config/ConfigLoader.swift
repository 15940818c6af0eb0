// The configuration loader's entry point and the YAML walking every section shares: `ConfigLoader.load` parses the
// document, `Walker.gatewayConfig` reads the top-level sections in order (each in its own ConfigLoader+Section.swift),
// and `Walker` checks shapes and scalars, resolves `env:` references and collects every problem with its key path.
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
/// Keys are snake_case; `env:NAME` works wherever a secret or header value goes. The sections — `server`, `storage`
/// (`memory`, `sqlite:PATH`, `postgres://…`), `auth`, `providers` (kinds `openai`, `anthropic`, `azure`, `gemini`,
/// `mock`), `models`, `routing`, `router`, `logging`, `tracing`, `metrics`, `audit` — are each read by their own
/// `ConfigLoader+Section.swift`, whose `allowed:` lists are exactly the keys accepted. Every key with its type and
/// default is documented in docs/configuration.md.
public enum ConfigLoader {
    public static func load(yaml: String, environment: [String: String]) throws(ConfigError) -> GatewayConfig {
        var walker = Walker(environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(problems: [yamlProblem(error, in: yaml)])
        }
        guard let root else {
            throw ConfigError(problems: [ConfigProblem(path: "", message: "the configuration is empty")])
        }
        let config = walker.gatewayConfig(root)
        if let config, walker.problems.isEmpty { return config }
        throw ConfigError(problems: walker.problems)
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

    mutating func bool(_ m: [String: Node], _ key: String, _ path: String) -> Bool? {
        guard let node = m[key] else { return nil }
        guard case .scalar(let s) = node, s.style == .plain, let v = Bool(s.string.lowercased()) else {
            problem(Self.join(path, key), "expected true or false, found \(describe(node))")
            return nil
        }
        return v
    }

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

    // MARK: Lists and maps

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

    /// A mapping of names to strings (metadata, rules' metadata conditions).
    mutating func stringMap(_ m: [String: Node], _ key: String, _ path: String) -> [String: String]? {
        guard let node = m[key] else { return nil }
        let at = Self.join(path, key)
        guard case .mapping(let map) = node else {
            problem(at, "expected a mapping of names to strings, found \(describe(node))")
            return nil
        }
        var out: [String: String] = [:]
        for (k, v) in map {
            guard let name = k.string, case .scalar(let s) = v, !s.string.isEmpty || s.style != .plain else {
                problem(at, "expected a mapping of names to strings, found \(describe(v))")
                continue
            }
            out[name] = s.string
        }
        return out
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

    private func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    /// The non-empty `name`s of a list of mappings as written, entries that fail to load included: a reference to a
    /// provider whose `kind` is wrong, or to a model whose deployment is, is not also reported as unknown.
    static func declaredNames(_ node: Node?) -> [String] {
        node?.sequence?.compactMap { $0.mapping?["name"]?.string }.filter { !$0.isEmpty } ?? []
    }

    // MARK: The whole configuration

    /// The whole configuration: each top-level section read in a fixed order (the order its problems are reported
    /// in) by its own `ConfigLoader+Section.swift`, then every fallback checked against the models the file names.
    mutating func gatewayConfig(_ root: Node) -> GatewayConfig? {
        guard let top = mapping(root, "", allowed: ["server", "storage", "auth", "providers", "models", "routing", "router", "waf", "guardrails", "review", "logging", "tracing", "metrics", "audit", "batches", "responses"]) else { return nil }
        let logging = top["logging"].map { loggingConfig($0) } ?? LoggingConfig()
        let tracing = top["tracing"].map { tracingConfig($0) } ?? TracingConfig()
        let metrics = top["metrics"].map { metricsConfig($0) } ?? MetricsConfig()
        let server = top["server"].map { serverConfig($0) } ?? ServerConfig()
        let storage = top["storage"].map { storageLocation($0) } ?? .memory
        let auth = top["auth"].map { authConfig($0) } ?? AuthConfig()
        let routing = top["routing"].map { routingConfig($0) } ?? RoutingConfig()

        let providers = providerList(top["providers"])
        var fallbacks: [FallbackReference] = []
        let models = modelList(top["models"], providers: providers, declaredProviders: Self.declaredNames(top["providers"]),
                               fallbacks: &fallbacks)
        checkFallbacks(fallbacks, routing: routing, declaredModels: Self.declaredNames(top["models"]))
        let router = top["router"].map { routerConfig($0, declaredModels: Self.declaredNames(top["models"])) } ?? RouterConfig()
        var config = GatewayConfig(server: server, storage: storage, auth: auth, providers: providers, models: models, routing: routing)
        config.logging = logging
        config.tracing = tracing
        config.metrics = metrics
        config.router = router
        config.waf = top["waf"].map { wafConfig($0) } ?? WAFConfig()
        config.guardrails = top["guardrails"].map { guardrailsConfig($0) } ?? GuardrailsConfig()
        config.review = top["review"].map { reviewConfig($0, declaredModels: Self.declaredNames(top["models"])) } ?? ReviewConfig()
        config.audit = top["audit"].map { auditConfig($0) } ?? AuditConfig()
        config.batches = top["batches"].map { batchesConfig($0) } ?? BatchesConfig()
        config.responses = top["responses"].map { responsesConfig($0) } ?? ResponsesConfig()
        return config
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
///
/// Distance is Damerau-Levenshtein (optimal string alignment, ignoring case): a swapped pair of neighbouring letters
/// (`chta`, `mokc`) is one edit, like a wrong, missing or extra letter. The edits allowed grow with the shorter of the
/// two names — one up to 5 characters, two up to 8, three beyond — and never rewrite all of the shorter name, so `a`
/// is not "corrected" to `b`. Ties go to the alphabetically first candidate.
public func suggestion(for word: String, among candidates: [String]) -> String? {
    let w = Array(word.lowercased().unicodeScalars)
    var best: (name: String, distance: Int)?
    for c in candidates.sorted() {
        let candidate = Array(c.lowercased().unicodeScalars)
        let shorter = min(w.count, candidate.count)
        let limit = max(1, min(3, shorter / 3))
        let d = editDistance(w, candidate)
        if d <= limit, d < shorter, d < (best?.distance ?? .max) { best = (c, d) }
    }
    return best?.name
}

/// The optimal-string-alignment distance: insertions, deletions, substitutions and transpositions of neighbours.
func editDistance(_ a: String, _ b: String) -> Int {
    editDistance(Array(a.unicodeScalars), Array(b.unicodeScalars))
}

func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var beforePrev = [Int](repeating: 0, count: b.count + 1)
    var prev = Array(0...b.count)
    var cur = prev
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { cur[j] = min(cur[j], beforePrev[j - 2] + 1) }
        }
        (beforePrev, prev, cur) = (prev, cur, beforePrev)
    }
    return prev[b.count]
}
