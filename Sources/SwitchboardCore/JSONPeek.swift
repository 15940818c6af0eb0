import NIOCore

/// A validating single-pass JSON scanner that reports where selected top-level fields of an object are.
///
/// The gateway forwards request bodies as the original bytes; it only needs to know a handful of fields
/// (`model`, `stream`, …) and whether the document is well-formed. This scanner checks the whole document
/// against the JSON grammar (RFC 8259) without building any values, and records the byte range and kind of the
/// requested top-level keys so the caller can read them or splice a replacement in place.
public enum JSONPeek {
    public enum Kind: Sendable, Equatable {
        case object, array, string, number, bool, null

        public var name: String {
            switch self {
            case .object: "object"
            case .array: "array"
            case .string: "string"
            case .number: "number"
            case .bool: "boolean"
            case .null: "null"
            }
        }
    }

    /// A top-level value: its kind and its byte range (for strings, including the quotes).
    public struct Value: Sendable, Equatable {
        public var range: Range<Int>
        public var kind: Kind
        /// For an array found by `topLevel`: how many elements it has (counted by the scan itself).
        public var count = 0
    }

    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        /// The document nests deeper than the scan allowed (its only fault found so far).
        public var tooDeep = false
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Maximum nesting depth accepted; deeper documents are rejected rather than risking the stack.
    public static let maxDepth = 512

