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
            // A pattern that can match nothing would insert `[REDACTED]` between characters.
            let probe = "probe text, 123-456 x@y.z\nend"
            if (try? regex.wholeMatch(in: "")) != nil || probe.matches(of: regex).contains(where: { $0.range.isEmpty }) {
                return "the pattern matches the empty string"
            }
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
        // because the prefixes are not anchored to a word boundary on the left. Every repetition has an upper bound
        // and runs of one character class are possessive (`{m,n}+`): a client's body must not make the writer
        // backtrack over it quadratically (a 16 KiB run of letters).
        let secrets: [Regex<Substring>] = [
            #/(?:sk|pk|rk)-(?=[A-Za-z_\-]{0,255}+[0-9])[A-Za-z0-9_\-]{16,256}+/#,
            #/AKIA[0-9A-Z]{16}/#,
            #/AIza[0-9A-Za-z_\-]{35}/#,
            #/gh[pousr]_[A-Za-z0-9]{30,255}+/#,
            #/xox[abprs]-[A-Za-z0-9\-]{10,255}+/#,
            #/eyJ[A-Za-z0-9_\-]{8,512}+\.[A-Za-z0-9_\-]{8,4096}+\.[A-Za-z0-9_\-]{8,1024}+/#,
            #/(?i)bearer\s{1,8}+[A-Za-z0-9._~+\/=\-]{12,1024}+/#,
        ]
        // In a JSON body, a value right after an escape (`\n`, `\t`, …) has no word boundary before it: the patterns
        // below take such an escape as an optional first capture and give it back.
        let email = #/(\\[nrtbf])?[A-Za-z0-9._%+\-]{1,64}+@[A-Za-z0-9\-]{1,63}+(?:\.[A-Za-z0-9\-]{1,63}+){0,8}\.[A-Za-z]{2,24}/#
        /// Up to 23 digits: a card number followed by a CVV or an expiry date is still found (see `cardNumber`).
        let card = #/(?:(\\[nrtbf])|\b)([0-9](?:[ \-]?[0-9]){12,22})\b/#
        let ssn = #/(?:(\\[nrtbf])|\b)[0-9]{3}-[0-9]{2}-[0-9]{4}\b/#
        let phones: [Regex<(Substring, Substring?)>] = [
            #/(\\[nrtbf])?\+[0-9]{1,3}(?:[ .\-]?\(?[0-9]{1,4}\)?){2,5}\b/#,
            #/(\\[nrtbf])?\([0-9]{3}\)\s?[0-9]{3}[ .\-][0-9]{4}\b/#,
            #/(?:(\\[nrtbf])|\b)[0-9]{3}[ .\-][0-9]{3}[ .\-][0-9]{4}\b/#,
        ]
        let ipv4 = #/(?:(\\[nrtbf])|\b)(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\b/#

        init(kinds: [RedactionKind], patterns: [String]) {
            self.kinds = kinds
            custom = patterns.compactMap { try? Regex($0) }
        }

        public func redact(_ text: String) -> String { redact(text, skippingImpossible: true) }

        /// `skippingImpossible: false` runs every pattern (the reference the trigger scan is tested against).
        func redact(_ text: String, skippingImpossible: Bool) -> String {
            var text = text
            // Regexes cost milliseconds per 16 KiB; a linear scan tells which kinds can match at all (most bodies
            // hold none), so only those patterns run.
            let possible = skippingImpossible ? RedactionTriggers(text.utf8) : nil
            for kind in kinds where possible?.contains(kind) ?? true {
                switch kind {
                case .secret:
                    for pattern in secrets { text.replace(pattern, with: "[REDACTED:secret]") }
                case .email:
                    text.replace(email) { ($0.output.1 ?? "") + "[REDACTED:email]" }
                case .card:
                    text.replace(card) { m in
                        Redactor.cardNumber(m.output.2) ? (m.output.1 ?? "") + "[REDACTED:card]" : m.output.0
                    }
                case .ssn:
                    text.replace(ssn) { ($0.output.1 ?? "") + "[REDACTED:ssn]" }
                case .phone:
                    for pattern in phones { text.replace(pattern) { ($0.output.1 ?? "") + "[REDACTED:phone]" } }
                case .ip:
                    text.replace(ipv4) { ($0.output.1 ?? "") + "[REDACTED:ip]" }
                }
            }
            for pattern in custom { text.replace(pattern, with: "[REDACTED]") }
            return text
        }
    }

    /// Digits (with spaces or dashes between groups) that are a card number, or start or end with one at a group
    /// boundary: 13 to 19 digits passing the Luhn check (so `4111 1111 1111 1111 123`, a card and its CVV, is one).
    static func cardNumber(_ text: Substring) -> Bool {
        var digits: [Int] = []
        var boundaries: [Int] = []
        for c in text {
            if let d = c.wholeNumberValue { digits.append(d) } else if boundaries.last != digits.count { boundaries.append(digits.count) }
        }
        if luhn(digits[...]) { return true }
        for b in boundaries where luhn(digits[..<b]) || luhn(digits[b...]) { return true }
        return false
    }

    /// The Luhn checksum of the digits in `text` (13 to 19 of them).
    static func luhn(_ text: Substring) -> Bool { luhn(text.compactMap(\.wholeNumberValue)[...]) }

    static func luhn(_ digits: ArraySlice<Int>) -> Bool {
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

/// Which kinds of `Redactor` patterns can match a text at all: each is a necessary condition of its patterns,
/// checked in one pass over the bytes (a kind not in the set cannot match, so skipping its patterns changes nothing).
struct RedactionTriggers {
    private var kinds: Set<RedactionKind> = []

    func contains(_ kind: RedactionKind) -> Bool { kinds.contains(kind) }

    init(_ utf8: String.UTF8View) {
        var bytes = Array(utf8)
        bytes.append(0)      // a sentinel ends the last run
        // Runs of digits and the separators the number patterns allow: [0-9 space - . ( ) +].
        var digits = 0, separators = 0, dots = 0, dashes = 0, plus = false, paren = false
        func endRun(_ k: inout Set<RedactionKind>) {
            if digits >= 13 { k.insert(.card) }
            if digits >= 9 && dashes >= 2 { k.insert(.ssn) }
            if plus || paren || (digits >= 10 && separators >= 2) { k.insert(.phone) }
            if digits >= 4 && dots >= 3 { k.insert(.ip) }
            digits = 0; separators = 0; dots = 0; dashes = 0; plus = false; paren = false
        }
        var k: Set<RedactionKind> = []
        var i = 0
        let n = bytes.count - 1
        while i <= n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "+"):
                separators += 1
                if b == UInt8(ascii: ".") { dots += 1 }
                if b == UInt8(ascii: "-") { dashes += 1 }
                if b == UInt8(ascii: "+") && i + 1 < n && bytes[i + 1] >= UInt8(ascii: "0") && bytes[i + 1] <= UInt8(ascii: "9") { plus = true }
                if b == UInt8(ascii: "(") { paren = true }
            default:
                if digits > 0 || plus || paren { endRun(&k) } else { separators = 0; dots = 0; dashes = 0 }
                if b == UInt8(ascii: "@") { k.insert(.email) }
                if !k.contains(.secret) && Self.secretStarts(bytes, i) { k.insert(.secret) }
            }
            i += 1
        }
        kinds = k
    }

    /// Whether a secret pattern can start at `i`: `sk-`/`pk-`/`rk-`, `AKIA`, `AIza`, `gh?_`, `xox`, `eyJ`, `bearer`.
    private static func secretStarts(_ b: [UInt8], _ i: Int) -> Bool {
        func at(_ j: Int, _ text: StaticString) -> Bool {
            let m = text.utf8CodeUnitCount
            guard j + m < b.count else { return false }
            let p = text.utf8Start
            for k in 0..<m where b[j + k] != p[k] { return false }
            return true
        }
        switch b[i] {
        case UInt8(ascii: "s"), UInt8(ascii: "p"), UInt8(ascii: "r"): return at(i + 1, "k-")
        case UInt8(ascii: "A"): return at(i + 1, "KIA") || at(i + 1, "Iza")
        case UInt8(ascii: "g"): return i + 3 < b.count && b[i + 1] == UInt8(ascii: "h") && b[i + 3] == UInt8(ascii: "_")
        case UInt8(ascii: "x"): return at(i + 1, "ox")
        case UInt8(ascii: "e"): return at(i + 1, "yJ")
        case UInt8(ascii: "b"), UInt8(ascii: "B"):
            guard i + 6 < b.count else { return false }
            return zip(b[(i + 1)...(i + 5)], "earer".utf8).allSatisfy { $0 | 0x20 == $1 }
        default: return false
        }
    }
}
