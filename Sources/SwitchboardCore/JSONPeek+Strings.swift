extension JSONPeek {
    /// One step of the path to a value: an object member's key or an array element's index.
    public enum PathStep: Equatable, Sendable {
        case key(String)
        case index(Int)

        public var key: String? { if case .key(let k) = self { k } else { nil } }
    }

    /// Calls `visit` with the path and the byte range (quotes included) of every string value — not keys — of the JSON
    /// document in `bytes`, in document order. `enter` decides which members and elements are walked into (all when
    /// it returns true). Throws on malformed JSON.
    public static func forEachString(_ bytes: UnsafeRawBufferPointer, enter: ([PathStep]) -> Bool = { _ in true },
                                     _ visit: ([PathStep], Range<Int>) -> Void) throws(SyntaxError) {
        try forEachScalar(bytes, enter: enter) { path, value in
            if value.kind == .string { visit(path, value.range) }
        }
    }

    /// Like `forEachString`, for every scalar value (string, number, boolean, null) with its kind.
    public static func forEachScalar(_ bytes: UnsafeRawBufferPointer, enter: ([PathStep]) -> Bool = { _ in true },
                                     _ visit: ([PathStep], Value) -> Void) throws(SyntaxError) {
        let result: Result<Void, SyntaxError> = withoutActuallyEscaping(enter) { enter in
            withoutActuallyEscaping(visit) { visit in
                var walker = StringWalker(scanner: Scanner(bytes: bytes), enter: enter, visit: visit)
                do throws(SyntaxError) {
                    walker.scanner.skipWhitespace()
                    try walker.value(depth: 0)
                    walker.scanner.skipWhitespace()
                    guard walker.scanner.atEnd else { throw walker.scanner.error("unexpected data after the JSON value") }
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
        }
        try result.get()
    }

    private struct StringWalker {
        var scanner: Scanner
        let enter: ([PathStep]) -> Bool
        let visit: ([PathStep], Value) -> Void
        var path: [PathStep] = []

        mutating func value(depth: Int) throws(SyntaxError) {
            guard depth <= JSONPeek.maxDepth else { throw scanner.error("nesting deeper than \(JSONPeek.maxDepth) levels") }
            switch scanner.peek() {
            case UInt8(ascii: "\""):
                let start = scanner.index
                try scanner.scanString()
                visit(path, Value(range: start..<scanner.index, kind: .string))
            case UInt8(ascii: "{"):
                scanner.index += 1
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: "}") { scanner.index += 1; return }
                while true {
                    scanner.skipWhitespace()
                    guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a string key") }
                    let keyStart = scanner.index
                    try scanner.scanString()
                    let key = JSONPeek.string(scanner.bytes, Value(range: keyStart..<scanner.index, kind: .string)) ?? ""
                    scanner.skipWhitespace()
                    guard scanner.peek() == UInt8(ascii: ":") else { throw scanner.error("expected ':'") }
                    scanner.index += 1
                    scanner.skipWhitespace()
                    try member(.key(key), depth: depth)
                    scanner.skipWhitespace()
                    switch scanner.peek() {
                    case UInt8(ascii: ","): scanner.index += 1
                    case UInt8(ascii: "}"): scanner.index += 1; return
                    default: throw scanner.error("expected ',' or '}'")
                    }
                }
            case UInt8(ascii: "["):
                scanner.index += 1
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: "]") { scanner.index += 1; return }
                var index = 0
                while true {
                    scanner.skipWhitespace()
                    try member(.index(index), depth: depth)
                    index += 1
                    scanner.skipWhitespace()
                    switch scanner.peek() {
                    case UInt8(ascii: ","): scanner.index += 1
                    case UInt8(ascii: "]"): scanner.index += 1; return
                    default: throw scanner.error("expected ',' or ']'")
                    }
                }
            default:
                let start = scanner.index
                let kind = try scanner.scanValue(depth: depth)
                visit(path, Value(range: start..<scanner.index, kind: kind))
            }
        }

        private mutating func member(_ step: PathStep, depth: Int) throws(SyntaxError) {
            path.append(step)
            defer { path.removeLast() }
            if enter(path) {
                try value(depth: depth + 1)
            } else {
                _ = try scanner.scanValue(depth: depth + 1)
            }
        }
    }
}
