// ConfigLoader: the `guardrails:` section (what may go upstream and come back).
import Yams

/// `guardrails:` — checks on what goes upstream and comes back. Each policy applies to the requests its scope
/// matches (models, keys, teams); for each check the first policy whose scope matches a request is the one used.
public struct GuardrailsConfig: Sendable {
    /// `pii`: personal data and secrets in requests, blocked, redacted or pseudonymised.
    public var pii: [PIIPolicy] = []

    public init() {}
    public var isEmpty: Bool { pii.isEmpty }
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
        guard let m = mapping(node, "guardrails", allowed: ["pii"]) else { return config }
        if let node = m["pii"], let list = sequence(node, "guardrails.pii") {
            var names = Set<String>()
            for (i, item) in list.enumerated() {
                let path = "guardrails.pii[\(i)]"
                guard let policy = piiPolicy(item, path) else { continue }
                if !names.insert(policy.name).inserted { problem("\(path).name", "\"\(policy.name)\" is used by an earlier policy") }
                config.pii.append(policy)
            }
        }
        return config
    }

    private mutating func piiPolicy(_ node: Node, _ path: String) -> PIIPolicy? {
        guard let m = mapping(node, path, allowed: ["name", "action", "kinds", "names", "patterns", "models", "keys", "teams"]) else { return nil }
        let name = string(m, "name", path, required: true) ?? ""
        let actionText = string(m, "action", path, required: true) ?? ""
        let action = PIIAction(rawValue: actionText == "pseudonymize" ? "pseudonymise" : actionText)
        if action == nil, !actionText.isEmpty {
            let known = PIIAction.allCases.map(\.rawValue)
            problem("\(path).action", "unknown action \"\(actionText)\"; expected one of \(known.joined(separator: ", "))"
                    + (suggestion(for: actionText, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""))
        }
        var policy = PIIPolicy(name: name, action: action ?? .block)
        let builtIn = PIIKind.builtIn.map(\.name)
        if let kinds = stringList(m, "kinds", path, what: "a kind such as email") {
            policy.kinds = []
            for (i, kind) in kinds.enumerated() {
                guard builtIn.contains(kind) else {
                    problem("\(path).kinds[\(i)]", "unknown kind \"\(kind)\"; expected one of \(builtIn.joined(separator: ", "))"
                            + (suggestion(for: kind, among: builtIn).map { " (did you mean \"\($0)\"?)" } ?? ""))
                    continue
                }
                policy.kinds.insert(PIIKind(kind))
            }
        }
        policy.names = (stringList(m, "names", path, what: "a name") ?? []).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        if policy.names.isEmpty { policy.kinds.remove(.name) }
        for (kind, regex) in (stringMap(m, "patterns", path) ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let reason = Redactor.invalidPattern(regex) {
                problem("\(path).patterns.\(kind)", reason)
            } else if builtIn.contains(kind) {
                problem("\(path).patterns.\(kind)", "\"\(kind)\" is a built-in kind; give the pattern another name")
            } else {
                policy.patterns.append((PIIKind(kind), regex))
            }
        }
        policy.scope.models = stringList(m, "models", path) ?? []
        policy.scope.keys = stringList(m, "keys", path, what: "a key name") ?? []
        policy.scope.teams = stringList(m, "teams", path, what: "a team name") ?? []
        return policy
    }
}
