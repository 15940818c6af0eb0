import SwitchboardCore
import SwitchboardRouting

/// Request stage: refuses, before anything is planned, a request that no deployment it could reach can serve — not
/// of its model, nor of the fallbacks routing would follow (tools, images, JSON mode, streaming, output tokens, a
/// prompt longer than every context window). Always on. A window found too small only when an upstream says so is
/// still the attempt loop's business.
struct CapabilityStage: RequestStage {
    let table: RoutingTable

    func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
        guard let missing = missing(model: call.model, needs: API.needs(call.request), allows: call.identity.allows(model:)) else { return .pass }
        return .refuse(.unsupportedCapability(model: call.model, missing))
    }

    /// What the last model routing would try lacks, when none of them has a deployment that can serve `needs`;
    /// nil when one has. The models are those `RoutePlan` visits: the model, then (by why the model cannot serve)
    /// its context-window fallbacks or its fallbacks, then the default fallback — each once, if the key may use it.
    func missing(model name: String, needs: RequestNeeds, allows: (String) -> Bool) -> String? {
        guard let model = table.models[name], case .lacking(let first) = Self.check(model, needs) else { return nil }
        var missing = first ?? "context_window"
        var chain = first == "context_window" ? model.contextWindowFallbacks : model.fallbacks
        if let d = table.defaultFallback { chain.append(d) }
        var visited: Set = [name]
        for next in chain where !visited.contains(next) {
            guard let m = table.models[next], allows(next) else { continue }
            visited.insert(next)
            guard case .lacking(let gap) = Self.check(m, needs) else { return nil }
            missing = gap ?? "context_window"
        }
        return missing
    }

    enum Check { case capable, lacking(first: String?) }

    /// Whether a deployment of `model` can serve `needs`; if none can, what its first deployment lacks (nil: it has none).
    static func check(_ model: RoutedModel, _ needs: RequestNeeds) -> Check {
        var first: String?
        for d in model.deployments {
            guard let gap = d.capabilities.missing(for: needs) else { return .capable }
            first = first ?? gap
        }
        return .lacking(first: first)
    }
}
