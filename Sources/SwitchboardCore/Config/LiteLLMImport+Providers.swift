// LiteLLM import: a deployment's `litellm_params.model` prefix (`openai/`, `azure/`, `anthropic/`, `gemini/`,
// `vertex_ai/`, `ollama/`, `hosted_vllm/`, hosted OpenAI-compatible services, or a bare name) turned into a Switchboard
// provider. Providers are shared: one per distinct kind, base URL, key, API version, headers and region, named after
// what they are (`openai`, `azure-my-resource`, `ollama`, `groq`), with `-2`, `-3` when two differ only in settings.
import Foundation
import Yams

/// One entry of the written `providers:`.
struct ImportedProvider: Equatable {
    var name: String
    var kind: String
    var baseURL: String?
    /// As written in Switchboard: `env:NAME` or the LiteLLM file's literal key.
    var apiKey: String?
    var apiVersion: String?
    var headers: [Header] = []
    var region: String?
    /// `health_check.interval_s`, from `general_settings.background_health_checks`.
    var healthCheckSeconds: Double?

    struct Header: Equatable {
        var name: String
        var value: String
    }

    /// Two deployments share a provider when all of this is equal.
    var identity: [String?] { [kind, baseURL, apiKey, apiVersion, region] + headers.flatMap { [$0.name, $0.value] } }
}

/// An OpenAI-compatible service LiteLLM knows by a prefix, with its public base URL and LiteLLM's key variable.
struct HostedService {
    var label: String
    var baseURL: String
    var keyVariable: String

    static let all: [String: HostedService] = [
        "groq": HostedService(label: "groq", baseURL: "https://api.groq.com/openai/v1", keyVariable: "GROQ_API_KEY"),
        "mistral": HostedService(label: "mistral", baseURL: "https://api.mistral.ai/v1", keyVariable: "MISTRAL_API_KEY"),
        "deepseek": HostedService(label: "deepseek", baseURL: "https://api.deepseek.com/v1", keyVariable: "DEEPSEEK_API_KEY"),
        "openrouter": HostedService(label: "openrouter", baseURL: "https://openrouter.ai/api/v1", keyVariable: "OPENROUTER_API_KEY"),
        "together_ai": HostedService(label: "together", baseURL: "https://api.together.xyz/v1", keyVariable: "TOGETHERAI_API_KEY"),
        "fireworks_ai": HostedService(label: "fireworks", baseURL: "https://api.fireworks.ai/inference/v1", keyVariable: "FIREWORKS_AI_API_KEY"),
        "perplexity": HostedService(label: "perplexity", baseURL: "https://api.perplexity.ai", keyVariable: "PERPLEXITYAI_API_KEY"),
        "xai": HostedService(label: "xai", baseURL: "https://api.x.ai/v1", keyVariable: "XAI_API_KEY"),
        "deepinfra": HostedService(label: "deepinfra", baseURL: "https://api.deepinfra.com/v1/openai", keyVariable: "DEEPINFRA_API_KEY"),
        "cerebras": HostedService(label: "cerebras", baseURL: "https://api.cerebras.ai/v1", keyVariable: "CEREBRAS_API_KEY"),
    ]
}

extension LiteLLMConverter {
    /// Servers that speak OpenAI's API at an `api_base` of the operator's (`ollama` and `hosted_vllm` get `/v1`).
    static let selfHosted: Set<String> = ["hosted_vllm", "ollama", "ollama_chat", "lm_studio", "llamafile", "azure_ai", "openai_like",
                                         "custom_openai", "litellm_proxy", "text-completion-openai"]

