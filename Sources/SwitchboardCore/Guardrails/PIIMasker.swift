/// What the privacy guardrail does with personal data it finds in a request.
public enum PIIAction: String, Sendable, CaseIterable {
    /// Refuse the request (400 `pii_detected`, naming the kinds found, never the values).
    case block
    /// Replace each value with its kind's placeholder (`[EMAIL]`); the answer keeps the placeholders.
    case redact
    /// Replace each value with a numbered placeholder (`[EMAIL_1]`; the same value gets the same one throughout the
    /// request) and put the values back into the answer before the client sees it.
    case pseudonymise
}

/// Masks what a scanner finds in one request's texts, and remembers each placeholder's value (for `pseudonymise`).
/// One per request: the numbering is consistent across all the texts of a request.
public struct PIIMasker: Sendable {
    public let scanner: PIIScanner
    public let action: PIIAction
    /// How many values of each kind were found.
    public private(set) var found: [PIIKind: Int] = [:]
    /// Placeholder → the value it stands for (`pseudonymise` only).
    public private(set) var originals: [String: String] = [:]
    private var assigned: [PIIKind: [String: String]] = [:]

    public init(scanner: PIIScanner, action: PIIAction) {
        self.scanner = scanner
        self.action = action
    }

    /// The kinds found so far, sorted by name.
    public var kindsFound: [String] { found.keys.map(\.name).sorted() }

    /// `text` with what the scanner finds replaced by placeholders; nil when nothing was found (or, for `block`,
    /// whatever was found: `found` says what).
    public mutating func mask(_ text: String) -> String? {
        let spans = scanner.scan(text)
        guard !spans.isEmpty else { return nil }
        for span in spans { found[span.kind, default: 0] += 1 }
        guard action != .block else { return nil }
        var text = text
        text.makeContiguousUTF8()
        return text.utf8.withContiguousStorageIfAvailable { bytes in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16 * spans.count)
            var position = 0
            for span in spans {
                out.append(contentsOf: bytes[position..<span.range.lowerBound])
                out.append(contentsOf: placeholder(for: span.kind, String(decoding: bytes[span.range], as: UTF8.self)).utf8)
                position = span.range.upperBound
            }
            out.append(contentsOf: bytes[position...])
            return String(decoding: out, as: UTF8.self)
        }
    }

    private mutating func placeholder(for kind: PIIKind, _ value: String) -> String {
        guard action == .pseudonymise else { return "[\(kind.label)]" }
        if let known = assigned[kind]?[value] { return known }
        let number = (assigned[kind]?.count ?? 0) + 1
        let placeholder = "[\(kind.label)_\(number)]"
        assigned[kind, default: [:]][value] = placeholder
        originals[placeholder] = value
        return placeholder
    }
}

/// Puts pseudonymised values back into an answer: whole, or as a stream of text pieces in which a placeholder may be
/// split anywhere (the end of a piece that could be the start of a placeholder is held until the next piece shows
/// what it is). Pieces are kept apart by channel (a choice, a content block).
public struct PlaceholderRestorer: Sendable {
    let originals: [String: String]
    /// Every proper prefix of every placeholder.
    let prefixes: Set<String>
    let longest: Int
    private var held: [Int: String] = [:]

    public init(originals: [String: String]) {
        self.originals = originals
        var prefixes = Set<String>()
        for placeholder in originals.keys {
            var prefix = ""
            for c in placeholder.dropLast() {
                prefix.append(c)
                prefixes.insert(prefix)
            }
        }
        self.prefixes = prefixes
        longest = originals.keys.map(\.utf8.count).max() ?? 0
    }

    public var isEmpty: Bool { originals.isEmpty }
    /// Whether any channel holds text not yet sent.
    public var holding: Bool { held.values.contains { !$0.isEmpty } }
    public var heldChannels: [Int] { held.filter { !$0.value.isEmpty }.keys.sorted() }

    /// `text` with every complete placeholder replaced by its value (`json`: `text` is a fragment of JSON, such as
    /// streamed tool arguments, and the values go in JSON-escaped).
    public func restore(_ text: String, json: Bool = false) -> String {
        guard !originals.isEmpty, text.utf8.contains(0x5B) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5B, let close = bytes[i..<min(bytes.count, i + longest)].firstIndex(of: 0x5D),
               let value = originals[String(decoding: bytes[i...close], as: UTF8.self)] {
                out.append(contentsOf: (json ? String(JSONString.quote(value).dropFirst().dropLast()) : value).utf8)
                i = close + 1
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The next piece of a streamed text on `channel`: what can be sent now, restored. Its end is held back when it
    /// could be the start of a placeholder.
    public mutating func feed(_ text: String, channel: Int = 0, json: Bool = false) -> String {
        let whole = (held.removeValue(forKey: channel) ?? "") + text
        guard let open = whole.lastIndex(of: "[") else { return whole }
        let tail = String(whole[open...])
        guard tail.utf8.count < longest, prefixes.contains(tail) else { return restore(whole, json: json) }
        held[channel] = tail
        return restore(String(whole[..<open]), json: json)
    }

    /// The text held on `channel`, as it is (the stream ended there: it was not a placeholder).
    public mutating func flush(channel: Int = 0) -> String {
        held.removeValue(forKey: channel) ?? ""
    }
}
