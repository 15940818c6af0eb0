// ConfigLoader: the `waf:` section (who may reach the gateway at all, key guessing, the size and pace of requests).
import Yams

/// `waf:` — the edge, before any key is looked at: client networks allowed and denied, per-address throttling of
/// failed authentication (key guessing), limits on headers and bodies, and how long a client may take to send a
/// request. Every limit is off unless configured (the server's own fixed bounds still hold).
public struct WAFConfig: Sendable, Equatable {
    /// `allow`: when set, only clients in these networks.
    public var allow: [CIDR] = []
    /// `deny`: never clients in these networks.
    public var deny: [CIDR] = []
    /// `trust_forwarded_for`: the client's address is `X-Forwarded-For`'s first entry (behind a trusted proxy).
    public var trustForwardedFor = false
    /// `auth_failures`: after `max` failed authentications within `window_s`, an address is refused for `block_s`
    /// (off unless configured: behind a proxy that is not trusted, every client shares its address).
    public var authFailures: AuthFailures?
    /// `max_header_bytes`: header names and values of one request, in bytes (at most the HTTP decoder's
    /// `maxHeaderBytesLimit`, which refuses larger heads itself); past it 431 `headers_too_large`.
    public var maxHeaderBytes: Int?
    /// `max_headers`: header fields of one request (at most `maxHeadersLimit`); past it 431 `headers_too_large`.
    public var maxHeaders: Int?
    /// `max_json_depth`, `max_messages`, `max_content_bytes`: what a model request's body may hold.
    public var body = RequestLimits()
    /// `client_timeout_s`: a request's head and body must have arrived within this many seconds of its first byte
    /// (Slowloris); past it 408 `request_timeout` and the connection is closed. `server.request_timeout_s` still
    /// bounds the body alone.
    public var clientTimeoutSeconds: Double?

    /// The HTTP decoder's own bounds on a request head (Hummingbird's defaults), past which it answers 400 itself.
    public static let maxHeaderBytesLimit = 80 * 1024
    public static let maxHeadersLimit = 1000

    /// Whether the edge middleware has anything to do (else it adds nothing to a request; `client_timeout_s` is the
    /// connection's business).
    public var isActive: Bool {
        !allow.isEmpty || !deny.isEmpty || authFailures != nil || trustForwardedFor || maxHeaderBytes != nil || maxHeaders != nil || body.isActive
    }

    public struct AuthFailures: Sendable, Equatable {
        public var max = 20
        public var windowSeconds = 60.0
        public var blockSeconds = 300.0
        public init() {}
    }

    public init() {}
}

extension Walker {
    mutating func wafConfig(_ node: Node) -> WAFConfig {
        var waf = WAFConfig()
        guard let m = mapping(node, "waf", allowed: ["allow", "deny", "trust_forwarded_for", "auth_failures", "max_header_bytes", "max_headers",
                                                     "max_json_depth", "max_messages", "max_content_bytes", "client_timeout_s"]) else { return waf }
        waf.allow = networks(m, "allow")
        waf.deny = networks(m, "deny")
        waf.trustForwardedFor = bool(m, "trust_forwarded_for", "waf") ?? false
        if let node = m["auth_failures"], let a = mapping(node, "waf.auth_failures", allowed: ["max", "window_s", "block_s"]) {
            var limits = WAFConfig.AuthFailures()
            if let v = int(a, "max", "waf.auth_failures", range: 1...1_000_000) { limits.max = v }
            if let v = number(a, "window_s", "waf.auth_failures", range: 1...86_400) { limits.windowSeconds = v }
            if let v = number(a, "block_s", "waf.auth_failures", range: 1...604_800) { limits.blockSeconds = v }
            waf.authFailures = limits
        }
        waf.maxHeaderBytes = int(m, "max_header_bytes", "waf", range: 256...WAFConfig.maxHeaderBytesLimit)
        waf.maxHeaders = int(m, "max_headers", "waf", range: 1...WAFConfig.maxHeadersLimit)
        // Level 1 is the body's object, level 2 its `messages`: a limit below 2 would refuse every request.
        waf.body.maxJSONDepth = int(m, "max_json_depth", "waf", range: 2...JSONPeek.maxDepth)
        waf.body.maxMessages = int(m, "max_messages", "waf", range: 1...1_000_000)
        waf.body.maxContentBytes = int(m, "max_content_bytes", "waf", range: 1...(1 << 30))
        waf.clientTimeoutSeconds = number(m, "client_timeout_s", "waf", range: 0.001...3600)
        return waf
    }

    private mutating func networks(_ m: [String: Node], _ key: String) -> [CIDR] {
        (stringList(m, key, "waf", what: "an address or network such as 10.0.0.0/8") ?? []).enumerated().compactMap { i, text in
            guard let cidr = CIDR(text) else {
                problem("waf.\(key)[\(i)]", "\"\(text)\" is not an IP address or network (such as 10.0.0.0/8 or 2001:db8::/32)")
                return nil
            }
            return cidr
        }
    }
}
