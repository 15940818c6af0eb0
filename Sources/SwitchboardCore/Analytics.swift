/// Aggregates of the request log for `/admin/analytics`: requests, errors, tokens, cost and latency percentiles, per
/// time bucket and per group.
public enum Analytics {
    public enum GroupBy: String, Sendable, CaseIterable {
        case none, model, provider, key, team

        func value(_ r: RequestRecord) -> String? {
            switch self {
            case .none: nil
            case .model: r.model
            case .provider: r.provider ?? "none"
            case .key: r.keyID ?? r.keyName
            case .team: r.team ?? "none"
            }
        }
    }

    public enum Bucket: String, Sendable, CaseIterable {
        case none, minute, hour, day

        public var seconds: Double? {
            switch self {
            case .none: nil
            case .minute: 60
            case .hour: 3600
            case .day: 86_400
            }
        }
    }

    public struct Row: Sendable, Equatable {
        /// Start of the bucket, seconds since 1970 (nil without buckets).
        public var bucketStart: Double?
        public var group: String?
        public var requests = 0
        /// Requests answered with a status of 400 or more (a stream that ended in an error included).
        public var errors = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public var cachedTokens = 0
        public var costUSD = 0.0
        public var p50LatencyMs = 0.0
        public var p95LatencyMs = 0.0
        public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
    }

    /// Rows ordered by bucket, then by group.
    public static func aggregate(_ records: [RequestRecord], groupBy: GroupBy, bucket: Bucket) -> [Row] {
        struct Key: Hashable { var bucket: Double?; var group: String? }
        var rows: [Key: Row] = [:]
        var latencies: [Key: [Double]] = [:]
        for r in records {
            let start = bucket.seconds.map { (r.startedAt / $0).rounded(.down) * $0 }
            let key = Key(bucket: start, group: groupBy.value(r))
            var row = rows[key] ?? Row(bucketStart: start, group: key.group)
            row.requests += 1
            if r.status >= 400 { row.errors += 1 }
            row.promptTokens += r.usage.promptTokens
            row.completionTokens += r.usage.completionTokens
            row.cachedTokens += r.usage.cachedTokens
            row.costUSD += r.costUSD
            rows[key] = row
            latencies[key, default: []].append(r.latencyMs)
        }
        for (key, values) in latencies {
            let sorted = values.sorted()
            rows[key]!.p50LatencyMs = percentile(sorted, 50)
            rows[key]!.p95LatencyMs = percentile(sorted, 95)
        }
        return rows.values.sorted { ($0.bucketStart ?? 0, $0.group ?? "") < ($1.bucketStart ?? 0, $1.group ?? "") }
    }

    /// Nearest-rank percentile of sorted values (0 when empty).
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
