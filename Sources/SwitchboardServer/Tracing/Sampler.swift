/// Which spans are recorded, as OpenTelemetry's samplers decide it (`OTEL_TRACES_SAMPLER`): a root's decision by
/// trace-id ratio, a child's by its parent's sampled flag when parent-based.
struct TraceSampler: Sendable, Equatable {
    enum Root: Sendable, Equatable {
        case alwaysOn
        case alwaysOff
        /// OpenTelemetry's `TraceIdRatioBased`: the trace id's lower 8 bytes (big-endian, shifted right by one bit)
        /// below `ratio × 2^63`. The same trace id gets the same decision in every process with the same ratio.
        case traceIDRatio(Double)
    }

    var root: Root
    /// Children follow their parent's sampled flag (the `parentbased_*` samplers); otherwise `root` decides for
    /// every span.
    var parentBased: Bool

    /// The gateway's default: parent-based, new traces by `sample_ratio`.
    static func parentBased(ratio: Double) -> Self {
        TraceSampler(root: ratio >= 1 ? .alwaysOn : .traceIDRatio(ratio), parentBased: true)
    }

    func shouldSample(traceID: TraceID, parent: SpanIdentity?) -> Bool {
        if parentBased, let parent { return parent.isSampled }
        switch root {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let ratio): return Self.ratioDecision(traceID, ratio: ratio)
        }
    }

    static func ratioDecision(_ traceID: TraceID, ratio: Double) -> Bool {
        guard ratio > 0 else { return false }
        guard ratio < 1 else { return true }
        let bound = UInt64(ratio * 9_223_372_036_854_775_808.0)   // ratio × 2^63, below 2^63
        return traceID.low >> 1 < bound
    }
}
