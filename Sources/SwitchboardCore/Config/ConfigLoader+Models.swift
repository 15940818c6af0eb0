// ConfigLoader: the `models:` section (deployments, prices, capabilities, caps, timeouts, hedging) and the check
// that every fallback (`models[].*fallbacks`, `routing.default_fallback`) names a configured model.
import Yams

/// One name in a fallback list (`models[].*fallbacks`, `routing.default_fallback`), checked once every model's name is
/// known — also for models that fail to load, so a bad deployment does not hide a bad fallback.
struct FallbackReference {
    var path: String
    var name: String
    /// The model whose list it is (nil for `routing.default_fallback`).
    var owner: String?
}

extension Walker {
    /// `models:` — a non-empty list of models with distinct names, whose deployments name configured providers
    /// (`declaredProviders`: every provider name written, including providers with problems of their own). Every
    /// fallback as written is added to `fallbacks`.
    mutating func modelList(_ node: Node?, providers: [ProviderConfig], declaredProviders: [String],
                            fallbacks: inout [FallbackReference]) -> [ModelConfig] {
        var models: [ModelConfig] = []
        let providerKinds = Dictionary(providers.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        let declared = Set(declaredProviders).union(providerKinds.keys)
        if let node, let list = sequence(node, "models") {
            var seen: [String: Int] = [:]
            for (i, item) in list.enumerated() {
                let path = "models[\(i)]"
                guard let model = modelConfig(item, path, providers: providerKinds, declaredProviders: declared, fallbacks: &fallbacks) else { continue }
                if let first = seen[model.name] {
                    problem("\(path).name", "duplicate model name \"\(model.name)\" (also models[\(first)])")
                } else {
                    seen[model.name] = i
                }
                models.append(model)
            }
            if list.isEmpty { problem("models", "must list at least one model") }
        } else if node == nil {
            problem("models", "required: at least one model")
        }
        return models
    }

    /// One model; every key is checked even when the model cannot load (no name, no deployment that loads).
    mutating func modelConfig(_ node: Node, _ path: String, providers: [String: ProviderKind], declaredProviders: Set<String>,
                              fallbacks: inout [FallbackReference]) -> ModelConfig? {
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
                if let d = deploymentConfig(item, "\(path).deployments[\(i)]", providers: providers, declaredProviders: declaredProviders) {
                    deployments.append(d)
                }
            }
        } else if m["deployments"] == nil {
            problem("\(path).deployments", "required: at least one deployment")
        }
        let lists = [("fallbacks", stringList(m, "fallbacks", path)), ("context_window_fallbacks", stringList(m, "context_window_fallbacks", path)),
                     ("content_policy_fallbacks", stringList(m, "content_policy_fallbacks", path))]
        for (key, list) in lists {
            for (j, f) in (list ?? []).enumerated() { fallbacks.append(FallbackReference(path: "\(path).\(key)[\(j)]", name: f, owner: name)) }
        }
        let retries = int(m, "retries", path, range: 0...10)
        let deadline = number(m, "deadline_s", path, range: 0.001...86_400)
        var hedge: HedgeConfig?
        if let node = m["hedge"], let h = mapping(node, "\(path).hedge", allowed: ["after_ms", "percentile"]) {
            var c = HedgeConfig()
            if let v = number(h, "after_ms", "\(path).hedge", range: 1...600_000) { c.afterMs = v }
            c.percentile = number(h, "percentile", "\(path).hedge", range: 1...99.9)
            hedge = c
        }
        guard let name, !deployments.isEmpty else { return nil }
        var model = ModelConfig(name: name, balancing: balancing, deployments: deployments)
        model.fallbacks = lists[0].1 ?? []
        model.contextWindowFallbacks = lists[1].1
        model.contentPolicyFallbacks = lists[2].1
        model.retries = retries
        model.deadlineSeconds = deadline
        model.hedge = hedge
        return model
    }

    /// One deployment. A provider that is written but has problems of its own (a wrong `kind`) is not unknown: its
    /// problems are reported at the provider, and the deployment just does not load.
    mutating func deploymentConfig(_ node: Node, _ path: String, providers: [String: ProviderKind],
                                   declaredProviders: Set<String>) -> DeploymentConfig? {
        let providerNames = Set(providers.keys)
        guard let m = mapping(node, path, allowed: ["provider", "model", "weight", "price", "price_id", "capabilities", "rpm", "tpm",
                                                    "max_concurrent", "timeouts"]) else { return nil }
        let provider = string(m, "provider", path, required: true)
        if let provider, !declaredProviders.contains(provider) {
            let hint = suggestion(for: provider, among: Array(declaredProviders)).map { "; did you mean \"\($0)\"?" } ?? ""
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
        var deployment = DeploymentConfig(provider: provider, model: model, weight: weight, price: price, capabilities: caps, limits: limits,
                                          timeouts: timeouts)
        deployment.priceID = string(m, "price_id", path)
        return deployment
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

    /// Every fallback names a model the file lists, other than the one it belongs to; `routing.default_fallback` first.
    mutating func checkFallbacks(_ references: [FallbackReference], routing: RoutingConfig, declaredModels: [String]) {
        let names = Set(declaredModels)
        let all = (routing.defaultFallback.map { [FallbackReference(path: "routing.default_fallback", name: $0, owner: nil)] } ?? []) + references
        for r in all {
            if r.name == r.owner { problem(r.path, "a model cannot fall back to itself") }
            else if !names.contains(r.name) {
                let hint = suggestion(for: r.name, among: names.filter { $0 != r.owner }).map { "; did you mean \"\($0)\"?" } ?? ""
                problem(r.path, "unknown model \"\(r.name)\"\(hint)")
            }
        }
    }
}
