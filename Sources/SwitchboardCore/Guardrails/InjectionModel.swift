/// The learned part of the injection detector, read from the `.sbij` format that
/// `scripts/guardrails/train_detector.py` writes (its module doc describes the layout and the training): the reason
/// names and weights, the word classes and patterns behind the phrase signals, and the hashed n-gram weights.
///
/// The built-in model is embedded in the binary (``embedded``); ``init(bytes:)`` reads another file of the format.
public struct InjectionModel: Sendable {
    /// Number of hash bits: the hashed table has `1 << bits` weights.
    public let bits: Int
    let bias: Double
    let hashScale: Double
    /// The score from which the training script's cross-validation says to treat a text as an attack.
    public let threshold: Double
    /// The n-gram part's contribution to the logit from which "model" is given as a reason.
    let modelMargin: Double
    /// The most the n-gram part may lower the logit, so that a long benign-looking document cannot drown the
    /// signals of an injection buried in it.
    let ngramFloor: Double
    /// Every reason the model can give, in the order of ``reasonWeights``.
    public let reasons: [InjectionReason]
    let reasonWeights: [Double]
    let vocabulary: WordClasses
    let patterns: [Pattern]
    /// Index in ``reasons`` of each byte heuristic the detector computes itself.
    let heuristicIndex: [Heuristic: Int]
    /// Quantised hashed weights; weight = value × ``hashScale``.
    let hashed: [Int8]

    /// A word-class pattern: each slot a class mask and how many words may be skipped before it.
    struct Pattern: Sendable {
        let reason: Int
        let slots: [(mask: UInt64, gap: Int)]
    }

    /// Parses a model file; throws when it is not one (wrong magic, version or sizes).
    public init(bytes: [UInt8]) throws(InjectionModelError) {
        var reader = ModelReader(bytes: bytes)
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("SBIJ".utf8) else {
            throw .init("not an injection model (bad magic)")
        }
        reader.offset = 4
        let version = try reader.u32()
        guard version == 1 else { throw .init("unsupported model version \(version)") }
        let bits = Int(try reader.u32())
        guard (4...24).contains(bits) else { throw .init("hash bits \(bits) out of range 4...24") }
        bias = Double(try reader.f32())
        hashScale = Double(try reader.f32())
        threshold = Double(try reader.f32())
        modelMargin = Double(try reader.f32())
        ngramFloor = Double(try reader.f32())
        let reasonCount = Int(try reader.u32())
        guard reasonCount <= 64 else { throw .init("too many reasons (\(reasonCount))") }
        var reasons: [InjectionReason] = []
        for _ in 0..<reasonCount { reasons.append(InjectionReason(rawValue: try reader.string())) }
        var weights: [Double] = []
        for _ in 0..<reasonCount { weights.append(Double(try reader.f32())) }
        var heuristicIndex: [Heuristic: Int] = [:]
        for heuristic in Heuristic.allCases {
            guard let index = reasons.firstIndex(of: heuristic.reason) else {
                throw .init("the model has no weight for \(heuristic.reason)")
            }
            heuristicIndex[heuristic] = index
        }
        let vocabularyCount = Int(try reader.u32())
        guard vocabularyCount <= 65536 else { throw .init("vocabulary too large (\(vocabularyCount))") }
        var entries: [(UInt32, UInt64)] = []
        for _ in 0..<vocabularyCount { entries.append((try reader.u32(), try reader.u64())) }
        let patternCount = Int(try reader.u32())
        guard patternCount <= 4096 else { throw .init("too many patterns (\(patternCount))") }
        var patterns: [Pattern] = []
        for _ in 0..<patternCount {
            let reason = Int(try reader.u8())
            let slotCount = Int(try reader.u8())
            guard reason < reasonCount, slotCount >= 1 else { throw .init("bad pattern") }
            var slots: [(mask: UInt64, gap: Int)] = []
            for _ in 0..<slotCount { slots.append((try reader.u64(), Int(try reader.u8()))) }
            patterns.append(Pattern(reason: reason, slots: slots))
        }
        let size = 1 << bits
        guard bytes.count - reader.offset == size else {
            throw .init("expected \(size) hashed weights, found \(bytes.count - reader.offset) bytes")
        }
        hashed = bytes[reader.offset...].map { Int8(bitPattern: $0) }
        self.bits = bits
        self.reasons = reasons
        self.reasonWeights = weights
        self.heuristicIndex = heuristicIndex
        self.vocabulary = WordClasses(entries)
        self.patterns = patterns
    }

    /// The model built into the binary (decoded once, on first use).
    public static let embedded: InjectionModel = {
        guard let bytes = Base64.decode(embeddedBase64) else { fatalError("embedded injection model: bad base64") }
        do { return try InjectionModel(bytes: bytes) } catch { fatalError("embedded injection model: \(error)") }
    }()
}

/// Why a model file could not be read.
public struct InjectionModelError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The byte heuristics the detector computes itself; the model file gives each one's weight by reason name.
enum Heuristic: CaseIterable, Hashable, Sendable {
    case specialTokens, dialogueTurns, encodedPayload, invisibleCharacters, obfuscation, markdownExfiltration

    var reason: InjectionReason {
        switch self {
        case .specialTokens: .specialTokens
        case .dialogueTurns: .dialogueTurns
        case .encodedPayload: .encodedPayload
        case .invisibleCharacters: .invisibleCharacters
        case .obfuscation: .obfuscation
        case .markdownExfiltration: .markdownExfiltration
        }
    }
}

/// Word hash -> class mask, open addressing over a power-of-two table (a word is looked up once per word of every
/// prompt, so no `Dictionary` hashing here).
struct WordClasses: Sendable {
    private let keys: [UInt32]
    private let masks: [UInt64]
    private let slotMask: Int
    private let zeroMask: UInt64

    init(_ entries: [(UInt32, UInt64)]) {
        var size = 16
        while size < entries.count * 4 { size <<= 1 }
        var keys = [UInt32](repeating: 0, count: size)
        var masks = [UInt64](repeating: 0, count: size)
        var zeroMask: UInt64 = 0
        for (key, mask) in entries {
            if key == 0 { zeroMask |= mask; continue }
            var i = Int(FNV32.fmix(key)) & (size - 1)
            while keys[i] != 0 && keys[i] != key { i = (i + 1) & (size - 1) }
            keys[i] = key
            masks[i] |= mask
        }
        self.keys = keys
        self.masks = masks
        self.slotMask = size - 1
        self.zeroMask = zeroMask
    }

    @inline(__always) func mask(of key: UInt32) -> UInt64 {
        if key == 0 { return zeroMask }
        var i = Int(FNV32.fmix(key)) & slotMask
        while true {
            let k = keys[i]
            if k == key { return masks[i] }
            if k == 0 { return 0 }
            i = (i + 1) & slotMask
        }
    }
}


/// Little-endian reads over a byte array.
private struct ModelReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u8() throws(InjectionModelError) -> UInt8 {
        guard offset < bytes.count else { throw .init("truncated model file") }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func u32() throws(InjectionModelError) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(try u8()) << (8 * i) }
        return value
    }

    mutating func u64() throws(InjectionModelError) -> UInt64 {
        UInt64(try u32()) | UInt64(try u32()) << 32
    }

    mutating func f32() throws(InjectionModelError) -> Float { Float(bitPattern: try u32()) }

    mutating func string() throws(InjectionModelError) -> String {
        let length = Int(try u8())
        guard offset + length <= bytes.count else { throw .init("truncated model file") }
        defer { offset += length }
        return String(decoding: bytes[offset..<offset + length], as: UTF8.self)
    }
}

