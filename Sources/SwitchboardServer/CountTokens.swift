import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting

/// `POST /v1/messages/count_tokens`: counted exactly by the model's first deployment that can count (Anthropic),
/// else estimated locally (`x-switchboard-token-count: estimate`). Nothing is billed, limited or logged, so it is a
/// room beside the engine rather than a request through it.
struct TokenCounter: Sendable {
    let table: RoutingTable
    /// The provider of each deployment slot of `table`.
    let slotProviders: [(any Provider)?]
    let routing: RoutingConfig
    let scrubber: SecretScrubber
    let virtualModels: [String]
    /// `guardrails.pii`: what is counted upstream is masked like what is sent.
    let privacy: PrivacyStage?

    init(_ gateway: Gateway) {
        privacy = gateway.stages.request.lazy.compactMap { $0 as? PrivacyStage }.first
        table = gateway.table
        slotProviders = gateway.slotProviders
        routing = gateway.routing
        scrubber = gateway.scrubber
        virtualModels = gateway.virtualModels
    }

    func count(_ body: ByteBuffer, model: String, identity: Identity, requestID: String,
               clientHeaders: [(name: String, value: String)]) async throws(GatewayError) -> Response {
        let body = try privacy?.masked(body, model: model, identity: identity, roots: ["system", "messages"]) ?? body
        // A virtual model (`router.models`) has no deployment of its own until a rule routes a request: estimated.
        let routed = table.models[model]
        guard routed != nil || virtualModels.contains(model) else {
            throw .unknownModel(model, suggestion: suggestion(for: model, among: (table.modelNames + virtualModels).filter { identity.allows(model: $0) }))
        }
        guard identity.allows(model: model) else {
            throw .modelNotAllowed(model)
        }
        var headers = HTTPFields()
        headers[.switchboardModel] = model
        headers[.contentType] = "application/json"
        let context = ProviderCallContext(requestID: requestID, timeout: Gateway.duration(routing.timeoutSeconds), clientHeaders: clientHeaders,
                                          limits: AttemptLimits(total: Gateway.duration(min(routing.timeoutSeconds, routing.totalTimeoutSeconds))),
                                          scrubber: scrubber)
        for deployment in routed?.deployments ?? [] {
            guard let provider = slotProviders[deployment.slot],
                  let outcome = await provider.countTokens(body, upstreamModel: deployment.upstreamModel, context: context) else { continue }
            switch outcome {
            case .answer(let answer, _):
                headers[.switchboardProvider] = deployment.provider
                headers[.switchboardTokenCount] = "exact"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: answer))
            case .failure(let failure) where (400..<500).contains(failure.error.status) && failure.kind != .authRejected:
                // The client's mistake (or its limit), in the upstream's words (scrubbed of credentials).
                throw failure.error
            case .failure, .stream:
                continue      // try the next deployment that counts, or estimate
            }
        }
        guard let request = JSONValue.parse(Data(buffer: body)) else { throw .invalidJSON("the body could not be decoded") }
        headers[.switchboardTokenCount] = "estimate"
        return Response(status: .ok, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"input_tokens":\#(TokenEstimate.anthropicInput(request))}"#)))
    }
}
