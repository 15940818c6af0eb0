// `switchboard import litellm`: a LiteLLM proxy `config.yaml` turned into a Switchboard configuration, with a note
// for everything that is not carried over or only approximately, at its key path in the LiteLLM file. The walk is
// here (`model_list`); providers in LiteLLMImport+Providers.swift, the settings sections in LiteLLMImport+Settings.swift,
// the written YAML in LiteLLMImport+YAML.swift. Notes never contain a value that may be secret (keys, passwords,
// database URLs, environment variables' values); the written file carries literal keys as the LiteLLM file had them.
import Foundation
import Yams

/// Something of the LiteLLM file that was not carried over, or only approximately: `model_list[3].litellm_params.order:
/// not carried over (…)`.
public struct LiteLLMImportNote: Sendable, Equatable, CustomStringConvertible {
    /// The key path in the LiteLLM file, e.g. `router_settings.routing_strategy`.
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Why no configuration could be written: the file is not YAML, has no `model_list`, or nothing in it can be served.
public struct LiteLLMImportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The notes gathered before giving up (what could not be carried over explains why nothing was left).
    public var notes: [LiteLLMImportNote]
    public init(message: String, notes: [LiteLLMImportNote] = []) {
        self.message = message
        self.notes = notes
    }
    public var description: String { message }
}

/// A converted configuration: its YAML text and what the operator should know about it.
public struct LiteLLMImportResult: Sendable {
    /// The Switchboard configuration, keys in a fixed order, strings quoted.
    public var yaml: String
    /// In the order of the LiteLLM file's sections: `model_list`, then the settings.
    public var notes: [LiteLLMImportNote]
    /// The names the configuration reads with `env:NAME`, sorted: they must be set where Switchboard runs.
    public var environmentVariables: [String]
    public var providerCount: Int
    public var modelCount: Int
}

/// Converts LiteLLM proxy configurations (`model_list`, `router_settings`, `litellm_settings`, `general_settings`,
/// `environment_variables`) into Switchboard's. See docs/migrating.md for the mapping.
public enum LiteLLMImport {
    /// `environment` resolves `os.environ/NAME` where Switchboard takes no `env:` reference (an Azure `api_base`,
    /// an `api_version`); everywhere else references stay references.
    public static func convert(yaml: String, environment: [String: String] = [:]) throws(LiteLLMImportError) -> LiteLLMImportResult {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw LiteLLMImportError(message: ConfigLoader.yamlProblem(error, in: yaml).message)
        }
        guard let root, case .mapping(let top) = root else {
            throw LiteLLMImportError(message: "not a LiteLLM config: expected a mapping with a model_list")
        }
        var converter = LiteLLMConverter(environment: environment)
        return try converter.convert(top)
    }
}

// MARK: - The converter

/// A value that may be written `os.environ/NAME` in LiteLLM.
enum LiteLLMValue: Hashable {
    case literal(String)
    case env(String)

    init(_ text: String) {
        self = text.hasPrefix("os.environ/") ? .env(String(text.dropFirst("os.environ/".count))) : .literal(text)
    }

    /// As Switchboard writes a secret: `env:NAME` or the text itself.
    var switchboard: String {
        switch self {
        case .literal(let s): s
        case .env(let name): "env:\(name)"
        }
    }
}

struct LiteLLMConverter {
    let environment: [String: String]
    var notes: [LiteLLMImportNote] = []
    var providers: [ImportedProvider] = []
    var models: [ImportedModel] = []
    var settings = ImportedSettings()
    /// The routing strategy's path and value, applied to every model once all are read.
    var strategy: (path: String, name: String)?

    init(environment: [String: String]) { self.environment = environment }

    mutating func note(_ path: String, _ message: String) {
        notes.append(LiteLLMImportNote(path: path, message: message))
    }

    mutating func convert(_ top: Node.Mapping) throws(LiteLLMImportError) -> LiteLLMImportResult {
        let sections = pairs(top)
        guard let list = sections.first(where: { $0.key == "model_list" })?.value else {
            throw LiteLLMImportError(message: "not a LiteLLM proxy config: it has no model_list")
        }
        guard case .sequence(let entries) = list, !entries.isEmpty else {
            throw LiteLLMImportError(message: "model_list: expected a non-empty list of models")
        }
        readModelList(Array(entries))
        for (key, node) in sections {
            switch key {
            case "model_list": continue
            case "router_settings": readSettings(node, "router_settings")
            case "litellm_settings": readSettings(node, "litellm_settings")
            case "general_settings": readGeneralSettings(node)
            case "environment_variables": readEnvironmentVariables(node)
            default: note(key, "not carried over (no Switchboard equivalent of this section)")
            }
        }
        applySettings()
        guard !models.isEmpty else {
            throw LiteLLMImportError(message: "no model of model_list can be served by Switchboard, so no configuration was written",
                                     notes: notes)
        }
        // Notes made once the whole file was read (fallbacks, timeouts) go with the section they are about.
        let order = sections.map(\.key)
        func rank(_ path: String) -> Int {
            let section = path.prefix(while: { $0 != "." && $0 != "[" })
            return order.firstIndex(where: { $0 == section }) ?? order.count
        }
        let sorted = notes.enumerated().sorted { (rank($0.element.path), $0.offset) < (rank($1.element.path), $1.offset) }.map(\.element)
        let text = writeYAML()
        return LiteLLMImportResult(yaml: text, notes: sorted, environmentVariables: referencedEnvironment(),
                                   providerCount: providers.count, modelCount: models.count)
    }

