import SwitchboardCore

/// The cues of a maths word problem's reasoning that the difficulty classifier counts in free-form prompts: words of
/// a few groups (relations such as "twice" or "fewer", fractions, rates, what is left, totals…) and some symbols.
/// The same lists, in the same order, as `CUE_WORDS` and `SYMBOL_CUES` in `scripts/router/features.py`.
enum DifficultyCues {
    /// Word groups, in the order of the model's dense cue weights.
    static let wordGroups: [[String]] = [
        "more less fewer than times twice half double triple",
        "half halves third thirds quarter quarters fourth fifth fraction",
        "percent percentage",
        "each per every apiece",
        "remaining remain remains left rest remainder leftover",
        "total altogether combined sum together",
        "rate ratio average speed",
        "hour hours minute minutes day days week weeks month months year years",
        "if then after before until while when",
        "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand dozen",
        "what",
        "much",
    ].map { $0.split(separator: " ").map(String.init) }

    /// Symbol cues after the word groups: comma, decimal (number '.' number), '%', '$', number '/' number, '?', and
    /// the periods that are not decimal points.
    static let symbolCount = 7
    static let wordGroupCount = 12
    /// The last cue: chained comparisons — a comparative word followed by "than" within ``chainThan`` tokens, or a
    /// multiplier followed by "as" within ``chainAs`` tokens, with no '.' or '?' between ("5 more apples than",
    /// "twice as many"); `COMPARATIVES`, `MULTIPLIERS` and `CHAIN_*` in `features.py`.
    static let chain = wordGroupCount + symbolCount
    static let count = chain + 1
    static let chainThan = 8
    static let chainAs = 4

    /// Marker bits above the counted groups in a word's mask: the words the chained-comparison cue looks for.
    static let comparativeBit: UInt16 = 1 << 12
    static let multiplierBit: UInt16 = 1 << 13
    static let thanBit: UInt16 = 1 << 14
    static let asBit: UInt16 = 1 << 15
    static let countedGroups: UInt16 = (1 << 12) - 1

    /// The groups of each cue word as a bit mask, keyed by the word's FNV-1a hash (the counted groups, then the
    /// chained-comparison markers, bits 12-15).
    static let table = CueTable(groups: wordGroups + chainMarkers)

    /// The chained-comparison markers: comparatives, multipliers, "than", "as".
    static let chainMarkers: [[String]] = [
        "more less fewer older younger longer shorter taller cheaper times", "twice half thrice triple double", "than", "as",
    ].map { $0.split(separator: " ").map(String.init) }
}

/// An open-addressing table from a word's FNV-1a hash to the bit mask of its cue groups (256 slots, linear probing).
struct CueTable: Sendable {
    static let slots = 256
    private(set) var keys = [UInt32](repeating: 0, count: slots)
    private(set) var masks = [UInt16](repeating: 0, count: slots)

    init(groups: [[String]]) {
        for (index, words) in groups.enumerated() {
            for word in words {
                var hash = FNV32.offset
                for b in word.utf8 { hash = (hash ^ UInt32(b)) &* FNV32.prime }
                var slot = Int(hash & UInt32(Self.slots - 1))
                while masks[slot] != 0 && keys[slot] != hash { slot = (slot + 1) & (Self.slots - 1) }
                keys[slot] = hash
                masks[slot] |= 1 << UInt16(index)
            }
        }
    }

    /// The cue groups of a word hash (0 when it is no cue word).
    @inline(__always) static func lookup(
        _ hash: UInt32, keys: UnsafeBufferPointer<UInt32>, masks: UnsafeBufferPointer<UInt16>
    ) -> UInt16 {
        var slot = Int(hash & UInt32(slots - 1))
        while masks[slot] != 0 {
            if keys[slot] == hash { return masks[slot] }
            slot = (slot + 1) & (slots - 1)
        }
        return 0
    }
}
