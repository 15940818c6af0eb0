// ConfigLoader: the `router:` section (virtual models and routing rules), checked against the models the file names.
import Yams

extension Walker {
    mutating func routerConfig(_ node: Node, declaredModels: [String]) -> RouterConfig {
        var router = RouterConfig()
        guard let m = mapping(node, "router", allowed: ["models", "rules", "region_header", "expected_output_tokens", "classifier", "pricing", "geoip"]) else {
            return router
        }
        router.virtualModels = stringList(m, "models", "router") ?? []
        for (i, name) in router.virtualModels.enumerated() where declaredModels.contains(name) {
            problem("router.models[\(i)]", "\"\(name)\" is already a model of `models:`; a virtual model needs a name of its own")
        }
        if let header = string(m, "region_header", "router") { router.regionHeader = header.lowercased() }
        if let v = int(m, "expected_output_tokens", "router", range: 1...RequestNeeds.maxOutputTokensLimit) { router.expectedOutputTokens = v }
        router.classifierFile = string(m, "classifier", "router")
        if let node = m["pricing"], let p = mapping(node, "router.pricing", allowed: ["url", "refresh_s", "timeout_s", "headers"]),
           let url = string(p, "url", "router.pricing", required: true) {
            if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                problem("router.pricing.url", "expected an http:// or https:// URL, found \"\(url)\"")
            }
            var source = PricingSource(url: url)
            if let v = number(p, "refresh_s", "router.pricing", range: 1...604_800) { source.refreshSeconds = v }
            if let v = number(p, "timeout_s", "router.pricing", range: 0.1...300) { source.timeoutSeconds = v }
            for (name, value) in headerMap(p, "headers", "router.pricing") { source.headers[name] = value }
            router.pricing = source
        }
        if let node = m["geoip"], let g = mapping(node, "router.geoip", allowed: ["database", "field", "trust_forwarded_for"]),
           let database = string(g, "database", "router.geoip", required: true) {
            var geoip = GeoIPConfig(database: database)
            if let field = string(g, "field", "router.geoip") { geoip.field = field }
            geoip.trustForwardedFor = bool(g, "trust_forwarded_for", "router.geoip") ?? false
            router.geoip = geoip
        }
        guard let rulesNode = m["rules"], let items = sequence(rulesNode, "router.rules") else { return router }
        var names: [String: Int] = [:]
        var catchAll: (name: String, index: Int)?
        for (i, item) in items.enumerated() {
            let path = "router.rules[\(i)]"
            guard let rule = routeRule(item, path, declaredModels: declaredModels, virtualModels: router.virtualModels) else { continue }
            if let first = names[rule.name] {
                problem("\(path).name", "\"\(rule.name)\" is also the name of router.rules[\(first)]; names must be unique")
            }
            names[rule.name] = names[rule.name] ?? i
            if let all = catchAll {
                problem(path, "unreachable: rule \"\(all.name)\" (router.rules[\(all.index)]) has no conditions and matches every request first")
            } else if rule.when.isCatchAll {
                catchAll = (rule.name, i)
            }
            router.rules.append(rule)
        }
        for (i, name) in router.virtualModels.enumerated() where !router.rules.contains(where: { $0.when.mayMatch(model: name) }) {
            problem("router.models[\(i)]", "no rule can match the virtual model \"\(name)\" (give a rule `when: { model: \(name) }` or no model condition)")
        }
        return router
    }

    private mutating func routeRule(_ node: Node, _ path: String, declaredModels: [String], virtualModels: [String]) -> RouteRule? {
        guard let m = mapping(node, path, allowed: ["name", "when", "route"]) else { return nil }
        let name = string(m, "name", path, required: true)
        let when = m["when"].map { conditions($0, "\(path).when") } ?? RuleConditions()
        guard let routeNode = m["route"] else {
            problem("\(path).route", "required: one of model, tiers or cheapest")
            return nil
        }
        guard let r = mapping(routeNode, "\(path).route", allowed: ["model", "tiers", "cheapest", "escalate"]) else { return nil }
        let given = ["model", "tiers", "cheapest"].filter { r[$0] != nil }
        guard given.count == 1 else {
            problem("\(path).route", given.isEmpty ? "expected one of model, tiers or cheapest" : "give only one of model, tiers or cheapest")
            return nil
        }
        let target: RouteTarget
        switch given[0] {
        case "model":
            guard let model = string(r, "model", "\(path).route", required: true) else { return nil }
            target = .model(model)
        default:
            let key = given[0]
            guard let list = stringList(r, key, "\(path).route"), !list.isEmpty else {
                problem("\(path).route.\(key)", "expected a list of at least one model")
                return nil
            }
            target = key == "tiers" ? .tiers(list) : .cheapest(list)
        }
        var escalate: Escalation?
        if let node = r["escalate"] {
            if case .tiers = target { escalate = escalation(node, "\(path).route.escalate") } else {
                problem("\(path).route.escalate", "only a tier list escalates (route.tiers)")
            }
        }
        for (j, model) in target.models.enumerated() {
            let at = target.kind == "model" ? "\(path).route.model" : "\(path).route.\(target.kind)[\(j)]"
            if case .tiers(let tiers) = target, model == reviewTier {
                if j != tiers.count - 1 { problem(at, "review (a person) can only be the last tier") }
                continue
            }
            if virtualModels.contains(model) {
                problem(at, "\"\(model)\" is a virtual model; a rule must route to a model of `models:`")
            } else if !declaredModels.contains(model) {
                let hint = suggestion(for: model, among: declaredModels).map { "; did you mean \"\($0)\"?" } ?? ""
                problem(at, "unknown model \"\(model)\"\(hint)")
            }
        }
        guard let name else { return nil }
        return RouteRule(name: name, when: when, route: target, escalate: escalate)
    }

    private mutating func escalation(_ node: Node, _ path: String) -> Escalation? {
        guard let m = mapping(node, path, allowed: ["invalid_json", "unless_match", "uncertain"]) else { return nil }
        var e = Escalation()
        e.invalidJSON = bool(m, "invalid_json", path) ?? false
        if let source = string(m, "unless_match", path) {
            if let p = TextPattern(source) { e.unlessMatch = p } else { problem(Self.join(path, "unless_match"), "invalid regular expression \"\(source)\"") }
        }
        if let node = m["uncertain"], let r = mapping(node, Self.join(path, "uncertain"), allowed: ["min", "max"]) {
            let at = Self.join(path, "uncertain")
            let low = number(r, "min", at, range: -1000...1000) ?? -1000
            let high = number(r, "max", at, range: -1000...1000) ?? 1000
            if low > high { problem(at, "min (\(trim(low))) is above max (\(trim(high)))") } else { e.uncertain = low...high }
        }
        return e
    }

    private mutating func conditions(_ node: Node, _ path: String) -> RuleConditions {
        var c = RuleConditions()
        guard let m = mapping(node, path, allowed: ["model", "key", "team", "metadata", "request_metadata", "tags", "headers",
                                                    "prompt_tokens", "tools", "images", "json", "stream", "content", "language",
                                                    "difficulty", "region"]) else { return c }
        c.models = names(m, "model", path)
        c.keys = names(m, "key", path)
        c.teams = names(m, "team", path)
        c.tags = names(m, "tags", path)
        c.regions = names(m, "region", path)
        c.languages = names(m, "language", path)?.map { $0.lowercased() }
        c.metadata = stringMap(m, "metadata", path)
        c.requestMetadata = stringMap(m, "request_metadata", path)
        if let node = m["headers"] {
            let at = Self.join(path, "headers")
            if case .mapping(let hm) = node {
                c.headers = hm.compactMap { k, v in
                    guard let name = k.string, case .scalar(let s) = v else {
                        problem(at, "expected header names with regular expressions, found \(describe(v))")
                        return nil
                    }
                    guard let pattern = TextPattern(s.string) else {
                        problem("\(at).\(name)", "invalid regular expression \"\(s.string)\"")
                        return nil
                    }
                    return (name.lowercased(), pattern)
                }
            } else {
                problem(at, "expected a mapping of header names to regular expressions, found \(describe(node))")
            }
        }
        if let node = m["prompt_tokens"], let r = mapping(node, Self.join(path, "prompt_tokens"), allowed: ["min", "max"]) {
            let at = Self.join(path, "prompt_tokens")
            let low = int(r, "min", at, range: 0...Int(Int32.max)) ?? 0
            let high = int(r, "max", at, range: 0...Int(Int32.max)) ?? Int(Int32.max)
            if low > high { problem(at, "min (\(low)) is above max (\(high))") } else { c.promptTokens = low...high }
        }
        if let node = m["difficulty"], let r = mapping(node, Self.join(path, "difficulty"), allowed: ["min", "max", "quality"]) {
            let at = Self.join(path, "difficulty")
            if let q = number(r, "quality", at, range: 0.5...1) {
                if r["min"] != nil || r["max"] != nil { problem(at, "give quality, or min and max, not both") }
                c.difficultyQuality = q
            } else if r["min"] != nil || r["max"] != nil {
                let low = number(r, "min", at, range: -1000...1000) ?? -1000
                let high = number(r, "max", at, range: -1000...1000) ?? 1000
                if low > high { problem(at, "min (\(trim(low))) is above max (\(trim(high)))") } else { c.difficulty = low...high }
            } else {
                problem(at, "give quality (a share of strong-only quality to keep, such as 0.95), or min and max scores")
            }
        }
        c.tools = bool(m, "tools", path)
        c.images = bool(m, "images", path)
        c.json = bool(m, "json", path)
        c.stream = bool(m, "stream", path)
        if let node = m["content"] { c.content = content(node, Self.join(path, "content")) }
        return c
    }

    private mutating func content(_ node: Node, _ path: String) -> ContentCondition? {
        guard let m = mapping(node, path, allowed: ["regex", "keywords", "in"]) else { return nil }
        var c = ContentCondition()
        for (i, source) in (names(m, "regex", path) ?? []).enumerated() {
            if let p = TextPattern(source) { c.patterns.append(p) } else { problem("\(path).regex[\(i)]", "invalid regular expression \"\(source)\"") }
        }
        c.keywords = (names(m, "keywords", path) ?? []).map { $0.lowercased() }
        if let scope = string(m, "in", path) {
            if let s = ContentCondition.Scope(rawValue: scope) { c.scope = s } else {
                problem(Self.join(path, "in"), "expected last_user or all, found \"\(scope)\"")
            }
        }
        if c.patterns.isEmpty && c.keywords.isEmpty {
            problem(path, "give `regex` or `keywords` (or both)")
            return nil
        }
        return c
    }

    /// A string or a list of strings.
    private mutating func names(_ m: [String: Node], _ key: String, _ path: String) -> [String]? {
        guard let node = m[key] else { return nil }
        if case .scalar(let s) = node, !s.string.isEmpty { return [s.string] }
        return stringList(m, key, path, what: "a name")
    }
}

extension RuleConditions {
    /// Whether a request for `model` can match the `model` condition (no condition: any model).
    public func mayMatch(model: String) -> Bool {
        models?.contains { $0 == model || globMatch($0, model) } ?? true
    }
}
