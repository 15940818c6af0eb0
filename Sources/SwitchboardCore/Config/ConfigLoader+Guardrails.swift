// ConfigLoader: the `guardrails:` section (what may go upstream and come back).
import Yams

/// `guardrails:` — checks on what goes upstream and comes back. Each policy applies to the requests its scope
/// matches (models, keys, teams); for each check the first policy whose scope matches a request is the one used.
public struct GuardrailsConfig: Sendable {
    /// `pii`: personal data and secrets in requests, blocked, redacted or pseudonymised.
    public var pii: [PIIPolicy] = []
    /// `injection`: prompt-injection and jailbreak attempts in requests.
    public var injection: [InjectionPolicy] = []
    /// `output`: checks on answers before the client sees them.
    public var output: [OutputPolicy] = []

    public init() {}
    public var isEmpty: Bool { pii.isEmpty && injection.isEmpty && output.isEmpty }
}

/// One entry of `guardrails.injection`.
public struct InjectionPolicy: Sendable {
    public enum Action: String, Sendable, CaseIterable {
        /// Logged; the request goes on.
        case log
        /// Logged and marked (`x-switchboard-guardrails: injection=flag:SCORE`); the request goes on.
        case flag
        /// Refused: 400 `content_blocked`.
        case block
        /// Held for a person (refused until review queues exist).
        case review
    }
    public var name: String
    public var action: Action
    /// `threshold`: the score (0–1) from which a text counts as an attack (default: the detector's own).
    public var threshold: Double?
    public var scope = GuardrailScope()

    public init(name: String, action: Action) {
        self.name = name
        self.action = action
    }
}

/// One entry of `guardrails.output`.
public struct OutputPolicy: Sendable {
    public enum Action: String, Sendable, CaseIterable {
        /// The answer is withheld (400 `content_blocked`; a stream ends with an error event).
        case block
        /// What was found is replaced (`[SECRET]`, `[REDACTED]`) in whole answers; streams are ended as for block.
        case redact
    }
    public var name: String
    public var action: Action
    public var scope = GuardrailScope()
    /// `pii`: kinds that must not leave in an answer.
    public var pii: Set<PIIKind> = []
    /// `deny`: regular expressions no answer may match.
    public var deny: [String] = []
    /// `webhook`: an external moderation service asked about every answer.
    public var webhook: Webhook?

    public init(name: String, action: Action) {
        self.name = name
        self.action = action
    }

    /// `webhook:` — POSTs `{"guardrail", "model", "key", "texts"}`, expects `{"action": "allow"|"block", "reason"}`.
    public struct Webhook: Sendable {
        public var url: String
        public var timeoutSeconds = 2.0
        /// `on_error: block` (fail closed): an unreachable, slow or confused service withholds the answer; `allow`
        /// (the default, fail open) lets it through.
        public var failClosed = false
        public var headers: [(name: String, value: String)] = []
        public init(url: String) { self.url = url }
    }
}

/// Which requests a guardrail policy applies to: all its lists that are set must match (globs; empty: any).
public struct GuardrailScope: Sendable, Equatable {
    /// `models`: the public model the client asked for (before routing rules choose one).
    public var models: [String] = []
    /// `keys`: the key's name.
    public var keys: [String] = []
    /// `teams`: the key's team.
    public var teams: [String] = []

    public init() {}

    public func matches(model: String, key: String?, team: String?) -> Bool {
        (models.isEmpty || models.contains { globMatch($0, model) })
            && (keys.isEmpty || key.map { k in keys.contains { globMatch($0, k) } } == true)
            && (teams.isEmpty || team.map { t in teams.contains { globMatch($0, t) } } == true)
    }
}

/// One entry of `guardrails.pii`.
public struct PIIPolicy: Sendable {
    public var name: String
    public var action: PIIAction
    public var scope = GuardrailScope()
    /// `kinds`: the built-in kinds to find (default: all of them; `name` needs `names`).
    public var kinds: Set<PIIKind>
    /// `names`: people, customers, projects… to find as whole words, ASCII case ignored.
    public var names: [String] = []
    /// `patterns`: the operator's own kinds, name → regular expression.
    public var patterns: [(kind: PIIKind, regex: String)] = []

    public init(name: String, action: PIIAction, kinds: Set<PIIKind> = Set(PIIKind.builtIn)) {
        self.name = name
        self.action = action
        self.kinds = kinds
    }

    public var scanner: PIIScanner { PIIScanner(kinds: kinds, names: names, patterns: patterns) }
}

extension Walker {
    mutating func guardrailsConfig(_ node: Node) -> GuardrailsConfig {
        var config = GuardrailsConfig()
        guard let m = mapping(node, "guardrails", allowed: ["pii", "injection", "output"]) else { return config }
        if let node = m["pii"], let list = sequence(node, "guardrails.pii") {
            var names = Set<String>()
            for (i, item) in list.enumerated() {
                let path = "guardrails.pii[\(i)]"
                guard let policy = piiPolicy(item, path) else { continue }
                if !names.insert(policy.name).inserted { problem("\(path).name", "\"\(policy.name)\" is used by an earlier policy") }
                config.pii.append(policy)
            }
        }
        var injectionNames = Set<String>()
        for (i, item) in (m["injection"].flatMap { sequence($0, "guardrails.injection") } ?? []).enumerated() {
            guard let policy = injectionPolicy(item, "guardrails.injection[\(i)]") else { continue }
            if !injectionNames.insert(policy.name).inserted { problem("guardrails.injection[\(i)].name", "\"\(policy.name)\" is used by an earlier policy") }
            config.injection.append(policy)
        }
        var outputNames = Set<String>()
        for (i, item) in (m["output"].flatMap { sequence($0, "guardrails.output") } ?? []).enumerated() {
            guard let policy = outputPolicy(item, "guardrails.output[\(i)]") else { continue }
            if !outputNames.insert(policy.name).inserted { problem("guardrails.output[\(i)].name", "\"\(policy.name)\" is used by an earlier policy") }
            config.output.append(policy)
        }
        return config
    }

