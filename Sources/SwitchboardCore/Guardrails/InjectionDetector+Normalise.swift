/// The first layer of the injection detector: which bytes of a prompt are read, and how they are normalised before
/// any signal looks at them. Byte for byte what `scripts/guardrails/features.py` does (its module doc is the
/// specification; the parity test checks the two agree).
extension InjectionDetector {
    /// Texts up to this many UTF-8 bytes are read whole.
    static let wholeLimit = 16384
    /// A longer text is read as its first `headBytes`, `samples` windows of `windowBytes` evenly spaced in the
    /// middle and its last `tailBytes`: at most 16 KiB, whatever the size of the prompt.
    static let headBytes = 8192
    static let tailBytes = 4096
    static let samples = 4
    static let windowBytes = 1024

    /// The byte ranges of `count` bytes that are read, each starting and ending on a scalar boundary.
    static func windows(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let n = bytes.count
        guard n > wholeLimit else { return [0..<n] }
        func start(_ i: Int) -> Int {
            var i = i
            while i < n, bytes[i] & 0xC0 == 0x80 { i += 1 }
            return i
        }
        var ranges: [(Int, Int)] = [(0, headBytes)]
        let step = (n - tailBytes - headBytes) / (samples + 1)
        for k in 1...samples {
            let s = headBytes + k * step
            ranges.append((s, s + windowBytes))
        }
        ranges.append((n - tailBytes, n))
        return ranges.map { s, e in start(s)..<(e < n ? start(e) : n) }
    }
}

/// The normalised text: lower-cased ASCII, invisible and control characters dropped (and counted), homoglyphs,
/// styled and accented letters folded to ASCII, whitespace collapsed to one space or one newline.
struct NormalisedText {
    var invisible = 0
    var controls = 0
    /// Words that mix ASCII letters with look-alikes from other scripts, or use styled (full-width, mathematical,
    /// circled) letters.
    var obfuscatedWords = 0
    var count = 0

    /// Writes the normalised bytes of `windows` of `bytes` into `out` (which must hold `bytes.count + 16`).
    init(_ bytes: UnsafeBufferPointer<UInt8>, windows: [Range<Int>], into out: UnsafeMutableBufferPointer<UInt8>) {
        var pending = 0  // 0: none, 1: a space, 2: a newline
        var hasASCII = false, hasLookalike = false, hasStyled = false
        var n = 0

        @inline(__always) func endWord(_ obfuscated: inout Int) {
            if (hasLookalike && hasASCII) || hasStyled { obfuscated += 1 }
            hasASCII = false
            hasLookalike = false
            hasStyled = false
        }

        for (w, range) in windows.enumerated() {
            if w > 0 { pending = 2 }
            var i = range.lowerBound
            while i < range.upperBound {
                let (cp, length) = Self.decode(bytes, at: i)
                let scalarStart = i
                i += length
                var b: UInt8
                var kind = 0
                if cp >= 0xE0020 && cp <= 0xE007E {
                    invisible += 1
                    b = UInt8(cp - 0xE0000)
                    if b >= 0x41 && b <= 0x5A { b += 0x20 }
                } else if Self.isInvisible(cp) {
                    invisible += 1
                    continue
                } else if cp < 0x80 {
                    if cp == 0x20 || cp == 0x09 { pending = max(pending, 1); continue }
                    if cp == 0x0A || cp == 0x0D { pending = 2; continue }
                    if cp < 0x20 || cp == 0x7F { controls += 1; continue }
                    b = UInt8(cp)
                    if b >= 0x41 && b <= 0x5A { b += 0x20 }
                } else if cp <= 0x9F {
                    controls += 1
                    continue
                } else if Self.isSpace(cp) {
                    pending = max(pending, 1)
                    continue
                } else if let folded = Self.fold(cp) {
                    b = folded.byte
                    kind = folded.kind
                } else {
                    if pending != 0 {
                        endWord(&obfuscatedWords)
                        if n > 0 { out[n] = pending == 2 ? 0x0A : 0x20; n += 1 }
                        pending = 0
                    }
                    for k in scalarStart..<i { out[n] = bytes[k]; n += 1 }
                    continue
                }
                if pending != 0 {
                    endWord(&obfuscatedWords)
                    if n > 0 { out[n] = pending == 2 ? 0x0A : 0x20; n += 1 }
                    pending = 0
                }
                if !Self.isWordByte(b) {
                    endWord(&obfuscatedWords)
                } else if kind == 0 {
                    if b >= 0x61 && b <= 0x7A { hasASCII = true }
                } else if kind == 1 {
                    hasLookalike = true
                } else if kind == 2 {
                    hasStyled = true
                }
                out[n] = b
                n += 1
            }
        }
        endWord(&obfuscatedWords)
        count = n
    }

