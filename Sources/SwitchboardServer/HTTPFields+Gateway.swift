import HTTPTypes
import Hummingbird
import SwitchboardCore

extension HTTPField.Name {
    static let requestID = Self("x-request-id")!
    static let switchboardModel = Self("x-switchboard-model")!
    static let switchboardProvider = Self("x-switchboard-provider")!
    static let switchboardAttempts = Self("x-switchboard-attempts")!
    /// How the answering attempt was chosen: primary, retry, fallback, context_window_fallback, content_policy_fallback, hedge.
    static let switchboardRoute = Self("x-switchboard-route")!
    static let switchboardGuardrails = Self("x-switchboard-guardrails")!
    static let switchboardMaxPrice = Self("x-switchboard-max-price")!
    static let xForwardedFor = Self("x-forwarded-for")!
    static let switchboardCost = Self("x-switchboard-cost-usd")!
    static let xAPIKey = Self("x-api-key")!
    static let anthropicBeta = Self("anthropic-beta")!
    static let switchboardTokenCount = Self("x-switchboard-token-count")!
    static let switchboardAffinity = Self("x-switchboard-affinity")!
}

extension HTTPFields {
    /// `self[name]`, the values of every field named `name` joined as HTTP types joins them, without the join when
    /// there is one: the library's getter joins even a single value through a lazy map, which costs a look-up of
    /// generic metadata and, for a value too long to be stored inline (an API key), a new string, on every request.
    func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            guard found == nil else { return self[name] }
            found = field.value
        }
        return found
    }
}

extension GatewayError {
    /// This error as a JSON response, in OpenAI's shape unless another body is given.
    func response(body: String? = nil, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body ?? openAIBody)))
    }
}

/// A JSON response from a string.
func jsonResponse(_ text: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
}
