/// The grammar under `JSONPeek` and `JSONValue.parse`: one forward pass over the bytes that checks JSON (RFC 8259),
/// strings as valid UTF-8 without lone surrogate escapes, nesting up to `maxDepth` (at most `JSONPeek.maxDepth`), and builds nothing.
extension JSONPeek {
    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        /// The deepest nesting allowed (at most `JSONPeek.maxDepth`).
        var maxDepth = JSONPeek.maxDepth
        /// The element count of the array scanned last (the outer one, once nested arrays are done).
        var lastArrayCount = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }
        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        func error(_ reason: String) -> SyntaxError {
            SyntaxError(offset: index, reason: atEnd && index > 0 ? "unexpected end of data" : reason)
        }

        func depthError() -> SyntaxError {
            SyntaxError(offset: index, reason: "nesting deeper than \(maxDepth) levels", tooDeep: true)
        }

        mutating func skipWhitespace() {
            while index < bytes.count, JSONPeek.isWhitespace(bytes[index]) { index += 1 }
        }

        mutating func scanValue(depth: Int) throws(SyntaxError) -> Kind {
            guard let c = peek() else { throw error("expected a value") }
            switch c {
            case UInt8(ascii: "\""):
                try scanString()
                return .string
            case UInt8(ascii: "{"):
                try scanObject(depth: depth + 1)
                return .object
            case UInt8(ascii: "["):
                try scanArray(depth: depth + 1)
                return .array
            case UInt8(ascii: "t"):
                try scanLiteral("true")
                return .bool
            case UInt8(ascii: "f"):
                try scanLiteral("false")
                return .bool
            case UInt8(ascii: "n"):
                try scanLiteral("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try scanNumber()
                return .number
            default:
                throw error("unexpected character '\(Character(Unicode.Scalar(c)))'")
            }
        }

        mutating func scanObject(depth: Int) throws(SyntaxError) {
            guard depth <= maxDepth else { throw depthError() }
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key") }
                try scanString()
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                _ = try scanValue(depth: depth)
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return
                default: throw error("expected ',' or '}'")
                }
            }
        }

        mutating func scanArray(depth: Int) throws(SyntaxError) {
            guard depth <= maxDepth else { throw depthError() }
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { index += 1; lastArrayCount = 0; return }
            var count = 0
            while true {
                skipWhitespace()
                _ = try scanValue(depth: depth)
                count += 1
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; lastArrayCount = count; return
                default: throw error("expected ',' or ']'")
                }
            }
        }

        /// Scans a string starting at the opening quote; leaves `index` after the closing quote.
        mutating func scanString() throws(SyntaxError) {
            index += 1
            while index < bytes.count {
                let c = bytes[index]
                if c == UInt8(ascii: "\"") { index += 1; return }
                if c < 0x20 { throw error("control character in string") }
                if c == UInt8(ascii: "\\") {
                    index += 1
                    guard let e = peek() else { break }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        let unit = try hex4()
                        if (0xDC00..<0xE000).contains(unit) { throw error("lone surrogate in \\u escape") }
                        if (0xD800..<0xDC00).contains(unit) {
                            // A high surrogate must be followed by its low half.
                            guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                                throw error("lone surrogate in \\u escape")
                            }
                            index += 2
                            guard (0xDC00..<0xE000).contains(try hex4()) else { throw error("lone surrogate in \\u escape") }
                        }
                    default: throw error("invalid escape")
                    }
                    continue
                }
                if c >= 0x80 {
                    try scanUTF8Sequence(lead: c)
                    continue
                }
                index += 1
            }
            throw error("unterminated string")
        }

        /// Four hex digits of a `\\u` escape, as a code unit.
        private mutating func hex4() throws(SyntaxError) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let h = peek(), isHex(h) else { throw error("invalid \\u escape") }
                v = v << 4 | UInt32(h <= UInt8(ascii: "9") ? h - UInt8(ascii: "0") : (h | 0x20) - UInt8(ascii: "a") + 10)
                index += 1
            }
            return v
        }

        /// One multi-byte UTF-8 sequence starting at `index` (RFC 3629: no overlong forms, no surrogates, at most
        /// U+10FFFF); leaves `index` after it.
        private mutating func scanUTF8Sequence(lead: UInt8) throws(SyntaxError) {
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: throw error("invalid UTF-8")
            }
            guard index + length <= bytes.count else { throw error("invalid UTF-8") }
            let second = bytes[index + 1]
            guard second >= low, second <= high else { throw error("invalid UTF-8") }
            for k in 2..<max(length, 2) where bytes[index + k] & 0xC0 != 0x80 { throw error("invalid UTF-8") }
            index += length
        }

        mutating func scanLiteral(_ word: StaticString) throws(SyntaxError) {
            let n = word.utf8CodeUnitCount
            guard index + n <= bytes.count else { index = bytes.count; throw error("invalid literal") }
            let p = word.utf8Start
            for k in 0..<n where bytes[index + k] != p[k] { throw error("invalid literal") }
            index += n
        }

        mutating func scanNumber() throws(SyntaxError) {
            if peek() == UInt8(ascii: "-") { index += 1 }
            guard let first = peek(), isDigit(first) else { throw error("invalid number") }
            index += 1
            if first != UInt8(ascii: "0") { while let d = peek(), isDigit(d) { index += 1 } }
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard let d = peek(), isDigit(d) else { throw error("invalid number") }
                while let d = peek(), isDigit(d) { index += 1 }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                index += 1
                if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { index += 1 }
                guard let d = peek(), isDigit(d) else { throw error("invalid number") }
                while let d = peek(), isDigit(d) { index += 1 }
            }
        }

        private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        private func isHex(_ b: UInt8) -> Bool {
            isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
        }
    }
}