    @inline(__always) static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x24 || b >= 0x80
    }

    /// The scalar at `i` of valid UTF-8 (a Swift string's bytes) and its length in bytes.
    @inline(__always) static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3)
        }
        let cp = (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
            | UInt32(bytes[i + 3] & 0x3F)
        return (cp, 4)
    }

    /// Zero-width and formatting characters, bidi controls, variation selectors, fillers, soft hyphen, tags.
    @inline(__always) static func isInvisible(_ cp: UInt32) -> Bool {
        switch cp {
        case 0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0: true
        case 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x206F, 0xFE00...0xFE0F, 0xE0000...0xE01EF: true
        default: false
        }
    }

    @inline(__always) static func isSpace(_ cp: UInt32) -> Bool {
        switch cp {
        case 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// The ASCII byte a non-ASCII scalar folds to and its kind: 1 look-alike, 2 styled, 3 accented.
    static func fold(_ cp: UInt32) -> (byte: UInt8, kind: Int)? {
        switch cp {
        case 0xFF21...0xFF3A: return (UInt8(cp - 0xFF21 + 0x61), 2)
        case 0xFF41...0xFF5A: return (UInt8(cp - 0xFF41 + 0x61), 2)
        case 0xFF10...0xFF19: return (UInt8(cp - 0xFF10 + 0x30), 2)
        case 0x1D400...0x1D6A3:
            let off = (cp - 0x1D400) % 52
            return (UInt8(off < 26 ? 0x61 + off : 0x61 + off - 26), 2)
        case 0x1D7CE...0x1D7FF: return (UInt8(0x30 + (cp - 0x1D7CE) % 10), 2)
        case 0x24B6...0x24CF: return (UInt8(cp - 0x24B6 + 0x61), 2)
        case 0x24D0...0x24E9: return (UInt8(cp - 0x24D0 + 0x61), 2)
        default:
            guard cp < 0x2200, let entry = foldTable[cp] else { return nil }
            return (UInt8(truncatingIfNeeded: entry), Int(entry >> 8))
        }
    }

    /// Look-alike (kind 1) and accented (kind 3) letters: scalar -> kind << 8 | ASCII byte. Generated from
    /// features.py's tables.
    static let foldTable: [UInt32: UInt16] = {
        let entries: [(UInt32, UInt8, UInt16)] = [
            (0x00C0, 0x61, 3), (0x00C1, 0x61, 3), (0x00C2, 0x61, 3), (0x00C3, 0x61, 3), (0x00C4, 0x61, 3),
            (0x00C5, 0x61, 3), (0x00C7, 0x63, 3), (0x00C8, 0x65, 3), (0x00C9, 0x65, 3), (0x00CA, 0x65, 3),
            (0x00CB, 0x65, 3), (0x00CC, 0x69, 3), (0x00CD, 0x69, 3), (0x00CE, 0x69, 3), (0x00CF, 0x69, 3),
            (0x00D1, 0x6E, 3), (0x00D2, 0x6F, 3), (0x00D3, 0x6F, 3), (0x00D4, 0x6F, 3), (0x00D5, 0x6F, 3),
            (0x00D6, 0x6F, 3), (0x00D8, 0x6F, 3), (0x00D9, 0x75, 3), (0x00DA, 0x75, 3), (0x00DB, 0x75, 3),
            (0x00DC, 0x75, 3), (0x00DD, 0x79, 3), (0x00DF, 0x73, 3), (0x00E0, 0x61, 3), (0x00E1, 0x61, 3),
            (0x00E2, 0x61, 3), (0x00E3, 0x61, 3), (0x00E4, 0x61, 3), (0x00E5, 0x61, 3), (0x00E7, 0x63, 3),
            (0x00E8, 0x65, 3), (0x00E9, 0x65, 3), (0x00EA, 0x65, 3), (0x00EB, 0x65, 3), (0x00EC, 0x69, 3),
            (0x00ED, 0x69, 3), (0x00EE, 0x69, 3), (0x00EF, 0x69, 3), (0x00F1, 0x6E, 3), (0x00F2, 0x6F, 3),
            (0x00F3, 0x6F, 3), (0x00F4, 0x6F, 3), (0x00F5, 0x6F, 3), (0x00F6, 0x6F, 3), (0x00F8, 0x6F, 3),
            (0x00F9, 0x75, 3), (0x00FA, 0x75, 3), (0x00FB, 0x75, 3), (0x00FC, 0x75, 3), (0x00FD, 0x79, 3),
            (0x00FF, 0x79, 3), (0x0100, 0x61, 3), (0x0101, 0x61, 3), (0x0102, 0x61, 3), (0x0103, 0x61, 3),
            (0x0104, 0x61, 3), (0x0105, 0x61, 3), (0x0106, 0x63, 3), (0x0107, 0x63, 3), (0x0108, 0x63, 3),
            (0x0109, 0x63, 3), (0x010A, 0x63, 3), (0x010B, 0x63, 3), (0x010C, 0x63, 3), (0x010D, 0x63, 3),
            (0x010E, 0x64, 3), (0x010F, 0x64, 3), (0x0110, 0x64, 3), (0x0111, 0x64, 3), (0x0112, 0x65, 3),
            (0x0113, 0x65, 3), (0x0114, 0x65, 3), (0x0115, 0x65, 3), (0x0116, 0x65, 3), (0x0117, 0x65, 3),
            (0x0118, 0x65, 3), (0x0119, 0x65, 3), (0x011A, 0x65, 3), (0x011B, 0x65, 3), (0x011C, 0x67, 3),
            (0x011D, 0x67, 3), (0x011E, 0x67, 3), (0x011F, 0x67, 3), (0x0120, 0x67, 3), (0x0121, 0x67, 3),
            (0x0122, 0x67, 3), (0x0123, 0x67, 3), (0x0124, 0x68, 3), (0x0125, 0x68, 3), (0x0126, 0x68, 3),
            (0x0127, 0x68, 3), (0x0128, 0x69, 3), (0x0129, 0x69, 3), (0x012A, 0x69, 3), (0x012B, 0x69, 3),
            (0x012C, 0x69, 3), (0x012D, 0x69, 3), (0x012E, 0x69, 3), (0x012F, 0x69, 3), (0x0130, 0x69, 3),
            (0x0131, 0x69, 1), (0x0134, 0x6A, 3), (0x0135, 0x6A, 3), (0x0136, 0x6B, 3), (0x0137, 0x6B, 3),
            (0x0139, 0x6C, 3), (0x013A, 0x6C, 3), (0x013B, 0x6C, 3), (0x013C, 0x6C, 3), (0x013D, 0x6C, 3),
            (0x013E, 0x6C, 3), (0x013F, 0x6C, 3), (0x0140, 0x6C, 3), (0x0141, 0x6C, 3), (0x0142, 0x6C, 3),
            (0x0143, 0x6E, 3), (0x0144, 0x6E, 3), (0x0145, 0x6E, 3), (0x0146, 0x6E, 3), (0x0147, 0x6E, 3),
            (0x0148, 0x6E, 3), (0x0149, 0x6E, 3), (0x014C, 0x6F, 3), (0x014D, 0x6F, 3), (0x014E, 0x6F, 3),
            (0x014F, 0x6F, 3), (0x0150, 0x6F, 3), (0x0151, 0x6F, 3), (0x0154, 0x72, 3), (0x0155, 0x72, 3),
            (0x0156, 0x72, 3), (0x0157, 0x72, 3), (0x0158, 0x72, 3), (0x0159, 0x72, 3), (0x015A, 0x73, 3),
            (0x015B, 0x73, 3), (0x015C, 0x73, 3), (0x015D, 0x73, 3), (0x015E, 0x73, 3), (0x015F, 0x73, 3),
            (0x0160, 0x73, 3), (0x0161, 0x73, 3), (0x0162, 0x74, 3), (0x0163, 0x74, 3), (0x0164, 0x74, 3),
            (0x0165, 0x74, 3), (0x0166, 0x74, 3), (0x0167, 0x74, 3), (0x0168, 0x75, 3), (0x0169, 0x75, 3),
            (0x016A, 0x75, 3), (0x016B, 0x75, 3), (0x016C, 0x75, 3), (0x016D, 0x75, 3), (0x016E, 0x75, 3),
            (0x016F, 0x75, 3), (0x0170, 0x75, 3), (0x0171, 0x75, 3), (0x0172, 0x75, 3), (0x0173, 0x75, 3),
            (0x0174, 0x77, 3), (0x0175, 0x77, 3), (0x0176, 0x79, 3), (0x0177, 0x79, 3), (0x0178, 0x79, 3),
            (0x0179, 0x7A, 3), (0x017A, 0x7A, 3), (0x017B, 0x7A, 3), (0x017C, 0x7A, 3), (0x017D, 0x7A, 3),
            (0x017E, 0x7A, 3), (0x0237, 0x6A, 1), (0x0261, 0x67, 1), (0x0391, 0x61, 1), (0x0392, 0x62, 1),
            (0x0395, 0x65, 1), (0x0396, 0x7A, 1), (0x0397, 0x68, 1), (0x0399, 0x69, 1), (0x039A, 0x6B, 1),
            (0x039C, 0x6D, 1), (0x039D, 0x6E, 1), (0x039F, 0x6F, 1), (0x03A1, 0x70, 1), (0x03A4, 0x74, 1),
            (0x03A5, 0x79, 1), (0x03A7, 0x78, 1), (0x03B1, 0x61, 1), (0x03B2, 0x62, 1), (0x03B5, 0x65, 1),
            (0x03B7, 0x6E, 1), (0x03B9, 0x69, 1), (0x03BA, 0x6B, 1), (0x03BD, 0x76, 1), (0x03BF, 0x6F, 1),
            (0x03C1, 0x70, 1), (0x03C4, 0x74, 1), (0x03C5, 0x75, 1), (0x03C7, 0x78, 1), (0x03C9, 0x77, 1),
            (0x0405, 0x73, 1), (0x0406, 0x69, 1), (0x0408, 0x6A, 1), (0x0410, 0x61, 1), (0x0412, 0x62, 1),
            (0x0415, 0x65, 1), (0x0417, 0x33, 1), (0x041A, 0x6B, 1), (0x041C, 0x6D, 1), (0x041D, 0x68, 1),
            (0x041E, 0x6F, 1), (0x0420, 0x70, 1), (0x0421, 0x63, 1), (0x0422, 0x74, 1), (0x0423, 0x79, 1),
            (0x0425, 0x78, 1), (0x0430, 0x61, 1), (0x0432, 0x62, 1), (0x0435, 0x65, 1), (0x0437, 0x33, 1),
            (0x043A, 0x6B, 1), (0x043C, 0x6D, 1), (0x043D, 0x68, 1), (0x043E, 0x6F, 1), (0x0440, 0x70, 1),
            (0x0441, 0x63, 1), (0x0442, 0x74, 1), (0x0443, 0x79, 1), (0x0445, 0x78, 1), (0x044C, 0x62, 1),
            (0x0451, 0x65, 1), (0x0455, 0x73, 1), (0x0456, 0x69, 1), (0x0457, 0x69, 1), (0x0458, 0x6A, 1),
            (0x04BA, 0x68, 1), (0x04BB, 0x68, 1), (0x04C0, 0x6C, 1), (0x04CF, 0x6C, 1), (0x0500, 0x64, 1),
            (0x0501, 0x64, 1), (0x051B, 0x71, 1), (0x051D, 0x77, 1), (0x2113, 0x6C, 1), (0x2170, 0x69, 1),
            (0x217C, 0x6C, 1), (0x217D, 0x63, 1), (0x217E, 0x64, 1), (0x217F, 0x6D, 1)
        ]
        var table: [UInt32: UInt16] = [:]
        for (cp, byte, kind) in entries { table[cp] = kind << 8 | UInt16(byte) }
        return table
    }()
}
