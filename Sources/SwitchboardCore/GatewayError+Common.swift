/// The errors the gateway raises in more than one place, with their messages.
extension GatewayError {
    // MARK: The client's request

    public static func invalidJSON(_ detail: String) -> GatewayError {
        GatewayError(.invalidJSON, "We could not parse the JSON body of your request: \(detail).")
    }

    public static func invalidParameter(_ param: String, _ message: String) -> GatewayError {
        GatewayError(.invalidParameter, message, param: param)
    }

    public static func missingParameter(_ param: String) -> GatewayError {
        GatewayError(.missingParameter, "Missing required parameter: '\(param)'.", param: param)
    }

    /// An unknown model; `suggestion` is a model the key may use with a name close to it.
    public static func unknownModel(_ model: String, suggestion: String? = nil) -> GatewayError {
        GatewayError(.modelNotFound, "The model '\(model)' does not exist or you do not have access to it."
                         + (suggestion.map { " Did you mean '\($0)'?" } ?? ""), param: "model")
    }

    public static func modelNotAllowed(_ model: String) -> GatewayError {
        GatewayError(.modelNotAllowed, "Your key may not use the model '\(model)'.", param: "model")
    }

    /// No deployment the request could reach supports what it needs (`capability` as `RequestNeeds` names it).
    public static func unsupportedCapability(model: String, _ capability: String) -> GatewayError {
        GatewayError(.unsupportedCapability,
                     "The model '\(model)' cannot serve this request: no deployment supports \(RequestNeeds.describe(capability)) (capability '\(capability)').",
                     param: capability)
    }

    public static let missingKey = GatewayError(.missingAPIKey, "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'.")

    public static let invalidKey = GatewayError(.invalidAPIKey, "Incorrect API key provided.")

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(.requestTooLarge, "The request body is larger than the limit of \(limit) bytes.")
    }

    /// An unknown path; `didYouMean` is the known one it probably meant (`/v1/chat/completions` for `/chat/completions`).
    public static func notFound(path: String, didYouMean: String? = nil) -> GatewayError {
        GatewayError(.unknownURL, "Unknown request URL: \(path)."
                         + (didYouMean.map { " Did you mean \($0)? (The OpenAI base URL ends in /v1.)" } ?? ""))
    }

    public static func methodNotAllowed(method: String, path: String) -> GatewayError {
        GatewayError(.methodNotAllowed, "Method \(method) is not allowed on \(path).")
    }

    /// The client went away before an answer (recorded, never sent).
    public static let clientClosed = GatewayError(.clientClosedRequest, "The client closed the request.")

    // MARK: The gateway

    /// Storage did not answer (admin reads and writes, `/readyz`).
    public static let storageUnavailable = GatewayError(.storageUnavailable, "Storage is not reachable.")

    public static let shuttingDown = GatewayError(.shuttingDown, "The gateway is shutting down.", retryAfterSeconds: 1)

    public static func internalError(_ detail: String) -> GatewayError {
        GatewayError(.internalError, "Internal gateway error: \(detail).")
    }

    // MARK: Upstream trouble

    public static func upstreamUnreachable(provider: String) -> GatewayError {
        GatewayError(.upstreamUnreachable, "The upstream provider '\(provider)' could not be reached or closed the connection.")
    }

    public static func upstreamTimeout(provider: String, seconds: Double) -> GatewayError {
        GatewayError(.upstreamTimeout, "The upstream provider '\(provider)' did not answer within \(formatSeconds(seconds)) s.")
    }

    public static func upstreamBadResponse(provider: String, _ detail: String) -> GatewayError {
        GatewayError(.upstreamBadResponse, "The upstream provider '\(provider)' sent an invalid response: \(detail).")
    }

    /// An upstream's error status: a 4xx is the client's request rejected (keeping the status), a 5xx the upstream's failure.
    public static func upstreamStatus(provider: String, status: Int) -> GatewayError {
        GatewayError(status >= 500 ? .upstreamError : status == 429 ? .upstreamRateLimited : .upstreamRejected,
                     "The upstream provider '\(provider)' answered with HTTP \(status).", upstream: Upstream(status: status))
    }

    /// The provider refused the gateway's own credentials.
    public static func upstreamAuthFailed(provider: String, status: Int) -> GatewayError {
        GatewayError(.upstreamAuthFailed, "The upstream provider '\(provider)' rejected the gateway's credentials (HTTP \(status)).")
    }

    public static func streamInterrupted(provider: String) -> GatewayError {
        GatewayError(.streamInterrupted, "The upstream provider '\(provider)' stopped the stream before it finished.")
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
}
