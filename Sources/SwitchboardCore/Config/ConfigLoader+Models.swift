// ConfigLoader: the `models:` section (deployments, prices, capabilities, caps, timeouts, hedging) and the check
// that every fallback (`models[].*fallbacks`, `routing.default_fallback`) names a configured model.
import Yams

extension Walker {
    /// `models:` — a non-empty list of models with distinct names, whose deployments name configured providers.
    mutating func modelList(_ node: Node?, providers: [ProviderConfig]) -> [ModelConfig] {
        var models: [ModelConfig] = []
        let providerKinds = Dictionary(providers.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        if let node, let list = sequence(node, "models") {
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
        } else if node == nil {
            problem("models", "required: at least one model")
        }
        return models
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
}
