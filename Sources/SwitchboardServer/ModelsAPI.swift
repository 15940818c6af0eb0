import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardRouting

/// `GET /v1/models` and `GET /v1/models/{id}`: the public models a key may use, each with what a client needs to
/// choose one — OpenAI's `id`, `object`, `created`, `owned_by` (so the OpenAI SDK parses it) and OpenRouter's
/// `context_length`, `architecture`, `pricing`, `top_provider`, `supported_parameters`, plus Switchboard's own
/// `capabilities`. Read from the engine serving new requests, so a reload shows at once.
enum ModelsAPI {
    static func add(to v1: RouterGroup<GatewayRequestContext>, live: LiveGateway) {
        v1.get("models") { _, context in
            let identity = context.identity!
            let gateway = live.gateway
            let entries = (gateway.table.modelNames + gateway.virtualModels).filter { identity.allows(model: $0) }
                .map { ModelCard.json(id: $0, model: gateway.table.models[$0]) }
            return jsonResponse(JSONValue.object(["object": "list", "data": .array(entries)]).jsonText)
        }
        // Ids may hold `/` (`openai/gpt-4o`), sent as is or as `%2F`: every segment after `models/` is the id.
        v1.get("models/**") { _, context in
            let identity = context.identity!
            let gateway = live.gateway
            let raw = context.parameters.getCatchAll().joined(separator: "/")
            let id = raw.removingPercentEncoding ?? raw
            guard identity.allows(model: id), gateway.table.models[id] != nil || gateway.virtualModels.contains(id) else {
                // Unknown and not allowed look the same: a key learns nothing about models it may not use.
                throw GatewayError.unknownModel(id)
            }
            return jsonResponse(ModelCard.json(id: id, model: gateway.table.models[id]).jsonText)
        }
    }
}

/// One entry of `/v1/models`. A model with several deployments combines their figures so that what it states holds
/// whichever deployment serves the request:
/// - `context_length`: the smallest context window its deployments declare (a request that fits it fits any);
///   `top_provider.context_length` and `top_provider.max_completion_tokens`: the largest declared (routing sends a
///   longer request only to deployments with room for it). Deployments that declare none are left out; null when
///   none declares one.
/// - `capabilities` and `supported_parameters`: what at least one deployment can do (routing sends a request that
///   needs a capability only to deployments that have it).
/// - `pricing`: the cheapest deployment's price now (lowest prompt + completion; a pricing source's over the
///   configured one), USD per token as strings; cache and reasoning prices only when that deployment sets them.
/// A virtual model (`router.models`) becomes a model only when a rule routes it: its figures are null.
enum ModelCard {
    static func json(id: String, model: RoutedModel?) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "object": "model", "created": 0, "owned_by": "switchboard", "name": .string(id),
        ]
        guard let model, !model.deployments.isEmpty else {
            for field in ["context_length", "architecture", "pricing", "top_provider", "capabilities"] { o[field] = .null }
            o["supported_parameters"] = .array([])
            o["switchboard"] = .object(["virtual": .bool(model == nil), "deployments": 0])
            return .object(o)
        }
        let deployments = model.deployments
        let caps = deployments.map(\.capabilities)
        let embedding = deployments.map { isEmbedding($0.upstreamModel) }
        let windows = caps.compactMap(\.contextWindow), outputs = caps.compactMap(\.maxOutputTokens)
        let chat = embedding.contains(false)
        let tools = chat && zip(caps, embedding).contains { $0.tools && !$1 }
        let vision = chat && zip(caps, embedding).contains { $0.vision && !$1 }
        let jsonMode = chat && zip(caps, embedding).contains { $0.jsonMode && !$1 }
        let streaming = chat && zip(caps, embedding).contains { $0.streaming && !$1 }

        o["context_length"] = windows.min().map(JSONValue.int) ?? .null
        o["top_provider"] = .object([
            "context_length": windows.max().map(JSONValue.int) ?? .null,
            "max_completion_tokens": outputs.max().map(JSONValue.int) ?? .null,
            "is_moderated": false,
        ])
        let inputs: [String] = vision ? ["text", "image"] : ["text"]
        let outputsKinds: [String] = (chat ? ["text"] : []) + (embedding.contains(true) ? ["embeddings"] : [])
        o["architecture"] = .object([
            "modality": .string(inputs.joined(separator: "+") + "->" + outputsKinds.joined(separator: "+")),
            "input_modalities": .array(inputs.map(JSONValue.string)), "output_modalities": .array(outputsKinds.map(JSONValue.string)),
        ])
        o["capabilities"] = .object([
            "tools": .bool(tools), "vision": .bool(vision), "json_mode": .bool(jsonMode), "streaming": .bool(streaming),
            "embeddings": .bool(embedding.contains(true)),
        ])
        var parameters: [String] = []
        if chat { parameters += ["max_tokens", "temperature", "top_p", "stop"] }
        if tools { parameters += ["tools", "tool_choice"] }
        if jsonMode { parameters += ["response_format", "structured_outputs"] }
        if embedding.contains(true) { parameters += ["dimensions", "encoding_format"] }
        o["supported_parameters"] = .array(parameters.map(JSONValue.string))
        o["pricing"] = pricing(deployments.map(\.price))
        o["switchboard"] = .object(["virtual": false, "deployments": .int(deployments.count)])
        return .object(o)
    }

    /// The cheapest price (lowest prompt + completion per token; the first of equals) in OpenRouter's shape.
    static func pricing(_ prices: [Price]) -> JSONValue {
        guard let cheapest = prices.min(by: { $0.input + $0.output < $1.input + $1.output }) else { return .null }
        var o: [String: JSONValue] = ["prompt": perToken(cheapest.input), "completion": perToken(cheapest.output)]
        if let v = cheapest.cachedInput { o["input_cache_read"] = perToken(v) }
        if let v = cheapest.cacheWrite { o["input_cache_write"] = perToken(v) }
        if let v = cheapest.reasoning { o["internal_reasoning"] = perToken(v) }
        return .object(o)
    }

    /// USD per million tokens as USD per token, a plain decimal string ("0.00000015"), as OpenRouter writes it.
    static func perToken(_ perMillion: Double) -> JSONValue {
        guard perMillion.isFinite, perMillion > 0 else { return "0" }
        var text = String(format: "%.15f", perMillion / 1_000_000)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return .string(text)
    }

    /// Whether an upstream model name is an embedding model's (`text-embedding-3-small`, `nomic-embed-text`,
    /// `gemini-embedding-001`): deployments declare no such capability, so the name tells.
    static func isEmbedding(_ upstreamModel: String) -> Bool {
        upstreamModel.lowercased().contains("embed")
    }
}