    // MARK: model_list

    static let deploymentParams: Set<String> = ["model", "api_key", "api_base", "api_version", "rpm", "tpm", "max_parallel_requests",
                                                "timeout", "stream_timeout", "weight", "order", "organization", "region_name",
                                                "custom_llm_provider", "extra_headers", "input_cost_per_token", "output_cost_per_token",
                                                "vertex_project", "vertex_location", "vertex_credentials"]

    mutating func readModelList(_ entries: [Node]) {
        for (i, entry) in entries.enumerated() {
            let path = "model_list[\(i)]"
            guard case .mapping(let m) = entry else {
                note(path, "not carried over: expected a mapping with model_name and litellm_params")
                continue
            }
            let fields = pairs(m)
            guard let name = fields.value("model_name").flatMap(text), !name.isEmpty else {
                note("\(path).model_name", "missing: entry not carried over")
                continue
            }
            guard let paramsNode = fields.value("litellm_params"), case .mapping(let pm) = paramsNode else {
                note("\(path).litellm_params", "missing: entry not carried over")
                continue
            }
            for (key, _) in fields where !["model_name", "litellm_params", "model_info"].contains(key) {
                note("\(path).\(key)", "not carried over (not a key Switchboard knows for a deployment)")
            }
            if name.contains("*") {
                note("\(path).model_name", "not carried over: wildcard models (\"\(name)\") have no Switchboard equivalent; list each model")
                continue
            }
            let params = pairs(pm)
            guard var deployment = readDeployment(params, "\(path).litellm_params") else { continue }
            if let info = fields.value("model_info") { readModelInfo(info, "\(path).model_info", into: &deployment) }
            if let index = models.firstIndex(where: { $0.name == name }) {
                models[index].deployments.append(deployment)
            } else {
                models.append(ImportedModel(name: name, deployments: [deployment]))
            }
        }
    }

    /// One deployment from `litellm_params`, or nil (with a note) when its provider cannot be carried over.
    mutating func readDeployment(_ params: [(key: String, value: Node)], _ path: String) -> ImportedDeployment? {
        guard let model = params.value("model").flatMap(text), !model.isEmpty else {
            note("\(path).model", "missing: entry not carried over")
            return nil
        }
        if model.contains("*") {
            note("\(path).model", "not carried over: wildcard models (\"\(model)\") have no Switchboard equivalent")
            return nil
        }
        guard let (providerName, upstreamModel) = provider(for: model, params, path) else { return nil }
        var d = ImportedDeployment(provider: providerName, model: upstreamModel)
        d.path = path
        if let v = positiveInt(params.value("rpm"), "\(path).rpm", max: 100_000_000) {
            d.rpm = v
            note("\(path).rpm", "carried as the deployment's rpm: a cap on attempts started in any 60 s (LiteLLM also uses it to weigh deployments)")
        }
        if let v = positiveInt(params.value("tpm"), "\(path).tpm", max: 10_000_000_000) {
            d.tpm = v
            note("\(path).tpm", "carried as the deployment's tpm: a cap on tokens in any 60 s (LiteLLM also uses it to weigh deployments)")
        }
        d.maxConcurrent = positiveInt(params.value("max_parallel_requests"), "\(path).max_parallel_requests", max: 1_000_000)
        if let t = seconds(params.value("timeout"), "\(path).timeout") {
            d.firstTokenSeconds = t
            d.totalSeconds = t
        }
        if let t = seconds(params.value("stream_timeout"), "\(path).stream_timeout") {
            d.idleSeconds = t
            note("\(path).stream_timeout", "carried as timeouts.idle_s (the longest gap between stream chunks); the first chunk is bounded by timeouts.first_token_s")
        }
        if let node = params.value("weight") {
            if let w = number(node), w > 0, w <= 1_000_000 { d.rawWeight = w } else {
                note("\(path).weight", "not carried over: expected a positive number up to 1000000")
            }
        }
        if params.value("order") != nil {
            note("\(path).order", "not carried over: Switchboard balances over all of a model's deployments; to keep this one in reserve, move it into a model of its own and list that model in this one's fallbacks")
        }
        if let v = params.value("input_cost_per_token").flatMap(number) { d.price.input = perMillion(v) }
        if let v = params.value("output_cost_per_token").flatMap(number) { d.price.output = perMillion(v) }
        for (key, _) in params where !Self.deploymentParams.contains(key) {
            note("\(path).\(key)", Self.requestParams.contains(key)
                 ? "not carried over: Switchboard adds no default request parameters; clients send their own"
                 : "not carried over (no Switchboard equivalent)")
        }
        return d
    }

