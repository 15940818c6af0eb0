/// What the gateway records about one request once it has ended.
public struct RequestRecord: Sendable, Equatable {
    public var id: String
    /// Start of the request, seconds since 1970.
    public var startedAt: Double
    /// Name of the client key (never the key itself).
    public var keyName: String
    /// Id of the managed key (nil for the master key and keys from the configuration).
    public var keyID: String?
    /// The managed key's team.
    public var team: String?
    /// A configuration key's spend scope (`static:NAME`), charged like a managed key's; not kept in the log.
    public var staticScope: String?
    /// Spend scopes whose cost the admission ledger has already written (the request log must not add it again).
    public var chargedScopes: [String] = []
    public var endpoint: String
    /// The public model the client asked for.
    public var model: String
    /// Provider and upstream model of the attempt that answered (or the last one tried).
    public var provider: String?
    public var upstreamModel: String?
    public var stream: Bool
    /// Status the client got (200 for streams that ended with an error event is reported as the error's status).
    public var status: Int
    /// Error code when the request failed, e.g. `upstream_timeout`.
    public var errorCode: String?
    public var attempts: Int
    /// How the answering attempt was chosen: primary, retry, fallback, context_window_fallback,
    /// content_policy_fallback or hedge.
    public var routeReason: String?
    /// The public model that answered, when a fallback did.
    /// The routing rule that chose the model (`router.rules`), when one did.
    public var routeRule: String?
    public var servedModel: String?
    /// The public model that served the request (or was tried last): the fallback's when one answered, else the one
    /// asked for; nil when the gateway refused the request before trying any provider.
    public var served: String? { provider == nil ? nil : servedModel ?? model }
    /// A hedge was started for this request.
    public var hedged = false
    public var latencyMs: Double
    /// Time to the first byte of the upstream's body (streams: the first token).
    public var ttftMs: Double?
    public var usage: Usage
    public var costUSD: Double
    /// The first `logging.bodies.max_bytes` of the client's request and of the answer it got (a stream as relayed),
    /// when `logging.bodies` is enabled. Redacted by the request-log writer before they are stored.
    public var requestBody: String?
    public var responseBody: String?

    /// Has a request or response body.
    public var hasBodies: Bool { requestBody != nil || responseBody != nil }
    /// Bytes of its bodies.
    public var bodyBytes: Int { Self.bytes(requestBody, responseBody) }
    public static func bytes(_ request: String?, _ response: String?) -> Int {
        (request?.utf8.count ?? 0) + (response?.utf8.count ?? 0)
    }
    public mutating func dropBodies() {
        requestBody = nil
        responseBody = nil
    }

    public init(id: String, startedAt: Double, keyName: String, endpoint: String, model: String, provider: String? = nil,
                upstreamModel: String? = nil, stream: Bool = false, status: Int, errorCode: String? = nil, attempts: Int = 0,
                latencyMs: Double = 0, ttftMs: Double? = nil, usage: Usage = Usage(), costUSD: Double = 0,
                keyID: String? = nil, team: String? = nil, routeReason: String? = nil, servedModel: String? = nil, hedged: Bool = false,
                routeRule: String? = nil) {
        self.id = id
        self.startedAt = startedAt
        self.keyName = keyName
        self.endpoint = endpoint
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.stream = stream
        self.status = status
        self.errorCode = errorCode
        self.attempts = attempts
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.usage = usage
        self.costUSD = costUSD
        self.keyID = keyID
        self.team = team
        self.routeReason = routeReason
        self.servedModel = servedModel
        self.routeRule = routeRule
        self.hedged = hedged
    }
}

/// Receives the record of every finished request. Must return at once: it is called on the request path.
public protocol UsageRecorder: Sendable {
    func record(_ record: RequestRecord)
}

/// A filter over the request log (`/admin/logs`, `/admin/analytics`): newest first, at most `limit` records.
public struct LogQuery: Sendable, Equatable {
    /// Seconds since 1970: `from` inclusive, `to` exclusive.
    public var from: Double?
    public var to: Double?
    /// The model the client asked for.
    public var model: String?
    /// The public model that served the request, after fallbacks (`RequestRecord.served`).
    public var servedModel: String?
    public var provider: String?
    public var keyID: String?
    public var team: String?
    /// An exact status, or a class: 2 for 2xx, 4 for 4xx, 5 for 5xx.
    public var status: Int?
    public var statusClass: Int?
    /// Only records that started before this (seconds since 1970): the cursor of the next page.
    public var before: Double?
    public var limit: Int

    public init(from: Double? = nil, to: Double? = nil, model: String? = nil, servedModel: String? = nil, provider: String? = nil,
                keyID: String? = nil, team: String? = nil, status: Int? = nil, statusClass: Int? = nil, before: Double? = nil,
                limit: Int = 100) {
        self.from = from
        self.to = to
        self.model = model
        self.servedModel = servedModel
        self.provider = provider
        self.keyID = keyID
        self.team = team
        self.status = status
        self.statusClass = statusClass
        self.before = before
        self.limit = limit
    }

    /// Whether a record passes the filter (the memory storage; SQL storages say the same in WHERE).
    public func matches(_ r: RequestRecord) -> Bool {
        if let from, r.startedAt < from { return false }
        if let to, r.startedAt >= to { return false }
        if let before, r.startedAt >= before { return false }
        if let model, r.model != model { return false }
        if let servedModel, r.served != servedModel { return false }
        if let provider, r.provider != provider { return false }
        if let keyID, r.keyID != keyID { return false }
        if let team, r.team != team { return false }
        if let status, r.status != status { return false }
        if let statusClass, r.status / 100 != statusClass { return false }
        return true
    }
}
