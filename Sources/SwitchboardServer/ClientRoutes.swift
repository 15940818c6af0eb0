import Hummingbird
import NIOCore
import SwitchboardCore

/// The client API's routes under `/v1`: each parses its body and hands it to the engine serving new requests now.
enum ClientRoutes {
    static func add(to v1: RouterGroup<GatewayRequestContext>, live: LiveGateway, limit: Int, bodyLimits: RequestLimits) {
        for (path, handler) in direct(live: live, limit: limit, bodyLimits: bodyLimits) { v1.post(RouterPath(path), use: handler) }
        v1.post("messages/count_tokens") { request, context in
            let body = try await readBody(request, limit: limit)
            let model = try AnthropicMessagesRequest.countTokensModel(body, limits: bodyLimits)
            let (identity, requestID) = (context.identity!, context.requestID)
            return try await cancellingOnDisconnect(context.connection) {
                try await TokenCounter(live.gateway).count(body, model: model, identity: identity, requestID: requestID, clientHeaders: passthroughHeaders(request))
            }
        }
        ModelsAPI.add(to: v1, live: live)
    }

    /// The `POST` routes under `/v1` that `GatewayResponder` also finds by their exact path, with their handlers.
    static func direct(live: LiveGateway, limit: Int, bodyLimits: RequestLimits) -> [(path: String, handler: GatewayResponder.Handler)] {
        [
            ("chat/completions", { request, context in
                let parsed = try OpenAIRequest.chat(try await readBody(request, limit: limit), limits: bodyLimits)
                return try await serve(OpenAIAPI.self, parsed, request, context, live: live)
            }),
            ("embeddings", { request, context in
                let parsed = try OpenAIRequest.embeddings(try await readBody(request, limit: limit), limits: bodyLimits)
                return try await serve(OpenAIAPI.self, parsed, request, context, live: live, clientHeaders: false, affinity: false)
            }),
            ("messages", { request, context in
                let parsed = try AnthropicMessagesRequest.parse(try await readBody(request, limit: limit), limits: bodyLimits)
                return try await serve(AnthropicAPI.self, parsed, request, context, live: live)
            }),
        ]
    }

    /// Hands a parsed request to the engine serving now, cancelled when the client goes away; with the client's
    /// headers a provider may pass on and its `x-switchboard-affinity` unless told otherwise.
    static func serve<API: ClientAPI>(_ api: API.Type, _ parsed: API.Request, _ request: Request, _ context: GatewayRequestContext,
                                      live: LiveGateway, clientHeaders: Bool = true, affinity: Bool = true) async throws -> Response {
        let (identity, requestID, logger, address) = (context.identity!, context.requestID, context.logger, context.clientAddress)
        return try await cancellingOnDisconnect(context.connection) {
            await live.gateway.serve(API.self, parsed, identity: identity, requestID: requestID,
                                     clientHeaders: clientHeaders ? passthroughHeaders(request) : [],
                                     affinity: affinity ? request.headers.value(.switchboardAffinity) : nil,
                                     traceHeaders: TraceHeaders(request.headers), headers: request.headers, clientAddress: address, logger: logger)
        }
    }
}
