/// What `logging.bodies.redact` can replace in logged bodies.
public enum RedactionKind: String, Sendable, CaseIterable {
    /// API keys and tokens: `sk-…`, `sk-ant-…`, AWS access key ids, Google API keys, GitHub and Slack tokens, JWTs,
    /// `Bearer …` credentials.
    case secret
    case email
    /// Payment card numbers (13–19 digits, spaces or dashes allowed) that pass the Luhn check.
    case card
    /// US social security numbers written `123-45-6789`.
    case ssn
    /// Telephone numbers: international (`+44 20 7946 0958`) or grouped (`(555) 123-4567`, `555-123-4567`).
    case phone
    /// IPv4 addresses.
    case ip
}

/// Replaces personal data and secrets in text kept in the request log. Each match becomes `[REDACTED:KIND]`
/// (`[REDACTED]` for the operator's own patterns). Kinds run in a fixed order — secrets first, so a token that
/// happens to contain digits is never half-taken for a phone number.
///
/// `Regex` is not `Sendable`, so a `Redactor` keeps only what to redact; `compiled()` makes the matchers for one
/// task's use (the request-log writer makes them once per batch).
public struct Redactor: Sendable {
    public let kinds: [RedactionKind]
    public let patterns: [String]

    /// `patterns` must be valid (see `invalidPattern`); an invalid one is ignored.
    public init(kinds: [RedactionKind], patterns: [String] = []) {
        self.kinds = RedactionKind.allCases.filter(kinds.contains)
        self.patterns = patterns
    }

    public init(_ config: BodyLogConfig) {
        self.init(kinds: config.redact, patterns: config.patterns)
    }

    /// Why `pattern` is not a usable regular expression, or nil when it is.
    public static func invalidPattern(_ pattern: String) -> String? {
        do {
            let regex = try Regex(pattern)
            if (try? regex.wholeMatch(in: "")) != nil { return "the pattern matches the empty string" }
            return nil
        } catch {
            return "not a valid regular expression: \(error)"
        }
    }

    public var isEmpty: Bool { kinds.isEmpty && patterns.isEmpty }

    public func redact(_ text: String) -> String { compiled().redact(text) }

    public func compiled() -> Compiled { Compiled(kinds: kinds, patterns: patterns) }

    /// The matchers, for use by one task.
    public struct Compiled {
        let kinds: [RedactionKind]
        let custom: [Regex<AnyRegexOutput>]
        // The patterns avoid look-behind (not supported); a key inside a JSON escape such as `\nsk-…` is still found
        // because the prefixes are not anchored to a word boundary on the left. Every repetition has an upper bound:
        // a client's body must not make the writer backtrack over it quadratically (a 16 KiB run of letters).
        let secrets: [Regex<Substring>] = [
            #/(?:sk|pk|rk)-(?=[A-Za-z0-9_\-]{0,255}[0-9])[A-Za-z0-9_\-]{16,256}/#,
            #/AKIA[0-9A-Z]{16}/#,
            #/AIza[0-9A-Za-z_\-]{35}/#,
            #/gh[pousr]_[A-Za-z0-9]{30,255}/#,
            #/xox[abprs]-[A-Za-z0-9\-]{10,255}/#,
            #/eyJ[A-Za-z0-9_\-]{8,2048}\.[A-Za-z0-9_\-]{8,4096}\.[A-Za-z0-9_\-]{8,1024}/#,
            #/(?i)bearer\s{1,8}[A-Za-z0-9._~+\/=\-]{12,1024}/#,
        ]
        let email = #/[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}/#
        let card = #/\b[0-9](?:[ \-]?[0-9]){12,18}\b/#
        let ssn = #/\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b/#
        let phones: [Regex<Substring>] = [
            #/\+[0-9]{1,3}(?:[ .\-]?\(?[0-9]{1,4}\)?){2,5}\b/#,
            #/(?:\([0-9]{3}\)\s?|\b[0-9]{3}[ .\-])[0-9]{3}[ .\-][0-9]{4}\b/#,
        ]
        let ipv4 = #/\b(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\b/#

        init(kinds: [RedactionKind], patterns: [String]) {
            self.kinds = kinds
            custom = patterns.compactMap { try? Regex($0) }
        }

        public func redact(_ text: String) -> String {
            var text = text
            for kind in kinds {
                switch kind {
                case .secret:
                    for pattern in secrets { text.replace(pattern, with: "[REDACTED:secret]") }
                case .email:
                    text.replace(email, with: "[REDACTED:email]")
                case .card:
                    text.replace(card) { match in Redactor.luhn(match.output) ? "[REDACTED:card]" : match.output }
                case .ssn:
                    text.replace(ssn, with: "[REDACTED:ssn]")
                case .phone:
                    for pattern in phones { text.replace(pattern, with: "[REDACTED:phone]") }
                case .ip:
                    text.replace(ipv4, with: "[REDACTED:ip]")
                }
            }
            for pattern in custom { text.replace(pattern, with: "[REDACTED]") }
            return text
        }
    }

    /// The Luhn checksum of the digits in `text` (13 to 19 of them).
    static func luhn(_ text: Substring) -> Bool {
        let digits = text.compactMap(\.wholeNumberValue)
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (i, d) in digits.reversed().enumerated() {
            if i % 2 == 1 {
                let x = d * 2
                sum += x > 9 ? x - 9 : x
            } else {
                sum += d
            }
        }
        return sum % 10 == 0
    }
}
