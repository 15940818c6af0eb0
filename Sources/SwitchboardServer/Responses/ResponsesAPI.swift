import NIOCore
import SwitchboardCore
import SwitchboardProviders

/// OpenAI's Responses API (`POST /v1/responses`): served natively by deployments that speak it, translated through
/// chat completions by every other kind (`Provider.sendResponses`).
enum ResponsesAPI: ClientAPI {
    static func model(_ r: ResponsesRequest) -> String { r.model }
    static func providerPreferences(_ r: ResponsesRequest) -> ProviderPreferences? { nil }
    static func renamed(_ r: ResponsesRequest, _ model: String) throws(GatewayError) -> ResponsesRequest { try r.renamed(model) }
    static func body(_ r: ResponsesRequest) -> ByteBuffer { r.body }
    static func rebuilt(_ r: ResponsesRequest, body: ByteBuffer) throws(GatewayError) -> ResponsesRequest { try r.rebuilt(body) }
    static func textRoots(_ r: ResponsesRequest) -> Set<String> { ["input", "instructions"] }
    /// Answers' texts are not rewritten by the response stages yet (see docs/api.md: output guardrails and restoring
    /// pseudonymised values cover chat completions and messages).
    static func answerFormat(_ r: ResponsesRequest) -> AnswerFormat? { nil }
    static func isConversation(_ r: ResponsesRequest) -> Bool { true }
    static let reviewName = "responses"
    static func isStream(_ r: ResponsesRequest) -> Bool { r.stream }
    static func needs(_ r: ResponsesRequest) -> RequestNeeds { r.needs }
    static func affinityKey(_ r: ResponsesRequest) -> String? { r.user }
    static func endpoint(_ r: ResponsesRequest) -> String { "responses" }
    static func relay(for r: ResponsesRequest) -> SSERelay { SSERelay(mode: .passthrough, format: .responses) }
    static func send(_ r: ResponsesRequest, via provider: any Provider, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        await provider.sendResponses(r, upstreamModel: upstreamModel, context: context)
    }
    static func errorBody(_ e: GatewayError) -> String { e.openAIBody }
    /// The Responses API's `error` event; its `error` member makes the OpenAI SDKs raise the error as they read it.
    static func streamErrorEvent(_ e: GatewayError) -> String {
        let error = ErrorBody.openAI(message: e.message, type: e.type, param: e.param, code: e.clientCode).dropFirst()
        return "event: error\ndata: {\"type\":\"error\",\"code\":\(JSONString.quote(e.clientCode)),\"message\":\(JSONString.quote(e.message)),"
            + "\"param\":\(e.param.map(JSONString.quote) ?? "null"),\"sequence_number\":0,\(error)\n\n"
    }
}
