/// The injection detector's signals over the normalised bytes: words (hashed n-grams and word classes), phrase
/// patterns and byte heuristics. Mirrors `scripts/guardrails/features.py` and `train_detector.py`.
extension InjectionDetector {
    /// Whether a pattern's slots match in order, each within its gap (words skipped) of the previous one; the
    /// first fitting word is taken for each slot.
    static func matches(_ pattern: InjectionModel.Pattern, _ hits: UnsafeBufferPointer<ClassHit>) -> Bool {
        let slots = pattern.slots
        let first = slots[0].mask
        for start in hits.indices where hits[start].mask & first != 0 {
            var k = start
            var matched = true
            for slot in slots.dropFirst() {
                let limit = Int(hits[k].index) + 1 + slot.gap
                var found = -1
                var j = k + 1
                while j < hits.count && Int(hits[j].index) <= limit {
                    if hits[j].mask & slot.mask != 0 { found = j; break }
                    j += 1
                }
                if found < 0 { matched = false; break }
                k = found
            }
            if matched { return true }
        }
        return false
    }

    /// Chat-template tokens, matched on the normalised (lower-cased) text.
    static let specialTokens: [[UInt8]] = [
        "<|im_start|>", "<|im_end|>", "<|system|>", "<|user|>", "<|assistant|>", "<|endoftext|>", "<|eot_id|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|begin_of_text|>", "[inst]", "[/inst]", "<<sys>>", "<</sys>>",
        "### system", "### instruction", "### human", "### assistant", "### response", "<start_of_turn>",
        "<end_of_turn>", "[system]", "(#system)", "</system>", "<system>", "</user>", "<|endofprompt|>",
    ].map { Array($0.utf8) }

    static func hasSpecialToken(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for i in text.indices {
            let b = text[i]
            guard b == UInt8(ascii: "<") || b == UInt8(ascii: "[") || b == UInt8(ascii: "#") || b == UInt8(ascii: "(")
            else { continue }
            for token in specialTokens where token[0] == b && hasPrefix(text, at: i, token) { return true }
        }
        return false
    }

    static let roleWords: [[UInt8]] = ["system", "assistant", "user", "human", "ai"].map { Array($0.utf8) }

    /// Lines (the first included) that start with a role name and a colon.
    static func dialogueTurns(_ text: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        var lineStart = 0
        while lineStart < text.count {
            for role in roleWords {
                let end = lineStart + role.count
                if end < text.count, text[end] == UInt8(ascii: ":"), hasPrefix(text, at: lineStart, role) { count += 1 }
            }
            guard let newline = text[lineStart...].firstIndex(of: 0x0A) else { break }
            lineStart = newline + 1
        }
        return count
    }

    /// A run of at least 40 base64 characters holding upper case, lower case and digits, or of 40 hex digits.
    static func hasEncodedRun(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var run = 0, hexRun = 0
        var upper = false, lower = false, digit = false
        for b in bytes {
            let isUpper = b >= 0x41 && b <= 0x5A, isLower = b >= 0x61 && b <= 0x7A, isDigit = b >= 0x30 && b <= 0x39
            if isUpper || isLower || isDigit || b == 0x2B || b == 0x2F || b == 0x3D || b == 0x2D || b == 0x5F {
                run += 1
                upper = upper || isUpper
                lower = lower || isLower
                digit = digit || isDigit
                if run >= 40 && upper && lower && digit { return true }
            } else {
                run = 0
                upper = false
                lower = false
                digit = false
            }
            if isDigit || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66) {
                hexRun += 1
                if hexRun >= 40 { return true }
            } else {
                hexRun = 0
            }
        }
        return false
    }

    /// A markdown image or link target with a query string: `](http…?…` or `]: http…=…` before the URL ends.
    static func hasMarkdownExfiltration(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let inline = Array("](http".utf8), reference = Array("]: http".utf8)
        for k in text.indices where text[k] == UInt8(ascii: "]") {
            guard hasPrefix(text, at: k, inline) || hasPrefix(text, at: k, reference) else { continue }
            var j = k + 3
            while j < min(text.count, k + 200) {
                let b = text[j]
                if b == UInt8(ascii: ")") || b == 0x20 || b == 0x0A { break }
                if b == UInt8(ascii: "?") || b == UInt8(ascii: "=") { return true }
                j += 1
            }
        }
        return false
    }

    @inline(__always) static func hasPrefix(_ text: UnsafeBufferPointer<UInt8>, at i: Int, _ token: [UInt8]) -> Bool {
        guard i + token.count <= text.count else { return false }
        for k in token.indices where text[i + k] != token[k] { return false }
        return true
    }
}

/// One pass over the normalised bytes: every word hashed (leetspeak words as their letters), the hashed weights of
/// each word and each pair of neighbouring words summed, and the words that belong to a word class collected.
struct WordScan {
    var sum = 0
    var features = 0
    var leetWords = 0
    var hitCount = 0

    init(
        _ text: UnsafeBufferPointer<UInt8>, table: UnsafeBufferPointer<Int8>, bits: Int, vocabulary: WordClasses,
        hits: UnsafeMutableBufferPointer<ClassHit>
    ) {
        let mask = UInt32(truncatingIfNeeded: (1 << bits) - 1)
        var previous: UInt32 = 0
        var hasPrevious = false
        var wordIndex: Int32 = 0
        var i = 0
        let n = text.count
        while i < n {
            guard NormalisedText.isWordByte(text[i]) else { i += 1; continue }
            var plain = FNV32.offset, leet = FNV32.offset
            var letters = 0
            var onlyLettersAndLeet = true
            var leetBeforeLetter = false
            var previousWasLeet = false
            while i < n, NormalisedText.isWordByte(text[i]) {
                let b = text[i]
                plain = (plain ^ UInt32(b)) &* FNV32.prime
                let mapped = Self.leet(b)
                leet = (leet ^ UInt32(mapped ?? b)) &* FNV32.prime
                let isLetter = (b >= 0x61 && b <= 0x7A) || b >= 0x80
                if isLetter {
                    letters += 1
                    if previousWasLeet { leetBeforeLetter = true }
                } else if mapped == nil {
                    onlyLettersAndLeet = false
                }
                previousWasLeet = mapped != nil
                i += 1
            }
            let isLeet = letters >= 2 && onlyLettersAndLeet && leetBeforeLetter
            let hash = isLeet ? leet : plain
            if isLeet { leetWords += 1 }
            sum += Int(table[Int(FNV32.fmix(hash) & mask)])
            features += 1
            if hasPrevious {
                sum += Int(table[Int(FNV32.fmix(FNV32.pair(previous, hash)) & mask)])
                features += 1
            }
            previous = hash
            hasPrevious = true
            let classes = vocabulary.mask(of: hash)
            if classes != 0, hitCount < hits.count {
                hits[hitCount] = ClassHit(index: wordIndex, mask: classes)
                hitCount += 1
            }
            wordIndex += 1
        }
    }

    /// The letter a leetspeak character stands for: 0 o, 1 i, 3 e, 4 a, 5 s, 7 t, $ s.
    @inline(__always) static func leet(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0"): UInt8(ascii: "o")
        case UInt8(ascii: "1"): UInt8(ascii: "i")
        case UInt8(ascii: "3"): UInt8(ascii: "e")
        case UInt8(ascii: "4"): UInt8(ascii: "a")
        case UInt8(ascii: "5"): UInt8(ascii: "s")
        case UInt8(ascii: "7"): UInt8(ascii: "t")
        case UInt8(ascii: "$"): UInt8(ascii: "s")
        default: nil
        }
    }
}