    /// Validates `bytes` as one JSON object and returns, for each of `keys`, the value found under that top-level key
    /// (or nil). Keys are matched on their raw bytes (escaped keys never match). A requested key that appears twice
    /// is an error: the gateway and an upstream could otherwise read different values (`model` twice). Strings must
    /// be valid UTF-8 with no lone surrogate escapes. Nesting is bounded by `maxDepth` (the object itself is level 1;
    /// at most `JSONPeek.maxDepth`).
    public static func topLevel(_ bytes: UnsafeRawBufferPointer, keys: [[UInt8]], maxDepth: Int = JSONPeek.maxDepth) throws(SyntaxError) -> [Value?] {
        var scanner = Scanner(bytes: bytes)
        scanner.maxDepth = min(maxDepth, JSONPeek.maxDepth)
        var found = [Value?](repeating: nil, count: keys.count)
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{") else {
            throw scanner.error(scanner.atEnd ? "the body is empty" : "expected a JSON object")
        }
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipWhitespace()
                guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a string key") }
                let keyStart = scanner.index + 1
                try scanner.scanString()
                let keyEnd = scanner.index - 1
                scanner.skipWhitespace()
                guard scanner.peek() == UInt8(ascii: ":") else { throw scanner.error("expected ':'") }
                scanner.index += 1
                scanner.skipWhitespace()
                let valueStart = scanner.index
                let kind = try scanner.scanValue(depth: 1)
                if let slot = match(bytes, keyStart..<keyEnd, keys) {
                    guard found[slot] == nil else {
                        throw SyntaxError(offset: keyStart - 1, reason: "duplicate key '\(String(decoding: keys[slot], as: UTF8.self))'")
                    }
                    found[slot] = Value(range: valueStart..<scanner.index, kind: kind, count: kind == .array ? scanner.lastArrayCount : 0)
                }
                scanner.skipWhitespace()
                switch scanner.peek() {
                case UInt8(ascii: ","): scanner.index += 1
                case UInt8(ascii: "}"): scanner.index += 1
                    scanner.skipWhitespace()
                    guard scanner.atEnd else { throw scanner.error("unexpected data after the JSON object") }
                    return found
                default: throw scanner.error("expected ',' or '}'")
                }
            }
        }
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.error("unexpected data after the JSON object") }
        return found
    }

    private static func match(_ bytes: UnsafeRawBufferPointer, _ key: Range<Int>, _ keys: [[UInt8]]) -> Int? {
        outer: for (slot, candidate) in keys.enumerated() where candidate.count == key.count {
            var i = key.lowerBound
            for b in candidate {
                if bytes[i] != b { continue outer }
                i += 1
            }
            return slot
        }
        return nil
    }

    /// The decoded text of a string value (handles every JSON escape); nil if `value` is not a string.
    public static func string(_ bytes: UnsafeRawBufferPointer, _ value: Value) -> String? {
        guard value.kind == .string else { return nil }
        let inner = (value.range.lowerBound + 1)..<(value.range.upperBound - 1)
        let raw = UnsafeRawBufferPointer(rebasing: bytes[inner])
        if !raw.contains(UInt8(ascii: "\\")) {
            return String(decoding: raw, as: UTF8.self)
        }
        return unescape(raw)
    }

    /// The value of a number that is a whole number in `Int` range (`12`, `-3`, `1.0e2`); nil otherwise.
    public static func integer(_ bytes: UnsafeRawBufferPointer, _ value: Value) -> Int? {
        guard value.kind == .number else { return nil }
        var result = 0
        var negative = false
        for i in value.range {
            let c = bytes[i]
            if c == UInt8(ascii: "-") { negative = true; continue }
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else {
                // A fraction or exponent: the slow path.
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[value.range]), as: UTF8.self)
                guard let d = Double(text), d == d.rounded(), abs(d) < 9e15 else { return nil }
                return Int(d)
            }
            let (m, o1) = result.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            result = a
        }
        return negative ? -result : result
    }

    /// `body` with each byte range replaced by its text (ranges relative to the readable bytes, not overlapping);
    /// the original buffer when there is nothing to replace.
    public static func splice(_ body: ByteBuffer, _ edits: [(range: Range<Int>, replacement: String)]) -> ByteBuffer {
        guard !edits.isEmpty else { return body }
        var out = ByteBufferAllocator().buffer(capacity: body.readableBytes + 64)
        var position = 0
        for edit in edits.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            if var part = body.getSlice(at: body.readerIndex + position, length: edit.range.lowerBound - position) {
                out.writeBuffer(&part)
            }
            out.writeString(edit.replacement)
            position = edit.range.upperBound
        }
        if var rest = body.getSlice(at: body.readerIndex + position, length: body.readableBytes - position) {
            out.writeBuffer(&rest)
        }
        return out
    }

    /// The bytes to cut to remove a top-level member whose value is `value` from its object: the key, the colon, the
    /// value and one neighbouring comma (the one before it, or after it when it is the first member). Nil when the
    /// bytes around the value are not a plain `"key": value` member.
    public static func memberRange(_ bytes: UnsafeRawBufferPointer, _ value: Value) -> Range<Int>? {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        var i = value.range.lowerBound - 1
        while i >= 0, isSpace(bytes[i]) { i -= 1 }
        guard i > 0, bytes[i] == UInt8(ascii: ":") else { return nil }
        i -= 1
        while i >= 0, isSpace(bytes[i]) { i -= 1 }
        guard i > 0, bytes[i] == UInt8(ascii: "\"") else { return nil }
        // The key's opening quote: the previous quote not escaped by a backslash.
        i -= 1
        while i >= 0, !(bytes[i] == UInt8(ascii: "\"") && (i == 0 || bytes[i - 1] != UInt8(ascii: "\\"))) { i -= 1 }
        guard i >= 0 else { return nil }
        let keyStart = i
        i -= 1
        while i >= 0, isSpace(bytes[i]) { i -= 1 }
        guard i >= 0 else { return nil }
        if bytes[i] == UInt8(ascii: ",") { return i..<value.range.upperBound }
        guard bytes[i] == UInt8(ascii: "{") else { return nil }
        // The first member: cut through the comma after it (if any) and the spaces that follow.
        var j = value.range.upperBound
        while j < bytes.count, isSpace(bytes[j]) { j += 1 }
        if j < bytes.count, bytes[j] == UInt8(ascii: ",") {
            j += 1
            while j < bytes.count, isSpace(bytes[j]) { j += 1 }
        }
        return keyStart..<j
    }

    /// True when the value is the literal `true`.
    public static func isTrue(_ bytes: UnsafeRawBufferPointer, _ value: Value) -> Bool {
        value.kind == .bool && bytes[value.range.lowerBound] == UInt8(ascii: "t")
    }

    /// True when the value is an array with no elements.
    public static func isEmptyArray(_ bytes: UnsafeRawBufferPointer, _ value: Value) -> Bool {
        guard value.kind == .array else { return false }
        for i in (value.range.lowerBound + 1)..<(value.range.upperBound - 1) where !isWhitespace(bytes[i]) {
            return false
        }
        return true
    }

    static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    private static func unescape(_ raw: UnsafeRawBufferPointer) -> String {
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                let c = raw[k]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\"), i + 1 < raw.count else { out.append(c); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(i) else { continue }
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"),
                   raw[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                let us = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(us).utf8))
            default: out.append(e)   // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
