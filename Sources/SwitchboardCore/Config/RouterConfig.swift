// The `router:` section: which model a request should use, decided before routing decides which deployment.
import Foundation

/// `router:` — virtual model names (such as `auto`) and the rules that turn a request into a model, a tier list or
/// the cheapest capable of a set of models. Rules are tried in order; the first whose conditions all hold decides.
public struct RouterConfig: Sendable {
    /// `models`: names clients may ask for that are not models of their own; a rule must route them.
    public var virtualModels: [String] = []
    /// `rules`, in the order they are tried.
    public var rules: [RouteRule] = []
    /// `region_header`: a request header, set by a trusted proxy, naming the client's region (rules' `region`).
    public var regionHeader: String?
    /// `expected_output_tokens`: output assumed for a request without `max_tokens` when comparing costs; default 256.
    public var expectedOutputTokens = 256
    /// `classifier`: a difficulty model file to use instead of the built-in one.
    public var classifierFile: String?
    /// `pricing`: a price list refreshed on a schedule.
    public var pricing: PricingSource?
    /// `geoip`: the client's region from its IP address, when no `region_header` says it.
    public var geoip: GeoIPConfig?

    public init() {}

    /// Whether any rule needs the request's text (content, language or difficulty): only then is the body decoded.
    public var needsText: Bool { rules.contains { $0.when.needsText } }
}

/// One entry of `router.rules`.
public struct RouteRule: Sendable {
    /// `name`: shown in `x-switchboard-route`, the request log and the analytics.
    public var name: String
    /// `when`: every condition must hold (none: the rule matches every request).
    public var when: RuleConditions
    /// `route`: where a matching request goes.
    public var route: RouteTarget
    /// `route.escalate` (tier lists): when to go on to the next tier although the current one answered.
    public var escalate: Escalation?

    public init(name: String, when: RuleConditions = .init(), route: RouteTarget, escalate: Escalation? = nil) {
        self.name = name
        self.when = when
        self.route = route
        self.escalate = escalate
    }
}

/// `route.escalate:` — a tier list's reasons to skip a tier, or to try the next one after an answer (non-streamed
/// answers only: a stream has reached the client as it came).
public struct Escalation: Sendable {
    /// `invalid_json`: JSON was asked for (`response_format`) and the answer's text does not parse.
    public var invalidJSON = false
    /// `unless_match`: the answer's text must match this expression.
    public var unlessMatch: TextPattern?
    /// `uncertain`: a difficulty score in this band starts at the second tier.
    public var uncertain: ClosedRange<Double>?

    public init() {}

    /// Whether an answer is checked at all.
    public var checksAnswers: Bool { invalidJSON || unlessMatch != nil }
}

/// `review` in a tier list: a person decides (held for review). Only as the last tier.
public let reviewTier = "review"

/// Where a rule sends a request.
public enum RouteTarget: Sendable, Equatable {
    /// `model`: this model (its own fallbacks apply).
    case model(String)
    /// `tiers`: the first tier that can serve the request; later tiers are its escalation when it fails.
    case tiers([String])
    /// `cheapest`: of these models, the one with the lowest expected cost that can serve the request; the others,
    /// cheapest first, are its fallbacks.
    case cheapest([String])

    public var models: [String] {
        switch self {
        case .model(let m): [m]
        case .tiers(let ms), .cheapest(let ms): ms
        }
    }

    public var kind: String {
        switch self {
        case .model: "model"
        case .tiers: "tiers"
        case .cheapest: "cheapest"
        }
    }
}

