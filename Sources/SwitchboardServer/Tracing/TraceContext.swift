import Synchronization
import Tracing

/// A 16-byte W3C trace id as two big-endian halves (`high` is the first 8 bytes).
struct TraceID: Sendable, Hashable {
    var high: UInt64
    var low: UInt64

    var isValid: Bool { high != 0 || low != 0 }

    /// Lower-case hex, 32 characters.
    var hex: String {
        String(unsafeUninitializedCapacity: 32) { out in
            Hex.write(high, into: out, at: 0)
            Hex.write(low, into: out, at: 16)
            return 32
        }
    }
}

/// The identity of one span, carried in an `InstrumentationContext` so that children and the outgoing
/// `traceparent` can find it: trace and span id, the W3C trace flags (bit 0: sampled), `tracestate`, and whether it
/// came from a client (remote) rather than a span of this process.
struct SpanIdentity: Sendable, Hashable {
    var traceID: TraceID
    var spanID: UInt64
    var flags: UInt8
    var traceState: String?
    var isRemote: Bool

    var isSampled: Bool { flags & 1 == 1 }

    /// `00-TRACEID-SPANID-FLAGS` (W3C Trace Context, version 00).
    var traceparent: String {
        String(unsafeUninitializedCapacity: 55) { out in
            for (i, c) in "00-".utf8.enumerated() { out[i] = c }
            Hex.write(traceID.high, into: out, at: 3)
            Hex.write(traceID.low, into: out, at: 19)
            out[35] = UInt8(ascii: "-")
            Hex.write(spanID, into: out, at: 36)
            out[52] = UInt8(ascii: "-")
            out[53] = UInt8(ascii: "0")
            out[54] = isSampled ? UInt8(ascii: "1") : UInt8(ascii: "0")
            return 55
        }
    }

    /// Parses a version-00 `traceparent` (55 characters, lower-case hex, ids not all zero); nil for anything else.
    init?(traceparent: String, traceState: String?) {
        let b = Array(traceparent.utf8)
        guard b.count == 55, b[0] == UInt8(ascii: "0"), b[1] == UInt8(ascii: "0"), b[2] == UInt8(ascii: "-"),
              b[35] == UInt8(ascii: "-"), b[52] == UInt8(ascii: "-"),
              let high = Hex.parse(b[3..<19]), let low = Hex.parse(b[19..<35]), let span = Hex.parse(b[36..<52]),
              let flags = Hex.parse(b[53..<55]), high != 0 || low != 0, span != 0 else { return nil }
        traceID = TraceID(high: high, low: low)
        spanID = span
        self.flags = UInt8(flags)
        self.traceState = traceState.flatMap { $0.isEmpty ? nil : $0 }
        isRemote = true
    }

    init(traceID: TraceID, spanID: UInt64, flags: UInt8, traceState: String?, isRemote: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
        self.traceState = traceState
        self.isRemote = isRemote
    }
}

/// Where a span's identity lives in an `InstrumentationContext`.
enum SpanIdentityKey: InstrumentationContextKey {
    typealias Value = SpanIdentity
    static let nameOverride: String? = "otel-span-context"
}

extension InstrumentationContext {
    var spanIdentity: SpanIdentity? {
        get { self[SpanIdentityKey.self] }
        set { self[SpanIdentityKey.self] = newValue }
    }
}

/// Lower-case hex for ids (no Foundation, no format strings).
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// 16 hex characters, zero-padded.
    static func string(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { out in
            write(value, into: out, at: 0)
            return 16
        }
    }

    /// Writes `value` as 16 hex characters at `offset`.
    static func write(_ value: UInt64, into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for i in 0..<16 { out[offset + i] = digits[Int((value >> UInt64(60 - 4 * i)) & 0xF)] }
    }

    /// The value of up to 16 lower-case hex characters; nil on any other character.
    static func parse(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in bytes {
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }
}

/// Trace and span ids from SplitMix64 over one atomic counter: no lock and no system call per id, seeded once per
/// process from the system's random source (or a fixed seed in tests, for a reproducible sequence).
final class IDGenerator: Sendable {
    private let state: Atomic<UInt64>

    init(seed: UInt64? = nil) {
        var system = SystemRandomNumberGenerator()
        state = Atomic(seed ?? system.next())
    }

    func next() -> UInt64 {
        // SplitMix64 (Steele, Lea, Flood 2014): a Weyl sequence through a bijective mixer.
        var z = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A span id: never zero.
    func spanID() -> UInt64 {
        while true {
            let v = next()
            if v != 0 { return v }
        }
    }

    /// A trace id: never all zero.
    func traceID() -> TraceID {
        while true {
            let id = TraceID(high: next(), low: next())
            if id.isValid { return id }
        }
    }
}