    /// The provider a deployment's `model` needs (registered, or shared with an equal one) and the model name the
    /// upstream knows; nil, with a note, when Switchboard cannot reach it.
    mutating func provider(for model: String, _ params: [(key: String, value: Node)], _ path: String) -> (String, String)? {
        var prefix: String?
        var upstream = model
        if let custom = params.value("custom_llm_provider").flatMap(text) {
            prefix = custom
            if model.hasPrefix(custom + "/") { upstream = String(model.dropFirst(custom.count + 1)) }
        } else if let slash = model.firstIndex(of: "/") {
            prefix = String(model[..<slash])
            upstream = String(model[model.index(after: slash)...])
        } else if model.hasPrefix("claude") {
            prefix = "anthropic"  // LiteLLM knows bare Claude names as Anthropic's
        }
        let key = params.value("api_key").flatMap(text).map(LiteLLMValue.init)
        let base = params.value("api_base").flatMap(text).map(LiteLLMValue.init)
        if case .literal = key { note("\(path).api_key", "a literal key: written into the new file as it is (an env:NAME reference keeps it out of the file)") }
        var p = ImportedProvider(name: "", kind: "openai")
        var label: String
        func defaultKey(_ variable: String, _ me: inout LiteLLMConverter) -> String {
            if let key { return key.switchboard }
            me.note("\(path).api_key", "not set: LiteLLM reads \(variable) from the environment, and so does the new config (env:\(variable))")
            return "env:\(variable)"
        }
        switch prefix {
        case nil, "openai":
            if let base, let url = url(base, "\(path).api_base") {
                p.baseURL = url
                p.apiKey = key?.switchboard
                label = url.contains("api.openai.com") ? "openai" : hostLabel(url)
            } else {
                p.apiKey = defaultKey("OPENAI_API_KEY", &self)
                label = "openai"
            }
            if let org = params.value("organization").flatMap(text) {
                p.headers.append(.init(name: "OpenAI-Organization", value: LiteLLMValue(org).switchboard))
            }
        case "azure":
            p.kind = "azure"
            p.baseURL = url(base ?? .env("AZURE_API_BASE"), "\(path).api_base")
            p.apiKey = defaultKey("AZURE_API_KEY", &self)
            if let v = params.value("api_version").flatMap(text) {
                p.apiVersion = resolved(LiteLLMValue(v), "\(path).api_version")
            } else {
                note("\(path).api_version", "not set: Switchboard sends api-version \(AzureProviderConfig(baseURL: "").apiVersion)")
            }
            let host = p.baseURL.flatMap { URLComponents(string: $0)?.host } ?? ""
            label = host.hasSuffix(".azure.com") ? "azure-" + sanitized(String(host.prefix(while: { $0 != "." }))) : "azure"
        case "anthropic":
            p.kind = "anthropic"
            p.apiKey = defaultKey("ANTHROPIC_API_KEY", &self)
            if let base { p.baseURL = url(base, "\(path).api_base") }
            label = "anthropic"
        case "gemini":
            p.kind = "gemini"
            p.apiKey = defaultKey("GEMINI_API_KEY", &self)
            if let base { p.baseURL = url(base, "\(path).api_base") }
            label = "gemini"
        case "vertex_ai", "vertex_ai_beta":
            guard upstream.hasPrefix("gemini") else {
                note("\(path).model", "not carried over: Switchboard cannot call Vertex AI; only its Gemini models have an equivalent (the Gemini API)")
                return nil
            }
            p.kind = "gemini"
            p.apiKey = "env:GEMINI_API_KEY"
            note("\(path).model", "approximately: Switchboard cannot authenticate to Vertex AI (vertex_project, vertex_location, vertex_credentials are not carried); carried as the same model on the Gemini API with env:GEMINI_API_KEY")
            label = "gemini"
        case let other? where Self.selfHosted.contains(other):
            var baseValue = base
            if baseValue == nil, other.hasPrefix("ollama") { baseValue = .literal("http://localhost:11434") }
            guard let baseValue, var url = url(baseValue, "\(path).api_base") else {
                note("\(path).api_base", "missing: an \(other)/ deployment needs the server's URL; entry not carried over")
                return nil
            }
            if other.hasPrefix("ollama") || other == "hosted_vllm", !url.hasSuffix("/v1") { url += "/v1" }
            if other.hasPrefix("ollama") {
                note("\(path).model", "carried as kind openai on Ollama's OpenAI-compatible API (the api_base with /v1)")
            } else if other != "hosted_vllm" {
                note("\(path).model", "approximately: \(other)/ carried as an OpenAI-compatible server (kind openai) at the api_base")
            }
            p.baseURL = url
            p.apiKey = key?.switchboard
            label = other.hasPrefix("ollama") ? "ollama" : other == "hosted_vllm" ? "vllm" : hostLabel(url)
        case let other?:
            guard let service = HostedService.all[other] else {
                note("\(path).model", "not carried over: Switchboard has no provider for \"\(other)\" (its kinds: openai and any OpenAI-compatible server, azure, anthropic, gemini)")
                return nil
            }
            p.baseURL = base.flatMap { url($0, "\(path).api_base") } ?? service.baseURL
            p.apiKey = defaultKey(service.keyVariable, &self)
            note("\(path).model", "carried as an OpenAI-compatible provider (kind openai) at \(service.baseURL)")
            label = service.label
        }
        if let headers = params.value("extra_headers") {
            if case .mapping(let m) = headers {
                for (name, value) in pairs(m) {
                    if let v = text(value) { p.headers.append(.init(name: name, value: LiteLLMValue(v).switchboard)) }
                }
            } else {
                note("\(path).extra_headers", "not carried over: expected a mapping of header names to values")
            }
        }
        p.region = params.value("region_name").flatMap(text)
        return (register(p, label: label), upstream)
    }