    /// Request parameters LiteLLM adds to every call of a deployment.
    static let requestParams: Set<String> = ["temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop", "frequency_penalty",
                                             "presence_penalty", "response_format", "tools", "tool_choice", "reasoning_effort", "user",
                                             "n", "logprobs", "top_logprobs", "logit_bias", "extra_body", "drop_params", "additional_drop_params"]

    mutating func readModelInfo(_ node: Node, _ path: String, into d: inout ImportedDeployment) {
        guard case .mapping(let m) = node else {
            note(path, "not carried over: expected a mapping")
            return
        }
        for (key, value) in pairs(m) {
            let at = "\(path).\(key)"
            switch key {
            case "input_cost_per_token": if let v = number(value) { d.price.input = perMillion(v) } else { note(at, "not carried over: expected a number") }
            case "output_cost_per_token": if let v = number(value) { d.price.output = perMillion(v) } else { note(at, "not carried over: expected a number") }
            case "cache_read_input_token_cost": if let v = number(value) { d.price.cachedInput = perMillion(v) } else { note(at, "not carried over: expected a number") }
            case "cache_creation_input_token_cost": if let v = number(value) { d.price.cacheWrite = perMillion(v) } else { note(at, "not carried over: expected a number") }
            case "output_cost_per_reasoning_token": if let v = number(value) { d.price.reasoning = perMillion(v) } else { note(at, "not carried over: expected a number") }
            case "max_input_tokens": d.contextWindow = positiveInt(value, at, max: 100_000_000)
            case "max_output_tokens": d.maxOutputTokens = positiveInt(value, at, max: 100_000_000) ?? d.maxOutputTokens
            case "max_tokens":
                if d.maxOutputTokens == nil, let v = positiveInt(value, at, max: 100_000_000) {
                    d.maxOutputTokens = v
                    note(at, "carried as capabilities.max_output_tokens (LiteLLM's max_tokens is the model's output limit)")
                }
            case "supports_function_calling": d.tools = bool(value)
            case "supports_vision": d.vision = bool(value)
            case "supports_response_schema": d.jsonMode = bool(value)
            case "mode":
                let mode = text(value) ?? ""
                if !["chat", "embedding", "responses"].contains(mode) {
                    note(at, "\"\(mode)\": Switchboard serves chat completions, messages, responses and embeddings only; the deployment is carried but nothing calls it for this")
                }
            case "id": note(at, "not carried over: Switchboard names a deployment by its provider and model")
            case "base_model": note(at, "not carried over: Switchboard prices a deployment by its price (or router.pricing), not by a base model")
            default: note(at, "not carried over (no Switchboard equivalent)")
            }
        }
    }

    // MARK: Reading values

    func pairs(_ m: Node.Mapping) -> [(key: String, value: Node)] {
        m.compactMap { k, v in k.string.map { (key: $0, value: v) } }
    }

    /// A scalar's text; nil for null, lists and mappings.
    func text(_ node: Node) -> String? {
        guard case .scalar(let s) = node else { return nil }
        if s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) { return nil }
        return s.string
    }

    func number(_ node: Node) -> Double? {
        guard let t = text(node), let v = Double(t.trimmingCharacters(in: .whitespaces)), v.isFinite else { return nil }
        return v
    }

    func bool(_ node: Node) -> Bool? {
        guard let t = text(node)?.lowercased() else { return nil }
        return t == "true" ? true : t == "false" ? false : nil
    }

    /// A whole number in 1…max, else nil with a note.
    mutating func positiveInt(_ node: Node?, _ path: String, max: Int) -> Int? {
        guard let node else { return nil }
        guard let v = number(node), v >= 1, v <= Double(max), v == v.rounded() else {
            note(path, "not carried over: expected a whole number between 1 and \(max)")
            return nil
        }
        return Int(v)
    }

    /// A number of seconds Switchboard accepts (0.001–86400), else nil with a note.
    mutating func seconds(_ node: Node?, _ path: String) -> Double? {
        guard let node else { return nil }
        guard let v = number(node), v >= 0.001, v <= 86_400 else {
            note(path, "not carried over: expected seconds between 0.001 and 86400")
            return nil
        }
        return v
    }

    /// USD per token as USD per million tokens, rounded to a millionth of a dollar.
    func perMillion(_ perToken: Double) -> Double { (perToken * 1_000_000 * 1_000_000).rounded() / 1_000_000 }
}

extension Array where Element == (key: String, value: Node) {
    func value(_ key: String) -> Node? { first(where: { $0.key == key })?.value }
}
