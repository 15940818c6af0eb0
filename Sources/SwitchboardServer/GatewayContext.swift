import Hummingbird
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardRouting

/// Per-request state, typed: the request id and, once authenticated, who is calling.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `x-request-id`: the client's when it sent a sane one, else generated.
    public var requestID: String = ""
    /// Set by `AuthMiddleware`. Kept behind a reference: the context is copied into every async frame of the
    /// request's path (middleware, routes), and those frames stay allocated on the connection's task for as long as
    /// it lives; an `Identity` inline (~370 bytes) made each copy ~450 bytes.
    public var identity: Identity? {
        get { identityBox?.identity }
        set { identityBox = newValue.map(IdentityBox.init) }
    }
    private var identityBox: IdentityBox?
    /// The client's connection, to notice when it goes away (nil in-process, where no connection is guarded).
    var connection: ClientConnection?
    /// The client's channel, for its address (read only when something asks: GeoIP, the WAF).
    private let channel: any Channel
    /// The client's address as a trusted proxy gave it (`waf.trust_forwarded_for`).
    var forwardedAddress: String?
    /// The client's IP address: the forwarded one when trusted, else the peer's (nil in-process).
    var clientAddress: String? { forwardedAddress ?? channel.remoteAddress?.ipAddress }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        connection = ClientConnection.of(source.channel)
    }
}

/// An authenticated caller.
public struct Identity: Sendable, Equatable {
    /// The key's name (safe to log and record), never the key.
    public var name: String
    /// Public model names or globs (`*`, `?`) this caller may use; empty means every model.
    public var allowedModels: [String]
    /// Authenticated with the master key: every role, every model, no limits.
    public var isMaster: Bool
    /// The managed key's id (nil for the master key and keys from the configuration).
    public var keyID: String?
    /// A key from the configuration's scope for limits and spend, `static:NAME` (nil for every other key).
    public var staticScope: String?
    public var roles: [Role]
    public var priority: PriorityClass
    public var region: String?
    public var limits: Limits
    /// The managed key's team, its model list and limits.
    public var team: String?
    public var teamModels: [String]
    public var teamLimits: Limits
    /// The key's metadata over its team's (routing rules may match on it).
    public var metadata: [String: String] = [:]
    /// Provider preferences for requests that bring none: the key's, else its team's.
    public var providerDefaults: ProviderPreferences?
    /// The team's regions (comma-separated globs), held to as well as the key's own `region`.
    public var teamRegion: String?
    /// The key's `max_price_usd`: the most one request may be expected to cost.
    public var maxPriceUSD: Double?
    /// The key's `allowed_ips`: the networks it may be used from (empty: any).
    public var allowedIPs: [CIDR] = []

    public init(name: String, allowedModels: [String] = [], isMaster: Bool = false, keyID: String? = nil, roles: [Role] = [.user],
                priority: PriorityClass = .standard, region: String? = nil, limits: Limits = .init(), team: String? = nil,
                teamModels: [String] = [], teamLimits: Limits = .init()) {
        self.name = name
        self.allowedModels = allowedModels
        self.isMaster = isMaster
        self.keyID = keyID
        self.roles = roles
        self.priority = priority
        self.region = region
        self.limits = limits
        self.team = team
        self.teamModels = teamModels
        self.teamLimits = teamLimits
    }

    /// The identity of a managed key (and its team, if any).
    public init(key: KeyRecord, team: TeamRecord?) {
        self.init(name: key.name, allowedModels: key.models, keyID: key.id, roles: key.roles, priority: key.priority, region: key.region,
                  limits: key.limits, team: key.team, teamModels: team?.models ?? [], teamLimits: team?.limits ?? .init())
        metadata = (team?.metadata ?? [:]).merging(key.metadata) { _, own in own }
        providerDefaults = key.provider ?? team?.provider
        teamRegion = team?.region
        maxPriceUSD = key.maxPriceUSD
        allowedIPs = key.allowedIPs.compactMap(CIDR.init)
    }

    /// Whether both the key's and its team's model lists allow `model`.
    public func allows(model: String) -> Bool {
        (allowedModels.isEmpty || allowedModels.contains { globMatch($0, model) })
            && (teamModels.isEmpty || teamModels.contains { globMatch($0, model) })
    }

    public func has(_ role: Role) -> Bool { isMaster || roles.contains(role) }

    /// The limits a request for `model` must fit: the key's, the key's for that model, the team's, the team's for
    /// that model (those that are set).
    public func admissionChecks(model: String) -> [AdmissionCheck] {
        var checks: [AdmissionCheck] = []
        func add(_ scope: String, _ l: Limits) {
            if !l.rates.isUnlimited || !l.budgets.isEmpty { checks.append(AdmissionCheck(scope: scope, rates: l.rates, budgets: l.budgets)) }
            if let m = l.models[model], !m.isUnlimited { checks.append(AdmissionCheck(scope: scope + "/model:" + model, rates: m)) }
        }
        if let keyID { add("key:" + keyID, limits) } else if let staticScope { add(staticScope, limits) }
        if let team { add("team:" + team, teamLimits) }
        return checks
    }

    /// A scope of `admissionChecks` in words, for error messages.
    public func describe(scope: String) -> String {
        let parts = scope.split(separator: "/model:", maxSplits: 1)
        let base = parts[0].hasPrefix("team:") ? "team '\(team ?? "")'" : "key '\(name)'"
        return parts.count > 1 ? "\(base) on model '\(parts[1])'" : base
    }
}

/// An identity on the heap, shared by the copies of a request's context.
final class IdentityBox: Sendable {
    let identity: Identity
    init(_ identity: Identity) { self.identity = identity }
}