/// A rule's conditions. Lists match when any entry matches; a nil condition is not checked.
public struct RuleConditions: Sendable {
    /// `model`: the model the client asked for (exact names or globs such as `gpt-4*`).
    public var models: [String]?
    /// `key`: the key's name (globs).
    public var keys: [String]?
    /// `team`: the key's team (globs).
    public var teams: [String]?
    /// `metadata`: the key's (and its team's) metadata must have these values (trusted: set by an admin).
    public var metadata: [String: String]?
    /// `request_metadata`: the body's `metadata` object must have these values (set by the client).
    public var requestMetadata: [String: String]?
    /// `tags`: one of these in the `x-switchboard-tags` header (comma-separated) or the key's `tags` metadata.
    public var tags: [String]?
    /// `headers`: each named request header must be present and match its regular expression.
    public var headers: [(name: String, pattern: TextPattern)]?
    /// `prompt_tokens`: the estimated prompt size.
    public var promptTokens: ClosedRange<Int>?
    /// `tools`, `images`, `json`, `stream`: whether the request has tools, images, asks for JSON, streams.
    public var tools: Bool?
    public var images: Bool?
    public var json: Bool?
    public var stream: Bool?
    /// `content`: the text of the last user turn (or of every turn).
    public var content: ContentCondition?
    /// `language`: the detected language of the last user turn (ISO 639-1 codes).
    public var languages: [String]?
    /// `difficulty: {min, max}`: the classifier's score of the last user turn (higher = harder).
    public var difficulty: ClosedRange<Double>?
    /// `difficulty: {quality: Q}`: hard enough that the strong model is needed to keep Q of strong-only quality (the
    /// classifier's calibrated threshold for Q).
    public var difficultyQuality: Double?
    /// `region`: the client's region (from `router.region_header`).
    public var regions: [String]?

    public init() {}

    /// True when nothing is checked: the rule matches every request.
    public var isCatchAll: Bool {
        models == nil && keys == nil && teams == nil && metadata == nil && requestMetadata == nil && tags == nil && headers == nil
            && promptTokens == nil && tools == nil && images == nil && json == nil && stream == nil && content == nil
            && languages == nil && difficulty == nil && difficultyQuality == nil && regions == nil
    }

    public var needsText: Bool { content != nil || languages != nil || difficulty != nil || difficultyQuality != nil }
}

/// `content:` — regular expressions and keyword lists over the request's text.
public struct ContentCondition: Sendable {
    public enum Scope: String, Sendable, CaseIterable {
        case lastUser = "last_user", all
    }
    /// `regex`: matches when any expression is found.
    public var patterns: [TextPattern] = []
    /// `keywords`: matches when any keyword occurs as a whole word or phrase (case-insensitive).
    public var keywords: [String] = []
    /// `in`: `last_user` (default) or `all` turns (system prompt included).
    public var scope: Scope = .lastUser

    public init() {}
}

/// A compiled regular expression (case-sensitive unless written with `(?i)`), with its source for messages.
public struct TextPattern: Sendable {
    public let source: String
    public let regex: NSRegularExpression

    /// Nil when `source` is not a valid expression.
    public init?(_ source: String) {
        guard let regex = try? NSRegularExpression(pattern: source) else { return nil }
        self.source = source
        self.regex = regex
    }

    public func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

/// `router.pricing:` — where live prices come from: a URL answering in OpenRouter's `/api/v1/models` format.
public struct PricingSource: Sendable, Equatable {
    public var url: String
    /// `refresh_s`: how often it is read; default 3600.
    public var refreshSeconds: Double = 3600
    /// `timeout_s`: the longest one read may take; default 10.
    public var timeoutSeconds: Double = 10
    /// `headers`: sent with every read (values may be `env:NAME`).
    public var headers: [String: String] = [:]

    public init(url: String) { self.url = url }
}

/// `router.geoip:` — a MaxMind DB file (`.mmdb`) that gives the client's region from its IP address.
public struct GeoIPConfig: Sendable, Equatable {
    /// `database`: the file's path.
    public var database: String
    /// `field`: the record's field that is the region, as a dotted path; default `country.iso_code`.
    public var field = "country.iso_code"
    /// `trust_forwarded_for`: take the client's address from `X-Forwarded-For`'s first entry (behind a trusted proxy).
    public var trustForwardedFor = false

    public init(database: String) { self.database = database }
}
