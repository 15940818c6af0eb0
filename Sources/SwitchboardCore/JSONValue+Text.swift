import Foundation

/// Reading and writing `JSONValue` as text in one pass each, with nesting bounded by `JSONPeek.maxDepth`.
///
/// Every client body a translator rewrites goes through here, so the cost must be linear in the body whatever its
/// shape: Foundation's `JSONDecoder`, driven through `JSONValue`'s `Decodable` conformance (which tries each type in
/// turn), took seconds of CPU on a 3 KB body nested 500 deep.
extension JSONValue {
    /// Parses a document; nil when it is not valid JSON (or nests deeper than `JSONPeek.maxDepth`).
    public static func parse(_ data: Data) -> JSONValue? {
        data.withUnsafeBytes { parse($0) }
    }

    /// Parses a document from its bytes; nil when it is not valid JSON.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        return reader.index == bytes.count ? value : nil
    }

    /// Compact JSON text with sorted keys (stable output for tests and caches).
    public var jsonText: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? Self.format(d) : "null"
        case .string(let s): out += JSONString.quote(s)
        case .array(let a):
            out += "["
            for (i, element) in a.enumerated() {
                if i > 0 { out += "," }
                element.write(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += JSONString.quote(key)
                out += ":"
                o[key]!.write(into: &out)
            }
            out += "}"
        }
    }

    /// A double as JSON: integral values without a fraction, others in Swift's shortest round-tripping form.
    private static func format(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        mutating func skipWhitespace() {
            while index < bytes.count, JSONPeek.isWhitespace(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        mutating func object(depth: Int) -> JSONValue? {
            guard depth <= JSONPeek.maxDepth else { return nil }
            index += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                skipWhitespace()
                guard let v = value(depth: depth) else { return nil }
                members[key] = v
                skipWhitespace()
                guard index < bytes.count else { return nil }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return .object(members)
                default: return nil
                }
            }
        }

        mutating func array(depth: Int) -> JSONValue? {
            guard depth <= JSONPeek.maxDepth else { return nil }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                guard let v = value(depth: depth) else { return nil }
                elements.append(v)
                skipWhitespace()
                guard index < bytes.count else { return nil }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return .array(elements)
                default: return nil
                }
            }
        }

        /// A string from its opening quote, escapes decoded; nil when malformed.
        mutating func string() -> String? {
            var scanner = JSONPeek.Scanner(bytes: bytes)
            scanner.index = index
            let start = index
            guard (try? scanner.scanString()) != nil else { return nil }
            index = scanner.index
            return JSONPeek.string(bytes, JSONPeek.Value(range: start..<index, kind: .string))
        }

        mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
            var scanner = JSONPeek.Scanner(bytes: bytes)
            scanner.index = index
            guard (try? scanner.scanLiteral(word)) != nil else { return nil }
            index = scanner.index
            return value
        }

        mutating func number() -> JSONValue? {
            var scanner = JSONPeek.Scanner(bytes: bytes)
            scanner.index = index
            let start = index
            guard (try? scanner.scanNumber()) != nil else { return nil }
            index = scanner.index
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            let plain = !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
            if plain, let i = Int(text) { return .int(i) }
            // A number beyond a double's range (1e999) is not a value the gateway can hold or write back.
            guard let d = Double(text), d.isFinite else { return nil }
            // Whole numbers written with a fraction or exponent (`1.0`, `1e3`) are integers, as JSONDecoder had them.
            if !plain, d == d.rounded(), abs(d) < 9e15 { return .int(Int(d)) }
            return .double(d)
        }
    }
}
