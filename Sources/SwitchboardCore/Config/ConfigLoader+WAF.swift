// ConfigLoader: the `waf:` section (who may reach the gateway at all, and key guessing).
import Yams

/// `waf:` — the edge, before any key is looked at: client networks allowed and denied, and per-address throttling of
/// failed authentication (key guessing).
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

    /// Whether anything is checked at all (else the edge adds nothing to a request).
    public var isActive: Bool { !allow.isEmpty || !deny.isEmpty || authFailures != nil || trustForwardedFor }

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
        guard let m = mapping(node, "waf", allowed: ["allow", "deny", "trust_forwarded_for", "auth_failures"]) else { return waf }
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