    /// The name of the provider equal to `p`, registering it under a free name derived from `label` if it is new.
    mutating func register(_ p: ImportedProvider, label: String) -> String {
        if let existing = providers.first(where: { $0.identity == p.identity }) { return existing.name }
        var name = label
        var n = 1
        while providers.contains(where: { $0.name == name }) {
            n += 1
            name = "\(label)-\(n)"
        }
        var new = p
        new.name = name
        providers.append(new)
        return name
    }

    /// An http(s) URL without its trailing slash. An `os.environ/NAME` reference is read now (Switchboard's base_url
    /// takes no env: reference); when NAME is not set, a placeholder the operator must replace.
    mutating func url(_ value: LiteLLMValue, _ path: String) -> String? {
        let raw: String
        switch value {
        case .literal(let s):
            raw = s
        case .env(let name):
            if let v = environment[name], !v.isEmpty {
                raw = v
                note(path, "read from the environment variable \(name) while importing (Switchboard's base_url takes no env: reference)")
            } else {
                let placeholder = "https://set-\(sanitized(name)).invalid"
                note(path, "the environment variable \(name) is not set here: written as \(placeholder); replace it with the URL")
                return placeholder
            }
        }
        let url = raw.trimmingCharacters(in: .whitespaces)
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8, !url.contains(" ") else {
            note(path, "not carried over: not an http:// or https:// URL")
            return nil
        }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// A plain setting (no env: reference in Switchboard): a reference is read now, else left out with a note.
    mutating func resolved(_ value: LiteLLMValue, _ path: String) -> String? {
        switch value {
        case .literal(let s): return s
        case .env(let name):
            if let v = environment[name], !v.isEmpty {
                note(path, "read from the environment variable \(name) while importing (this setting takes no env: reference)")
                return v
            }
            note(path, "not carried over: the environment variable \(name) is not set here and this setting takes no env: reference")
            return nil
        }
    }

    /// A provider name from a server's URL: `local` for localhost and addresses, else the host's first meaningful label.
    func hostLabel(_ url: String) -> String {
        guard let host = URLComponents(string: url)?.host?.lowercased(), !host.isEmpty else { return "openai-compatible" }
        if host == "localhost" || host.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) || host.contains(":") { return "local" }
        let label = host.split(separator: ".").first(where: { !["api", "www"].contains($0) }).map(String.init) ?? host
        let name = sanitized(label)
        return name.isEmpty ? "openai-compatible" : name
    }

    /// Lower case letters, digits and single dashes.
    func sanitized(_ s: String) -> String {
        var out = ""
        for c in s.lowercased() {
            if c.isASCII && (c.isLetter || c.isNumber) { out.append(c) } else if !out.isEmpty && out.last != "-" { out.append("-") }
        }
        while out.last == "-" { out.removeLast() }
        return out
    }
}
