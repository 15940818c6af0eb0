import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardRouting

// Step 1 of the engine — identify: who asks for what. The key was authenticated by `AuthMiddleware`; here the
// request's record and spans begin, and the model it names must exist and be one the key may use.

/// One request as the engine's steps see it: what the client asked, who asked, and how to reach it back.
struct Call<API: ClientAPI>: Sendable {
    /// The request; a request stage may replace it.
    var request: API.Request
    let identity: Identity
    let requestID: String
    /// Client headers a provider may pass on (lower-case names).
    let clientHeaders: [(name: String, value: String)]
    /// `x-switchboard-affinity`: what keeps a conversation on one deployment, when the client set it.
    let affinity: String?
    let traceHeaders: TraceHeaders
    let logger: Logger
    /// The request's headers (routing rules may match on them).
    let headers: HTTPFields
    /// The peer's IP address, when known (routing rules' region from GeoIP).
    var clientAddress: String? = nil
    /// Set by a routing rule: the models to escalate to when the chosen one fails, instead of its fallbacks.
    var escalation: [String]?
    /// What the request allows of deployments: its `provider` preferences, `x-switchboard-max-price`, the key's regions.
    var policy = DeploymentPolicy()
    /// Set by a routing rule whose tiers escalate on the answer: the check a whole answer must pass.
    var outputCheck: OutputCheck?
    /// Set by the privacy guardrail (`pseudonymise`): each placeholder sent upstream and the value it stands for.
    var pseudonyms: [String: String]?
    /// A reviewer approved this request: stages that would hold it for review let it go.
    var reviewed = false

    var model: String { API.model(request) }
}

extension Gateway {
    /// Starts the request's record (and spans), and checks that its model exists and the key may use it.
    /// Returns the error the client gets when it may not go on.
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    func identify<API: ClientAPI>(_ call: inout Call<API>, into exchange: inout Exchange) -> GatewayError? {
        let model = call.model
        exchange.spans = tracing.map {
            RequestSpans($0.requestSpan(operation: API.endpoint(call.request) == "embeddings" ? "embeddings" : "chat",
                                        model: table.models[model] == nil ? "unknown" : model,
                                        requestID: call.requestID, client: call.traceHeaders, identity: call.identity))
        }
        if let bodyLimit {
            exchange.bodyLimit = bodyLimit
            exchange.record.requestBody = Exchange.prefix(API.body(call.request), bodyLimit)
        }
        guard table.models[model] != nil || virtualModels.contains(model) else {
            let identity = call.identity
            return .unknownModel(model, suggestion: suggestion(for: model, among: (table.modelNames + virtualModels).filter { identity.allows(model: $0) }))
        }
        guard call.identity.allows(model: model) else {
            return .modelNotAllowed(model)
        }
        var policy = (API.providerPreferences(call.request) ?? call.identity.providerDefaults).map(DeploymentPolicy.init(preferences:))
            ?? DeploymentPolicy()
        if let text = call.headers.value(.switchboardMaxPrice) {
            guard let usd = Double(text.trimmingCharacters(in: .whitespaces)), usd.isFinite, usd >= 0 else {
                return .invalidParameter("x-switchboard-max-price", "x-switchboard-max-price: expected a price in USD such as 0.01, found \"\(text)\".")
            }
            policy.maxRequestUSD = usd
        }
        if let keyCap = call.identity.maxPriceUSD { policy.maxRequestUSD = min(policy.maxRequestUSD ?? keyCap, keyCap) }
        // The key's and its team's `region`: the regions (comma-separated, globs) their requests may be sent to.
        policy.regions = Self.regions(call.identity.region)
        policy.teamRegions = Self.regions(call.identity.teamRegion)
        call.policy = policy
        return nil
    }

    /// A `region` field as a list of globs (nil: none set).
    static func regions(_ field: String?) -> [String]? {
        let list = commaList(field)
        return list.isEmpty ? nil : list
    }
}
