// What the shipped classifiers' model files and features share (the difficulty classifier, the injection
// detector): the base64 the binary embeds them in, and the hashing their Python trainers use byte for byte.

/// A small base64 decoder (standard alphabet; padding and whitespace ignored), so no module needs Foundation for it.
public enum Base64 {
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bitsHeld = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): continue
            default: return nil
            }
            buffer = (buffer << 6) | v
            bitsHeld += 6
            if bitsHeld >= 8 {
                bitsHeld -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bitsHeld)))
            }
        }
        return out
    }
}

/// FNV-1a (32-bit) and the mixing the Python trainers use.
public enum FNV32 {
    public static let offset: UInt32 = 0x811C_9DC5
    public static let prime: UInt32 = 0x0100_0193

    @inline(__always) public static func fmix(_ x: UInt32) -> UInt32 {
        var h = x
        h ^= h >> 16
        h = h &* 0x85EB_CA6B
        h ^= h >> 13
        h = h &* 0xC2B2_AE35
        h ^= h >> 16
        return h
    }

    @inline(__always) public static func pair(_ previous: UInt32, _ current: UInt32) -> UInt32 {
        (previous &* prime) ^ current ^ 0x9E37_79B9
    }

    @inline(__always) public static func single(_ b: UInt8) -> UInt32 { (offset ^ UInt32(b)) &* prime }
}