    private mutating func action<A: RawRepresentable & CaseIterable>(_ m: [String: Node], _ path: String, _ type: A.Type) -> A?
        where A.RawValue == String {
        let text = string(m, "action", path, required: true) ?? ""
        if let action = A(rawValue: text == "pseudonymize" ? "pseudonymise" : text) { return action }
        if !text.isEmpty {
            let known = A.allCases.map(\.rawValue)
            problem("\(path).action", "unknown action \"\(text)\"; expected one of \(known.joined(separator: ", "))"
                    + (suggestion(for: text, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""))
        }
        return nil
    }

    private mutating func scope(_ m: [String: Node], _ path: String) -> GuardrailScope {
        var scope = GuardrailScope()
        scope.models = stringList(m, "models", path) ?? []
        scope.keys = stringList(m, "keys", path, what: "a key name") ?? []
        scope.teams = stringList(m, "teams", path, what: "a team name") ?? []
        return scope
    }

    private mutating func kinds(_ m: [String: Node], _ key: String, _ path: String) -> Set<PIIKind>? {
        guard let list = stringList(m, key, path, what: "a kind such as email") else { return nil }
        let builtIn = PIIKind.builtIn.map(\.name)
        var kinds = Set<PIIKind>()
        for (i, kind) in list.enumerated() {
            guard builtIn.contains(kind) else {
                problem("\(path).\(key)[\(i)]", "unknown kind \"\(kind)\"; expected one of \(builtIn.joined(separator: ", "))"
                        + (suggestion(for: kind, among: builtIn).map { " (did you mean \"\($0)\"?)" } ?? ""))
                continue
            }
            kinds.insert(PIIKind(kind))
        }
        return kinds
    }

    private mutating func injectionPolicy(_ node: Node, _ path: String) -> InjectionPolicy? {
        guard let m = mapping(node, path, allowed: ["name", "action", "threshold", "models", "keys", "teams"]) else { return nil }
        var policy = InjectionPolicy(name: string(m, "name", path, required: true) ?? "", action: action(m, path, InjectionPolicy.Action.self) ?? .block)
        policy.threshold = number(m, "threshold", path, range: 0...1)
        policy.scope = scope(m, path)
        return policy
    }

    private mutating func outputPolicy(_ node: Node, _ path: String) -> OutputPolicy? {
        guard let m = mapping(node, path, allowed: ["name", "action", "pii", "deny", "webhook", "models", "keys", "teams"]) else { return nil }
        var policy = OutputPolicy(name: string(m, "name", path, required: true) ?? "", action: action(m, path, OutputPolicy.Action.self) ?? .block)
        policy.scope = scope(m, path)
        policy.pii = kinds(m, "pii", path) ?? []
        policy.pii.remove(.name)
        for (i, pattern) in (stringList(m, "deny", path, what: "a regular expression") ?? []).enumerated() {
            if let reason = Redactor.invalidPattern(pattern) { problem("\(path).deny[\(i)]", reason) } else { policy.deny.append(pattern) }
        }
        if let node = m["webhook"], let w = mapping(node, "\(path).webhook", allowed: ["url", "timeout_s", "on_error", "headers"]) {
            let wpath = "\(path).webhook"
            let url = string(w, "url", wpath, required: true) ?? ""
            if !url.isEmpty, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                problem("\(wpath).url", "expected an http:// or https:// URL")
            }
            var hook = OutputPolicy.Webhook(url: url)
            if let v = number(w, "timeout_s", wpath, range: 0.05...60) { hook.timeoutSeconds = v }
            if let onError = string(w, "on_error", wpath) {
                if onError == "block" { hook.failClosed = true } else if onError != "allow" {
                    problem("\(wpath).on_error", "expected allow (fail open) or block (fail closed), found \"\(onError)\"")
                }
            }
            hook.headers = headerMap(w, "headers", wpath)
            policy.webhook = hook
        }
        if policy.pii.isEmpty, policy.deny.isEmpty, policy.webhook == nil {
            problem(path, "checks nothing: give it pii kinds, deny patterns or a webhook")
        }
        return policy
    }

    private mutating func piiPolicy(_ node: Node, _ path: String) -> PIIPolicy? {
        guard let m = mapping(node, path, allowed: ["name", "action", "kinds", "names", "patterns", "models", "keys", "teams"]) else { return nil }
        var policy = PIIPolicy(name: string(m, "name", path, required: true) ?? "", action: action(m, path, PIIAction.self) ?? .block)
        if let kinds = kinds(m, "kinds", path) { policy.kinds = kinds }
        policy.names = (stringList(m, "names", path, what: "a name") ?? []).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        if policy.names.isEmpty { policy.kinds.remove(.name) }
        let builtIn = PIIKind.builtIn.map(\.name)
        for (kind, regex) in (stringMap(m, "patterns", path) ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let reason = Redactor.invalidPattern(regex) {
                problem("\(path).patterns.\(kind)", reason)
            } else if builtIn.contains(kind) {
                problem("\(path).patterns.\(kind)", "\"\(kind)\" is a built-in kind; give the pattern another name")
            } else {
                policy.patterns.append((PIIKind(kind), regex))
            }
        }
        policy.scope = scope(m, path)
        return policy
    }
}
