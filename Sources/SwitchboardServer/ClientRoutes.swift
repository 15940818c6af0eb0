import Hummingbird
import NIOCore
import SwitchboardCore

/// The client API's routes under `/v1`: each parses its body and hands it to the engine serving new requests now.
enum ClientRoutes {
    static func add(to v1: RouterGroup<GatewayRequestContext>, live: LiveGateway, limit: Int, bodyLimits: RequestLimits) {
        v1.post("chat/completions") { request, context in
            let body = try await readBody(request, limit: limit)
            let parsed = try OpenAIRequest.chat(body, limits: bodyLimits)
            let (identity, requestID, logger, address) = (context.identity!, context.requestID, context.logger, context.clientAddress)
            return try await cancellingOnDisconnect(context.connection) {
                await live.gateway.serve(OpenAIAPI.self, parsed, identity: identity, requestID: requestID,
                                    clientHeaders: passthroughHeaders(request), affinity: request.headers[.switchboardAffinity],
                                    traceHeaders: TraceHeaders(request.headers), headers: request.headers, clientAddress: address, logger: logger)
            }
        }
        v1.post("embeddings") { request, context in
            let body = try await readBody(request, limit: limit)
            let parsed = try OpenAIRequest.embeddings(body, limits: bodyLimits)
            let (identity, requestID, logger, address) = (context.identity!, context.requestID, context.logger, context.clientAddress)
            return try await cancellingOnDisconnect(context.connection) {
                await live.gateway.serve(OpenAIAPI.self, parsed, identity: identity, requestID: requestID,
                                    traceHeaders: TraceHeaders(request.headers), headers: request.headers, clientAddress: address, logger: logger)
            }
        }
        v1.post("messages") { request, context in
            let body = try await readBody(request, limit: limit)
            let parsed = try AnthropicMessagesRequest.parse(body, limits: bodyLimits)
            let (identity, requestID, logger, address) = (context.identity!, context.requestID, context.logger, context.clientAddress)
            return try await cancellingOnDisconnect(context.connection) {
                await live.gateway.serve(AnthropicAPI.self, parsed, identity: identity, requestID: requestID,
                                    clientHeaders: passthroughHeaders(request), affinity: request.headers[.switchboardAffinity],
                                    traceHeaders: TraceHeaders(request.headers), headers: request.headers, clientAddress: address, logger: logger)
            }
        }
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
}
