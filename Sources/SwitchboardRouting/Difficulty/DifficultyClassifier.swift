import SwitchboardCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scores how hard a prompt is from its text alone: the expected gain in correctness of a strong model over a weak
/// one (higher = harder, route to the stronger model). In-process, no I/O, one pass over the prompt's bytes and no
/// allocation; a 2 KB prompt takes a few microseconds.
///
/// Features are byte for byte those of `scripts/router/features.py` (the parity test checks it). Tokens: words (ASCII
/// letters lowercased, non-ASCII bytes kept), numbers by shape (`#` and their digit count, at most 9) and single
/// symbols. Every prompt is scored by log1p of its byte, word, number, line and symbol counts, with one set of weights
/// for multiple-choice prompts (they contain "\nA. " and "\nB. ") and one for free-form ones. A free-form prompt
/// with a number (a maths word problem) adds the counts of ``DifficultyCues``, its reasoning cues; any other prompt
/// adds its hashed tokens and token pairs (FNV-1a into the model's table).
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
            let mask = UInt32(truncatingIfNeeded: (1 << model.bits) - 1)
            return Self.scan(bytes, mask: mask, into: TableSum(table: table)) { acc, lines in
                finish(&acc, bytes: bytes.count, lines: lines)
            }
        }
    }

    /// One pass over the bytes with a fresh accumulator whose hashed buckets go to `sink`; `body` reads the result.
    static func scan<Sink: HashedFeatureSink, Result>(
        _ bytes: UnsafeBufferPointer<UInt8>, mask: UInt32, into sink: Sink,
        _ body: (inout Accumulator<Sink>, _ lines: Int) -> Result
    ) -> Result {
        let cueTable = DifficultyCues.table
        return cueTable.keys.withUnsafeBufferPointer { keys in
            cueTable.masks.withUnsafeBufferPointer { masks in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: DifficultyCues.count) { cues in
                    cues.initialize(repeating: 0)
                    var acc = Accumulator(sink: sink, mask: mask, cueKeys: keys, cueMasks: masks, cues: cues)
                    let lines = scan(bytes, into: &acc)
                    return body(&acc, lines)
                }
            }
        }
    }

    /// One pass over the bytes: every token into the accumulator; returns the line count.
    private static func scan<Sink>(_ bytes: UnsafeBufferPointer<UInt8>, into acc: inout Accumulator<Sink>) -> Int {
        var hash = FNV32.offset
        var numberLength = 0
        var kind = TokenKind.none
        var lines = 0
        var window: UInt32 = 0  // the last four bytes, for "\nA. " and "\nB. "

        for b in bytes {
            window = (window << 8) | UInt32(b)
            let isLetter = b >= 0x80 || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z"))
            let isDigit = b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")
            if isLetter {
                if kind == .number { acc.emitNumber(length: numberLength) }
                if kind != .word { hash = FNV32.offset; kind = .word }
                let lower = b < 0x80 ? b | 0x20 : b
                hash = (hash ^ UInt32(lower)) &* FNV32.prime
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
            if b == 0x20 {
                if window == 0x0A41_2E20 { acc.sawOptionA = true }
                if window == 0x0A42_2E20 { acc.sawOptionB = true }
                continue
            }
            if b >= 0x09 && b <= 0x0D { continue }
            acc.emitSymbol(b)
        }
        switch kind {
        case .word: acc.emitWord(hash)
        case .number: acc.emitNumber(length: numberLength)
        case .none: break
        }
        return lines
    }

    /// The score from the accumulated counts: the dense features in `features.py`'s order, and the hashed sum for a
    /// multiple-choice prompt or one without a number.
    private func finish(_ acc: inout Accumulator<TableSum>, bytes: Int, lines: Int) -> Double {
        var s = model.bias
        let hashed = acc.denseFeatures(bytes: bytes, lines: lines) { index, value in
            s += model.denseWeights[index] * value
        }
        if hashed { s += model.hashScale * Double(acc.sink.sum) / Double(max(acc.features, 1)).squareRoot() }
        return s
    }
}

private enum TokenKind { case none, word, number }


/// Where a scoring pass puts each hashed feature (a token or token pair's bucket): summed from the model's table
/// when scoring, collected when training (``DifficultyTraining``).
protocol HashedFeatureSink {
    mutating func add(bucket: Int)
}

/// The scorer's sink: the sum of the quantised weights of the buckets.
struct TableSum: HashedFeatureSink {
    let table: UnsafeBufferPointer<Int8>
    var sum = 0

    @inline(__always) mutating func add(bucket: Int) { sum += Int(table[bucket]) }
}

/// The running sums of one scoring pass: hashed features of every token and token pair, the counts and the cues.
struct Accumulator<Sink: HashedFeatureSink> {
    var sink: Sink
    let mask: UInt32
    let cueKeys: UnsafeBufferPointer<UInt32>
    let cueMasks: UnsafeBufferPointer<UInt16>
    /// Cue counts in ``DifficultyCues`` order: the word groups, then the symbol cues.
    let cues: UnsafeMutableBufferPointer<Int>
    var features = 0
    var words = 0
    var numbers = 0
    var symbols = 0
    var previous: UInt32 = 0
    var hasPrevious = false
    var sawOptionA = false
    var sawOptionB = false
    /// The kinds of the last two tokens: `Self.word`, `Self.number` or the symbol's byte.
    var last: UInt16 = 0
    var beforeLast: UInt16 = 0
    /// Token index of the last comparative and multiplier word in this sentence (for the chained-comparison cue).
    var comparative: Int?
    var multiplier: Int?

