/// An error the gateway answers with: it knows its HTTP status and renders itself in OpenAI's error shape.
///
/// `code` is short and stable (safe as a metric label); `message` is written for the client and never contains
/// a secret.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var code: String
    public var message: String
    public var param: String?
    /// Seconds the client should wait before trying again (429/503), sent as `Retry-After`.
    public var retryAfterSeconds: Int?

    public init(status: Int, type: String, code: String, message: String, param: String? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status) \(code): \(message)" }

    // MARK: Client errors

    public static func invalidJSON(_ detail: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "invalid_json",
                     message: "We could not parse the JSON body of your request: \(detail).")
    }

    public static func invalidParameter(_ param: String, _ message: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "invalid_parameter", message: message, param: param)
    }

    public static func missingParameter(_ param: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "missing_parameter",
                     message: "Missing required parameter: '\(param)'.", param: param)
    }

    public static func unknownModel(_ model: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "model_not_found",
                     message: "The model '\(model)' does not exist or you do not have access to it.", param: "model")
    }

    /// No deployment the request could reach supports what it needs (`capability` as `RequestNeeds` names it).
    public static func unsupportedCapability(model: String, _ capability: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "unsupported_capability",
                     message: "The model '\(model)' cannot serve this request: no deployment supports \(RequestNeeds.describe(capability)) (capability '\(capability)').",
                     param: capability)
    }

    public static let missingKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "missing_api_key",
        message: "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'.")

    public static let invalidKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key",
        message: "Incorrect API key provided.")

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(status: 413, type: "invalid_request_error", code: "request_too_large",
                     message: "The request body is larger than the limit of \(limit) bytes.")
    }

    public static func notFound(path: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "unknown_url",
                     message: "Unknown request URL: \(path).")
    }

    public static func methodNotAllowed(method: String, path: String) -> GatewayError {
        GatewayError(status: 405, type: "invalid_request_error", code: "method_not_allowed",
                     message: "Method \(method) is not allowed on \(path).")
    }

    // MARK: Upstream trouble

    public static func upstreamUnreachable(provider: String) -> GatewayError {
        GatewayError(status: 502, type: "upstream_error", code: "upstream_unreachable",
                     message: "The upstream provider '\(provider)' could not be reached or closed the connection.")
    }

    public static func upstreamTimeout(provider: String, seconds: Double) -> GatewayError {
        GatewayError(status: 504, type: "upstream_error", code: "upstream_timeout",
                     message: "The upstream provider '\(provider)' did not answer within \(formatSeconds(seconds)) s.")
    }

    public static func upstreamBadResponse(provider: String, _ detail: String) -> GatewayError {
        GatewayError(status: 502, type: "upstream_error", code: "upstream_bad_response",
                     message: "The upstream provider '\(provider)' sent an invalid response: \(detail).")
    }

    public static func upstreamStatus(provider: String, status: Int) -> GatewayError {
        GatewayError(status: status >= 500 ? 502 : status, type: "upstream_error", code: "upstream_error",
                     message: "The upstream provider '\(provider)' answered with HTTP \(status).")
    }

    public static func streamInterrupted(provider: String) -> GatewayError {
        GatewayError(status: 502, type: "upstream_error", code: "stream_interrupted",
                     message: "The upstream provider '\(provider)' stopped the stream before it finished.")
    }

    /// Storage did not answer (admin reads and writes, `/readyz`).
    public static let storageUnavailable = GatewayError(status: 503, type: "server_error", code: "storage_unavailable",
                                                        message: "Storage is not reachable.")

    public static let shuttingDown = GatewayError(
        status: 503, type: "server_error", code: "shutting_down", message: "The gateway is shutting down.", retryAfterSeconds: 1)

    /// The client went away before an answer (recorded, never sent).
    public static let clientClosed = GatewayError(status: 499, type: "client_closed_request", code: "client_closed_request",
                                                  message: "The client closed the request.")

    public static func internalError(_ detail: String) -> GatewayError {
        GatewayError(status: 500, type: "server_error", code: "internal_error", message: "Internal gateway error: \(detail).")
    }

    /// Anthropic's error types; the error's own `type` when it is one of them, else the one for its status.
    public var anthropicType: String {
        let known: Set = ["invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large",
                          "rate_limit_error", "api_error", "overloaded_error", "timeout_error"]
        // The gateway labels its own 401/403/404/413 "invalid_request_error" (OpenAI's habit): those map by status.
        let generic = type == "invalid_request_error" && status != 400
        if known.contains(type) && !generic { return type }
        switch status {
        case 400, 405: return "invalid_request_error"
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 503, 529: return "overloaded_error"
        case 504: return "timeout_error"
        default: return "api_error"
        }
    }

    /// The Anthropic error body: `{"type":"error","error":{"type","message"}}`.
    public var anthropicBody: String {
        #"{"type":"error","error":{"type":"# + JSONString.quote(anthropicType) + #","message":"# + JSONString.quote(message) + "}}"
    }

    /// The OpenAI error body: `{"error":{"message","type","param","code"}}`.
    public var openAIBody: String {
        var out = #"{"error":{"message":"#
        out += JSONString.quote(message)
        out += #","type":"# + JSONString.quote(type)
        out += #","param":"# + (param.map(JSONString.quote) ?? "null")
        out += #","code":"# + JSONString.quote(code) + "}}"
        return out
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
}

/// Minimal JSON string quoting for hand-written response bodies.
public enum JSONString {
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}
