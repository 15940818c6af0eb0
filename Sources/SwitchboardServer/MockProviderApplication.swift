import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardProviders

/// `switchboard mock-provider`: the simulated provider (`MockTransport`) served over HTTP with OpenAI's API and
/// Anthropic's Messages API (`/v1/messages`) and Gemini's (`/v1beta/models/{m}:generateContent`, …). Any key is accepted.
public func buildMockProviderApplication(
    config: MockProviderConfig, host: String, port: Int, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let transport = MockTransport(config: config)
    let router = Router()
    router.get("/healthz") { _, _ in jsonResponse(#"{"status":"ok"}"#) }
    let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 << 20)
        } catch {
            return GatewayError.bodyTooLarge(limit: 64 << 20).response()
        }
        let upstream: UpstreamResponse
        do {
            upstream = try await transport.execute(UpstreamRequest(method: request.method.rawValue, url: "http://mock" + request.uri.path,
                                                                   body: body, timeout: .seconds(3600)))
        } catch {
            return GatewayError.internalError("simulation failed").response()
        }
        var headers = HTTPFields()
        for (name, value) in upstream.headers {
            if let n = HTTPField.Name(name) { headers[n] = value }
        }
        return Response(status: .init(code: upstream.status), headers: headers, body: ResponseBody(asyncSequence: upstream.body))
    }
    for path in ["/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/chat/completions", "/embeddings"] {
        router.post(RouterPath(path), use: handler)
    }
    for path in ["/v1/models", "/models"] { router.get(RouterPath(path), use: handler) }
    router.post("/v1beta/models/**", use: handler)     // Gemini: models/{model}:generateContent and friends
    return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil, backlog: 1024),
                       onServerRunning: { await onServerRunning($0.localAddress?.port ?? 0) }, logger: logger)
}