    static var word: UInt16 { 0x100 }
    static var number: UInt16 { 0x101 }

    /// Passes the non-zero dense features to `body` as (index in `DENSE_NAMES`, value), in `features.py`'s order;
    /// returns whether the hashed features count (a multiple-choice prompt, or a free-form one without a number).
    /// Call once, after the scan (it turns the period count into periods that are not decimal points).
    @inline(__always) mutating func denseFeatures(bytes: Int, lines: Int, _ body: (Int, Double) -> Void) -> Bool {
        let choice = sawOptionA && sawOptionB
        let countBase = choice ? DifficultyModel.countFeatures : 0
        body(countBase + 0, log1p(Double(bytes)))
        body(countBase + 1, log1p(Double(words)))
        body(countBase + 2, log1p(Double(numbers)))
        body(countBase + 3, log1p(Double(lines)))
        body(countBase + 4, log1p(Double(symbols)))
        if choice { body(2 * DifficultyModel.countFeatures, 1) }
        if choice || numbers == 0 { return true }
        let symbolBase = DifficultyCues.wordGroupCount
        cues[symbolBase + 6] -= cues[symbolBase + 1]  // periods that are not decimal points
        let cueBase = 2 * DifficultyModel.countFeatures + 1
        for i in 0..<DifficultyCues.count { body(cueBase + i, log1p(Double(cues[i]))) }
        return false
    }

    @inline(__always) mutating func emit(_ hash: UInt32, kind: UInt16) {
        sink.add(bucket: Int(FNV32.fmix(hash) & mask))
        features += 1
        if hasPrevious {
            sink.add(bucket: Int(FNV32.fmix(FNV32.pair(previous, hash)) & mask))
            features += 1
        }
        previous = hash
        hasPrevious = true
        beforeLast = last
        last = kind
    }

    @inline(__always) mutating func emitWord(_ hash: UInt32) {
        let index = words + numbers + symbols
        words += 1
        let mask = CueTable.lookup(hash, keys: cueKeys, masks: cueMasks)
        var groups = mask & DifficultyCues.countedGroups
        while groups != 0 {
            cues[groups.trailingZeroBitCount] += 1
            groups &= groups - 1
        }
        if mask > DifficultyCues.countedGroups { chainCue(mask, index: index) }
        emit(hash, kind: Self.word)
    }

    /// A number is hashed by its shape: the bytes `#` and the digit count (at most 9) as an ASCII digit.
    @inline(__always) mutating func emitNumber(length: Int) {
        numbers += 1
        if beforeLast == Self.number {
            let base = DifficultyCues.wordGroupCount
            if last == UInt16(UInt8(ascii: ".")) { cues[base + 1] += 1 }
            if last == UInt16(UInt8(ascii: "/")) { cues[base + 4] += 1 }
        }
        let digit = UInt8(ascii: "0") + UInt8(min(length, 9))
        emit((FNV32.single(UInt8(ascii: "#")) ^ UInt32(digit)) &* FNV32.prime, kind: Self.number)
    }

    /// A chained comparison ends at "than" after a comparative or "as" after a multiplier (`features.py`'s order).
    private mutating func chainCue(_ mask: UInt16, index: Int) {
        if mask & DifficultyCues.thanBit != 0, let c = comparative, index - c <= DifficultyCues.chainThan {
            cues[DifficultyCues.chain] += 1
            comparative = nil
        } else if mask & DifficultyCues.asBit != 0, let m = multiplier, index - m <= DifficultyCues.chainAs {
            cues[DifficultyCues.chain] += 1
            multiplier = nil
        }
        if mask & DifficultyCues.comparativeBit != 0 { comparative = index }
        if mask & DifficultyCues.multiplierBit != 0 { multiplier = index }
    }

    @inline(__always) mutating func emitSymbol(_ b: UInt8) {
        if b == UInt8(ascii: ".") || b == UInt8(ascii: "?") { (comparative, multiplier) = (nil, nil) }
        symbols += 1
        let base = DifficultyCues.wordGroupCount
        switch b {
        case UInt8(ascii: ","): cues[base + 0] += 1
        case UInt8(ascii: "%"): cues[base + 2] += 1
        case UInt8(ascii: "$"): cues[base + 3] += 1
        case UInt8(ascii: "?"): cues[base + 5] += 1
        case UInt8(ascii: "."): cues[base + 6] += 1
        default: break
        }
        emit(FNV32.single(b), kind: UInt16(b))
    }
}

extension DifficultyClassifier: DifficultyScoring {
    public func difficulty(of text: String) -> Double { score(text) }
    public func threshold(forQuality quality: Double) -> Double { model.threshold(forQuality: quality) }
}
