// ConfigLoader: the `providers:` section (each provider by kind: openai, anthropic, azure, gemini, mock; health checks).
import Foundation
import Yams

extension Walker {
    /// `providers:` — a non-empty list of providers with distinct names.
    mutating func providerList(_ node: Node?) -> [ProviderConfig] {
        var providers: [ProviderConfig] = []
        if let node, let list = sequence(node, "providers") {
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
        } else if node == nil {
            problem("providers", "required: at least one provider")
        }
        if node != nil, providers.isEmpty, problems.isEmpty { problem("providers", "must list at least one provider") }
        return providers
    }

    static let openAIKeys = ["base_url", "api_key", "headers", "ca_file", "responses_api"]
    static let anthropicKeys = ["base_url", "api_key", "headers", "ca_file", "version", "max_tokens"]
    static let azureKeys = ["base_url", "api_key", "headers", "ca_file", "api_version"]
    static let geminiKeys = ["base_url", "api_key", "headers", "ca_file"]
    static let mockKeys = ["latency_ms", "ttft_ms", "tokens_per_s", "error_rate", "seed", "completion_tokens", "embedding_dimensions", "api", "reply"]

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
        // A missing or unknown kind is reported here; the rest of the provider is still checked, and deployments that
        // name it are not reported again (see `declaredNames`).
        let kindRaw = string(m, "kind", path, required: true)
        let kind: ProviderKind?
        switch kindRaw {
        case "openai":
            var o = OpenAIProviderConfig()
            let http = httpProvider(m, path, defaultBaseURL: o.baseURL)
            (o.baseURL, o.apiKey, o.headers) = (http.baseURL, http.apiKey, http.headers)
            o.responsesAPI = bool(m, "responses_api", path)
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
            if let reply = string(m, "reply", path) {
                if reply == "echo" { mock.echo = true } else if reply != "words" {
                    problem("\(path).reply", "unknown reply \"\(reply)\" (known: words, echo)")
                }
            }
            kind = .mock(mock)
        case nil:
            kind = nil
        case let other?:
            let hint = suggestion(for: other, among: ProviderKind.names).map { "; did you mean \"\($0)\"?" } ?? ""
            problem("\(path).kind", "unknown provider kind \"\(other)\"\(hint) (known: \(ProviderKind.names.joined(separator: ", ")))")
            kind = nil
        }
        let healthCheck = m["health_check"].map { healthCheckConfig($0, "\(path).health_check") }
        let caFile = string(m, "ca_file", path)
        if let caFile { checkCABundle(caFile, "\(path).ca_file") }
        guard let name, let kind else { return nil }
        return ProviderConfig(name: name, kind: kind, region: region, healthCheck: healthCheck, caFile: caFile)
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

    /// A provider's `ca_file`: a readable file with at least one PEM certificate.
    mutating func checkCABundle(_ file: String, _ path: String) {
        guard FileManager.default.isReadableFile(atPath: file), let data = FileManager.default.contents(atPath: file) else {
            problem(path, "cannot read the file \"\(file)\"")
            return
        }
        if !String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") {
            problem(path, "no PEM certificate in \"\(file)\" (expected one or more \"-----BEGIN CERTIFICATE-----\" blocks)")
        }
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
}
