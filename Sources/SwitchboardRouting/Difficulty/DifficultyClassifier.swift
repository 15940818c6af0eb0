#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scores how hard a prompt is from its text alone: the expected gain in correctness of a strong model over a weak
/// one (higher = harder, route to the stronger model). In-process, no I/O, one pass over the prompt's bytes and no
/// allocation; a 2 KB prompt takes a few microseconds.
///
/// Features and their hashing are byte for byte those of `scripts/router/features.py` (the parity test checks it):
/// words (ASCII letters lowercased, non-ASCII bytes kept), numbers by shape (`#` and their digit count, at most 9),
/// single symbols, and each pair of neighbouring tokens, FNV-1a hashed into the model's table; plus log1p of the
/// byte, word, number, line and symbol counts.
public struct DifficultyClassifier: Sendable {
    public let model: DifficultyModel

    public init(model: DifficultyModel = .embedded) {
        self.model = model
    }

    /// The difficulty score of a prompt.
    public func score(_ prompt: String) -> Double {
        var prompt = prompt
        return prompt.withUTF8 { score(utf8: $0) }
    }

    /// The difficulty score of a prompt given as UTF-8 bytes.
    public func score(utf8 bytes: UnsafeBufferPointer<UInt8>) -> Double {
        model.hashed.withUnsafeBufferPointer { table in
            var acc = Accumulator(table: table, mask: UInt32(truncatingIfNeeded: (1 << model.bits) - 1))
            var hash = FNV.offset
            var numberLength = 0
            var kind = TokenKind.none
            var lines = 0

            for b in bytes {
                let isLetter = b >= 0x80 || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z"))
                let isDigit = b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")
                if isLetter {
                    if kind == .number { acc.emitNumber(length: numberLength) }
                    if kind != .word { hash = FNV.offset; kind = .word }
                    let lower = b < 0x80 ? b | 0x20 : b
                    hash = (hash ^ UInt32(lower)) &* FNV.prime
                    continue
                }
                if isDigit {
                    if kind == .word { acc.emitWord(hash) }
                    if kind != .number { numberLength = 0; kind = .number }
                    numberLength += 1
                    continue
                }
                switch kind {
                case .word: acc.emitWord(hash)
                case .number: acc.emitNumber(length: numberLength)
                case .none: break
                }
                kind = .none
                if b == 0x0A { lines += 1 }
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) { continue }
                acc.emitSymbol(b)
            }
            switch kind {
            case .word: acc.emitWord(hash)
            case .number: acc.emitNumber(length: numberLength)
            case .none: break
            }

            let w = model.denseWeights
            var s = model.bias
            s += w[0] * log1p(Double(bytes.count))
            s += w[1] * log1p(Double(acc.words))
            s += w[2] * log1p(Double(acc.numbers))
            s += w[3] * log1p(Double(lines))
            s += w[4] * log1p(Double(acc.symbols))
            s += model.hashScale * Double(acc.sum) / Double(max(acc.features, 1)).squareRoot()
            return s
        }
    }
}

private enum TokenKind { case none, word, number }

/// FNV-1a (32-bit) and the mixing the Python side uses.
enum FNV {
    static let offset: UInt32 = 0x811C_9DC5
    static let prime: UInt32 = 0x0100_0193

    @inline(__always) static func fmix32(_ x: UInt32) -> UInt32 {
        var h = x
        h ^= h >> 16
        h = h &* 0x85EB_CA6B
        h ^= h >> 13
        h = h &* 0xC2B2_AE35
        h ^= h >> 16
        return h
    }

    @inline(__always) static func pair(_ previous: UInt32, _ current: UInt32) -> UInt32 {
        (previous &* prime) ^ current ^ 0x9E37_79B9
    }

    @inline(__always) static func single(_ b: UInt8) -> UInt32 { (offset ^ UInt32(b)) &* prime }
}

/// The running sums of one scoring pass: hashed weights of every token and token pair, and the counts.
private struct Accumulator {
    let table: UnsafeBufferPointer<Int8>
    let mask: UInt32
    var sum: Int = 0
    var features = 0
    var words = 0
    var numbers = 0
    var symbols = 0
    var previous: UInt32 = 0
    var hasPrevious = false

    @inline(__always) mutating func emit(_ hash: UInt32) {
        sum += Int(table[Int(FNV.fmix32(hash) & mask)])
        features += 1
        if hasPrevious {
            sum += Int(table[Int(FNV.fmix32(FNV.pair(previous, hash)) & mask)])
            features += 1
        }
        previous = hash
        hasPrevious = true
    }

    @inline(__always) mutating func emitWord(_ hash: UInt32) {
        words += 1
        emit(hash)
    }

    /// A number is hashed by its shape: the bytes `#` and the digit count (at most 9) as an ASCII digit.
    @inline(__always) mutating func emitNumber(length: Int) {
        numbers += 1
        let digit = UInt8(ascii: "0") + UInt8(min(length, 9))
        emit((FNV.single(UInt8(ascii: "#")) ^ UInt32(digit)) &* FNV.prime)
    }

    @inline(__always) mutating func emitSymbol(_ b: UInt8) {
        symbols += 1
        emit(FNV.single(b))
    }
}

extension DifficultyClassifier: DifficultyScoring {
    public func difficulty(of text: String) -> Double { score(text) }
    public func threshold(forQuality quality: Double) -> Double { model.threshold(forQuality: quality) }
}
