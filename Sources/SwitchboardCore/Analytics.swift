/// Aggregates of the request log for `/admin/analytics`: requests, errors, tokens, cost and latency percentiles, per
/// time bucket and per group.
///
/// Grouped by model, provider or deployment, a request counts under the model and deployment that served it (or were
/// tried last): the model a fallback answered with, never a name a client asked for that no provider was tried for.
/// Requests the gateway answered itself before trying any provider — refused: an unknown model, a key's limits or
/// budget, a policy, no deployment available — have no model or provider to count under; they make one row of their
/// own per bucket, with `refused` set, no group, and their error codes counted.
public enum Analytics {
    public enum GroupBy: String, Sendable, CaseIterable {
        case none, model, provider, deployment, key, team, rule

        /// The record's group; nil under `none`, and for a refused record under `model`, `provider` and `deployment`.
        /// A deployment is `PROVIDER/UPSTREAM_MODEL` (`mock-a/gpt-4o-mini`); a rule is the routing rule that chose the
        /// model (`none`: no rule did).
        func value(_ r: RequestRecord) -> String? {
            switch self {
            case .none: nil
            case .model: r.served
            case .provider: r.provider
            case .deployment: r.provider.map { "\($0)/\(r.upstreamModel ?? "")" }
            case .key: r.keyID ?? r.keyName
            case .team: r.team ?? "none"
            case .rule: r.routeRule ?? "none"
            }
        }

        /// Whether refused records make a row of their own (they have no model, provider or deployment).
        var setsRefusedApart: Bool { self == .model || self == .provider || self == .deployment }
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

    /// Whether the gateway answered the request itself, before trying any provider.
    public static func isRefused(_ r: RequestRecord) -> Bool { r.provider == nil }

    public struct Row: Sendable, Equatable {
        /// Start of the bucket, seconds since 1970 (nil without buckets).
        public var bucketStart: Double?
        public var group: String?
        /// The row of requests refused before any provider was tried (grouped by model or provider; `group` is nil).
        public var refused = false
        /// Grouped by key: the key's name in the group's latest record (the group is the key's id when it has one).
        public var keyName: String?
        public var requests = 0
        /// Requests answered with a status of 400 or more (a stream that ended in an error included).
        public var errors = 0
        /// Requests by their error code (`model_not_found`, `upstream_timeout`, …).
        public var errorCodes: [String: Int] = [:]
        public var promptTokens = 0
        public var completionTokens = 0
        public var cachedTokens = 0
        public var costUSD = 0.0
        public var p50LatencyMs = 0.0
        public var p95LatencyMs = 0.0
        public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }

        public init(bucketStart: Double? = nil, group: String? = nil, refused: Bool = false) {
            self.bucketStart = bucketStart
            self.group = group
            self.refused = refused
        }
    }

    /// Rows ordered by bucket, then the refused row, then by group.
    public static func aggregate(_ records: [RequestRecord], groupBy: GroupBy, bucket: Bucket) -> [Row] {
        struct Key: Hashable { var bucket: Double?; var group: String?; var refused: Bool }
        var rows: [Key: Row] = [:]
        var latencies: [Key: [Double]] = [:]
        var latest: [Key: Double] = [:]
        for r in records {
            let start = bucket.seconds.map { (r.startedAt / $0).rounded(.down) * $0 }
            let key = Key(bucket: start, group: groupBy.value(r), refused: groupBy.setsRefusedApart && isRefused(r))
            var row = rows[key] ?? Row(bucketStart: start, group: key.group, refused: key.refused)
            row.requests += 1
            if r.status >= 400 { row.errors += 1 }
            if let code = r.errorCode { row.errorCodes[code, default: 0] += 1 }
            row.promptTokens += r.usage.promptTokens
            row.completionTokens += r.usage.completionTokens
            row.cachedTokens += r.usage.cachedTokens
            row.costUSD += r.costUSD
            if groupBy == .key, r.startedAt >= latest[key] ?? -.infinity {
                latest[key] = r.startedAt
                row.keyName = r.keyName
            }
            rows[key] = row
            latencies[key, default: []].append(r.latencyMs)
        }
        for (key, values) in latencies {
            let sorted = values.sorted()
            rows[key]!.p50LatencyMs = percentile(sorted, 50)
            rows[key]!.p95LatencyMs = percentile(sorted, 95)
        }
        return rows.values.sorted {
            ($0.bucketStart ?? 0, $0.refused ? 0 : 1, $0.group ?? "") < ($1.bucketStart ?? 0, $1.refused ? 0 : 1, $1.group ?? "")
        }
    }

    /// Nearest-rank percentile of sorted values (0 when empty).
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
