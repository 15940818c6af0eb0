/// What the gateway records about one request once it has ended.
///
/// A value, as any struct, whose fields its copies share until one of them changes (`SharedFields`): a record is
/// copied several times on its way to storage (the engine's, the metrics', the log's buffer and batch, the storage's),
/// and a copy of its ~25 fields, most of them strings, was ~20 reference-count operations. (Setters, not `_modify`
/// coroutines: called from other modules, those allocated their frames on the heap.)
public struct RequestRecord: Sendable, Equatable {
    private var box: SharedFields<Fields>

    public var id: String { get { box.fields.id } set { SharedFields.unique(&box); box.fields.id = newValue } }
    /// Start of the request, seconds since 1970.
    public var startedAt: Double { get { box.fields.startedAt } set { SharedFields.unique(&box); box.fields.startedAt = newValue } }
    /// Name of the client key (never the key itself).
    public var keyName: String { get { box.fields.keyName } set { SharedFields.unique(&box); box.fields.keyName = newValue } }
    /// Id of the managed key (nil for the master key and keys from the configuration).
    public var keyID: String? { get { box.fields.keyID } set { SharedFields.unique(&box); box.fields.keyID = newValue } }
    /// The managed key's team.
    public var team: String? { get { box.fields.team } set { SharedFields.unique(&box); box.fields.team = newValue } }
    /// A configuration key's spend scope (`static:NAME`), charged like a managed key's; not kept in the log.
    public var staticScope: String? { get { box.fields.staticScope } set { SharedFields.unique(&box); box.fields.staticScope = newValue } }
    /// Spend scopes whose cost the admission ledger has already written (the request log must not add it again).
    public var chargedScopes: [String] { get { box.fields.chargedScopes } set { SharedFields.unique(&box); box.fields.chargedScopes = newValue } }
    public var endpoint: String { get { box.fields.endpoint } set { SharedFields.unique(&box); box.fields.endpoint = newValue } }
    /// The public model the client asked for.
    public var model: String { get { box.fields.model } set { SharedFields.unique(&box); box.fields.model = newValue } }
    /// Provider and upstream model of the attempt that answered (or the last one tried).
    public var provider: String? { get { box.fields.provider } set { SharedFields.unique(&box); box.fields.provider = newValue } }
    public var upstreamModel: String? { get { box.fields.upstreamModel } set { SharedFields.unique(&box); box.fields.upstreamModel = newValue } }
    public var stream: Bool { get { box.fields.stream } set { SharedFields.unique(&box); box.fields.stream = newValue } }
    /// Status the client got (200 for streams that ended with an error event is reported as the error's status).
    public var status: Int { get { box.fields.status } set { SharedFields.unique(&box); box.fields.status = newValue } }
    /// Error code when the request failed, e.g. `upstream_timeout`.
    public var errorCode: String? { get { box.fields.errorCode } set { SharedFields.unique(&box); box.fields.errorCode = newValue } }
    public var attempts: Int { get { box.fields.attempts } set { SharedFields.unique(&box); box.fields.attempts = newValue } }
    /// How the answering attempt was chosen: primary, retry, fallback, context_window_fallback,
    /// content_policy_fallback or hedge.
    public var routeReason: String? { get { box.fields.routeReason } set { SharedFields.unique(&box); box.fields.routeReason = newValue } }
    /// The routing rule that chose the model (`router.rules`), when one did.
    public var routeRule: String? { get { box.fields.routeRule } set { SharedFields.unique(&box); box.fields.routeRule = newValue } }
    /// The public model that answered, when a fallback did.
    public var servedModel: String? { get { box.fields.servedModel } set { SharedFields.unique(&box); box.fields.servedModel = newValue } }
    /// A hedge was started for this request.
    public var hedged: Bool { get { box.fields.hedged } set { SharedFields.unique(&box); box.fields.hedged = newValue } }
    public var latencyMs: Double { get { box.fields.latencyMs } set { SharedFields.unique(&box); box.fields.latencyMs = newValue } }
    /// Time to the first byte of the upstream's body (streams: the first token).
    public var ttftMs: Double? { get { box.fields.ttftMs } set { SharedFields.unique(&box); box.fields.ttftMs = newValue } }
    public var usage: Usage { get { box.fields.usage } set { SharedFields.unique(&box); box.fields.usage = newValue } }
    public var costUSD: Double { get { box.fields.costUSD } set { SharedFields.unique(&box); box.fields.costUSD = newValue } }
    /// The first `logging.bodies.max_bytes` of the client's request and of the answer it got (a stream as relayed),
    /// when `logging.bodies` is enabled. Redacted by the request-log writer before they are stored.
    public var requestBody: String? { get { box.fields.requestBody } set { SharedFields.unique(&box); box.fields.requestBody = newValue } }
    public var responseBody: String? { get { box.fields.responseBody } set { SharedFields.unique(&box); box.fields.responseBody = newValue } }

    /// The public model that served the request (or was tried last): the fallback's when one answered, else the one
    /// asked for; nil when the gateway refused the request before trying any provider.
    public var served: String? { provider == nil ? nil : servedModel ?? model }
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
        box = SharedFields(Fields(id: id, startedAt: startedAt, keyName: keyName, keyID: keyID, team: team, endpoint: endpoint, model: model,
                         provider: provider, upstreamModel: upstreamModel, stream: stream, status: status, errorCode: errorCode,
                         attempts: attempts, routeReason: routeReason, routeRule: routeRule, servedModel: servedModel, hedged: hedged,
                         latencyMs: latencyMs, ttftMs: ttftMs, usage: usage, costUSD: costUSD))
    }

    public static func == (a: RequestRecord, b: RequestRecord) -> Bool { SharedFields.equal(a.box, b.box) }

    private struct Fields: Equatable {
        var id: String
        var startedAt: Double
        var keyName: String
        var keyID: String?
        var team: String?
        var staticScope: String? = nil
        var chargedScopes: [String] = []
        var endpoint: String
        var model: String
        var provider: String?
        var upstreamModel: String?
        var stream: Bool
        var status: Int
        var errorCode: String?
        var attempts: Int
        var routeReason: String?
        var routeRule: String?
        var servedModel: String?
        var hedged: Bool
        var latencyMs: Double
        var ttftMs: Double?
        var usage: Usage
        var costUSD: Double
        var requestBody: String? = nil
        var responseBody: String? = nil
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
