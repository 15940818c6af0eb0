/// A kind of personal data or secret the privacy guardrail finds. Custom kinds come from the configuration's
/// `patterns` (their names); the built-in ones are listed in `builtIn`.
public struct PIIKind: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// The placeholder label: `EMAIL`, `CARD`, a custom kind's name in capitals.
    public let label: String

    public init(_ name: String) {
        self.name = name
        label = String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    public static func == (a: PIIKind, b: PIIKind) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
    public var description: String { name }

    public static let email = PIIKind("email")
    /// International (`+44 20 7946 0958`) and grouped national numbers (`(555) 123-4567`, `020 7946 0958`).
    public static let phone = PIIKind("phone")
    /// 13–19 digits (spaces or dashes between groups allowed) that pass the Luhn check.
    public static let card = PIIKind("card")
    /// International bank account numbers whose mod-97 checksum holds (spaces every four characters allowed).
    public static let iban = PIIKind("iban")
    /// US social security numbers written `123-45-6789` (areas 000, 666 and 900–999 are never issued).
    public static let ssn = PIIKind("ssn")
    /// IPv4 and IPv6 addresses.
    public static let ip = PIIKind("ip")
    /// API keys and tokens (`sk-…`, AWS, Google, GitHub, Slack, JWTs, `Bearer …`) and PEM private keys.
    public static let secret = PIIKind("secret")
    /// A name from the configured list, matched as whole words regardless of ASCII case.
    public static let name = PIIKind("name")

    /// Every built-in kind, in the order overlapping finds are settled (an earlier kind wins).
    public static let builtIn: [PIIKind] = [.secret, .email, .iban, .card, .ssn, .ip, .phone, .name]

}

/// One find: where (UTF-8 offsets into the text) and what.
public struct PIISpan: Equatable, Sendable {
    public var range: Range<Int>
    public var kind: PIIKind
}

/// Finds personal data and secrets in text with linear scans over its UTF-8 bytes (no regular expressions, except
/// the operator's own `patterns`): a 2 KB prompt costs microseconds, and no input can make it backtrack.
public struct PIIScanner: Sendable {
    public let kinds: Set<PIIKind>
    /// Names to find (`kinds` must contain `.name`), as lower-cased ASCII bytes.
    let names: [[UInt8]]
    /// The indices of `names` by their first byte (256 entries).
    let namesByFirst: [[Int]]
    /// Whether each of `PIIKind.builtIn` is looked for.
    let enabled: [Bool]
    /// The operator's patterns: (kind, regular expression). Valid ones only (see `Redactor.invalidPattern`).
    public let patterns: [(kind: PIIKind, regex: String)]

    public init(kinds: Set<PIIKind> = Set(PIIKind.builtIn), names: [String] = [], patterns: [(kind: PIIKind, regex: String)] = []) {
        self.kinds = kinds
        let names = names.map { Array($0.utf8).map(PIIBytes.lower) }.filter { !$0.isEmpty }
        self.names = names
        var byFirst = [[Int]](repeating: [], count: 256)
        for (n, name) in names.enumerated() { byFirst[Int(name[0])].append(n) }
        namesByFirst = byFirst
        self.patterns = patterns
        enabled = PIIKind.builtIn.map(kinds.contains)
    }

    /// The finds in `text`, in order, not overlapping (where two would overlap, the kind earlier in `builtIn` wins;
    /// the operator's patterns come last).
    public func scan(_ text: String) -> [PIISpan] {
        var spans: [PIISpan] = []
        var utf8 = Array(text.utf8)
        utf8.withUnsafeMutableBufferPointer { buffer in
            let b = UnsafeBufferPointer(buffer)
            // What a text cannot hold is not looked for: no `@`, no address; no digit, no number of any kind.
            var hasAt = false, hasColon = false
            for c in b {
                if c == 0x40 { hasAt = true } else if c == 0x3A { hasColon = true }
            }
            let digits = PIIBytes.digitStarts(b)
            let hasDigit = !digits.isEmpty
            // By position in `builtIn` (no string comparisons on the request path): secret, email, iban, card, ssn,
            // ip, phone, name.
            for index in PIIKind.builtIn.indices where enabled[index] {
                if index == 1, !hasAt { continue }
                if index == 2 || index == 3 || index == 4 || index == 6, !hasDigit { continue }
                if index == 5, !hasDigit, !hasColon { continue }
                // What an earlier (higher-priority) kind took is blanked out for the later ones: no find of theirs
                // starts inside it or runs across it.
                let before = spans.count
                defer { for span in spans[before...] { for i in span.range { buffer[i] = 0x01 } } }
                switch index {
                case 0: PIIBytes.secrets(b, &spans)
                case 1: PIIBytes.emails(b, &spans)
                case 2: PIIBytes.ibans(b, digits: digits, &spans)
                case 3: PIIBytes.cards(b, starts: digits, &spans)
                case 4: PIIBytes.ssns(b, starts: digits, &spans)
                case 5: PIIBytes.ips(b, v6: hasColon, starts: digits, &spans)
                case 6: PIIBytes.phones(b, starts: digits, &spans)
                default: PIIBytes.names(b, names, byFirst: namesByFirst, &spans)
                }
            }
        }
        for (kind, pattern) in patterns {
            guard let regex = try? Regex(pattern) else { continue }
            for match in text.matches(of: regex) where !match.range.isEmpty {
                let start = text.utf8.distance(from: text.startIndex, to: match.range.lowerBound)
                let end = text.utf8.distance(from: text.startIndex, to: match.range.upperBound)
                spans.append(PIISpan(range: start..<end, kind: kind))
            }
        }
        return Self.settle(spans, length: utf8.count)
    }

    /// Orders the finds and drops those overlapping an earlier-found (higher-priority) one, in linear time.
    static func settle(_ spans: [PIISpan], length: Int) -> [PIISpan] {
        guard spans.count > 1 else { return spans }
        var taken = [Bool](repeating: false, count: length)
        var kept: [PIISpan] = []
        for span in spans where !taken[span.range].contains(true) {
            for i in span.range { taken[i] = true }
            kept.append(span)
        }
        return kept.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }
}
