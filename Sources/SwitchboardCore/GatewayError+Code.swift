extension GatewayError {
    /// The closed set of the gateway's error codes (a struct over a private enum, so the set can grow without
    /// breaking a `switch`). Each has a fixed HTTP status and type; its name is short, stable and safe as a metric
    /// label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, CaseIterable {
            // The client's request
            case invalidJSON = "invalid_json", invalidParameter = "invalid_parameter", missingParameter = "missing_parameter"
            case bodyReadFailed = "body_read_failed", badRequest = "bad_request", unsupportedCapability = "unsupported_capability"
            case unsupportedEndpoint = "unsupported_endpoint", encryptionKeyMissing = "encryption_key_missing"
            case missingAPIKey = "missing_api_key", invalidAPIKey = "invalid_api_key"
            case forbidden, modelNotAllowed = "model_not_allowed"
            case modelNotFound = "model_not_found", notFound = "not_found", unknownURL = "unknown_url"
            case methodNotAllowed = "method_not_allowed", requestTimeout = "request_timeout"
            case conflict, keyRevoked = "key_revoked", teamInUse = "team_in_use"
            case requestTooLarge = "request_too_large"
            case rateLimitExceeded = "rate_limit_exceeded", budgetExceeded = "budget_exceeded"
            case clientClosedRequest = "client_closed_request"
            // The edge (`waf:`)
            case ipNotAllowed = "ip_not_allowed", authThrottled = "auth_throttled", headersTooLarge = "headers_too_large"
            case jsonTooDeep = "json_too_deep", tooManyMessages = "too_many_messages", contentTooLarge = "content_too_large"
            // Guardrails (`guardrails:`)
            case piiDetected = "pii_detected", contentBlocked = "content_blocked"
            // Human review (`review:`)
            case reviewRejected = "review_rejected", reviewTimeout = "review_timeout"
            // Stored responses (`/v1/responses`)
            case previousResponseNotFound = "previous_response_not_found"
            // The gateway
            case internalError = "internal_error", storageError = "storage_error", storageUnavailable = "storage_unavailable"
            case shuttingDown = "shutting_down", overloaded, noHealthyDeployment = "no_healthy_deployment"
            case deploymentCapacityExceeded = "deployment_capacity_exceeded", deadlineExceeded = "deadline_exceeded"
            // Upstreams
            case upstreamUnreachable = "upstream_unreachable", upstreamTimeout = "upstream_timeout"
            case upstreamBadResponse = "upstream_bad_response", upstreamAuthFailed = "upstream_auth_failed"
            case upstreamError = "upstream_error", upstreamRejected = "upstream_rejected"
            case upstreamRateLimited = "upstream_rate_limited", streamInterrupted = "stream_interrupted"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The code's name, as clients, metrics and the request log see it.
        public var name: String { base.rawValue }
        public var description: String { base.rawValue }

        /// Every code.
        public static var all: [Code] { Base.allCases.map(Code.init) }

        /// The HTTP status an error with this code answers with (`upstream_rejected`: the upstream's 4xx, 400 if none).
        public var status: Int {
            switch base {
            case .invalidJSON, .invalidParameter, .missingParameter, .bodyReadFailed, .badRequest, .unsupportedCapability,
                 .unsupportedEndpoint, .encryptionKeyMissing, .upstreamRejected, .piiDetected, .contentBlocked, .jsonTooDeep,
                 .tooManyMessages, .previousResponseNotFound: 400
            case .missingAPIKey, .invalidAPIKey: 401
            case .forbidden, .modelNotAllowed, .ipNotAllowed, .reviewRejected: 403
            case .modelNotFound, .notFound, .unknownURL: 404
            case .methodNotAllowed: 405
            case .requestTimeout, .reviewTimeout: 408
            case .conflict, .keyRevoked, .teamInUse: 409
            case .requestTooLarge, .contentTooLarge: 413
            case .headersTooLarge: 431
            case .rateLimitExceeded, .budgetExceeded, .deploymentCapacityExceeded, .upstreamRateLimited, .authThrottled: 429
            case .clientClosedRequest: 499
            case .internalError, .storageError: 500
            case .upstreamUnreachable, .upstreamBadResponse, .upstreamAuthFailed, .upstreamError, .streamInterrupted: 502
            case .storageUnavailable, .shuttingDown, .overloaded, .noHealthyDeployment: 503
            case .deadlineExceeded, .upstreamTimeout: 504
            }
        }

        /// The error's type in OpenAI's shape.
        public var type: String {
            switch base {
            case .rateLimitExceeded, .deploymentCapacityExceeded, .upstreamRateLimited, .authThrottled: "rate_limit_error"
            case .budgetExceeded: "budget_exceeded"
            case .clientClosedRequest: "client_closed_request"
            case .internalError, .storageError, .storageUnavailable, .shuttingDown, .overloaded, .noHealthyDeployment: "server_error"
            case .deadlineExceeded: "timeout_error"
            case .upstreamUnreachable, .upstreamTimeout, .upstreamBadResponse, .upstreamAuthFailed, .upstreamError, .streamInterrupted:
                "upstream_error"
            default: "invalid_request_error"
            }
        }

        public static let invalidJSON = Code(.invalidJSON)
        public static let invalidParameter = Code(.invalidParameter)
        public static let missingParameter = Code(.missingParameter)
        public static let bodyReadFailed = Code(.bodyReadFailed)
        public static let badRequest = Code(.badRequest)
        public static let previousResponseNotFound = Code(.previousResponseNotFound)
        public static let unsupportedCapability = Code(.unsupportedCapability)
        public static let unsupportedEndpoint = Code(.unsupportedEndpoint)
        public static let encryptionKeyMissing = Code(.encryptionKeyMissing)
        public static let missingAPIKey = Code(.missingAPIKey)
        public static let invalidAPIKey = Code(.invalidAPIKey)
        public static let forbidden = Code(.forbidden)
        public static let modelNotAllowed = Code(.modelNotAllowed)
        public static let modelNotFound = Code(.modelNotFound)
        public static let notFound = Code(.notFound)
        public static let unknownURL = Code(.unknownURL)
        public static let methodNotAllowed = Code(.methodNotAllowed)
        public static let requestTimeout = Code(.requestTimeout)
        public static let conflict = Code(.conflict)
        public static let keyRevoked = Code(.keyRevoked)
        public static let teamInUse = Code(.teamInUse)
        public static let requestTooLarge = Code(.requestTooLarge)
        public static let ipNotAllowed = Code(.ipNotAllowed)
        public static let authThrottled = Code(.authThrottled)
        public static let headersTooLarge = Code(.headersTooLarge)
        public static let jsonTooDeep = Code(.jsonTooDeep)
        public static let tooManyMessages = Code(.tooManyMessages)
        public static let contentTooLarge = Code(.contentTooLarge)
        public static let piiDetected = Code(.piiDetected)
        public static let contentBlocked = Code(.contentBlocked)
        public static let reviewRejected = Code(.reviewRejected)
        public static let reviewTimeout = Code(.reviewTimeout)
        public static let rateLimitExceeded = Code(.rateLimitExceeded)
        public static let budgetExceeded = Code(.budgetExceeded)
        public static let clientClosedRequest = Code(.clientClosedRequest)
        public static let internalError = Code(.internalError)
        public static let storageError = Code(.storageError)
        public static let storageUnavailable = Code(.storageUnavailable)
        public static let shuttingDown = Code(.shuttingDown)
        public static let overloaded = Code(.overloaded)
        public static let noHealthyDeployment = Code(.noHealthyDeployment)
        public static let deploymentCapacityExceeded = Code(.deploymentCapacityExceeded)
        public static let deadlineExceeded = Code(.deadlineExceeded)
        public static let upstreamUnreachable = Code(.upstreamUnreachable)
        public static let upstreamTimeout = Code(.upstreamTimeout)
        public static let upstreamBadResponse = Code(.upstreamBadResponse)
        public static let upstreamAuthFailed = Code(.upstreamAuthFailed)
        public static let upstreamError = Code(.upstreamError)
        public static let upstreamRejected = Code(.upstreamRejected)
        public static let upstreamRateLimited = Code(.upstreamRateLimited)
        public static let streamInterrupted = Code(.streamInterrupted)

        /// The code for an HTTP error the server raised itself (malformed request lines, timeouts), by its status.
        public static func forStatus(_ status: Int) -> Code {
            switch status {
            case 404: .unknownURL
            case 405: .methodNotAllowed
            case 408: .requestTimeout
            case 413: .requestTooLarge
            case 500...: .internalError
            default: .badRequest
            }
        }
    }
}
