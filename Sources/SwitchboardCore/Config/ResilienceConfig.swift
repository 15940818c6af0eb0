/// `models[].deployments[]` caps: `rpm`, `tpm`, `max_concurrent`. A deployment at a cap is skipped while another
/// has room.
public struct DeploymentLimits: Sendable, Equatable {
    /// `rpm`: requests started in any 60-second window.
    public var rpm: Int?
    /// `tpm`: tokens (estimated at the start, corrected with the actual usage at the end) in any 60-second window.
    public var tpm: Int?
    /// `max_concurrent`: requests in flight at once (a stream counts until it ends).
    public var maxConcurrent: Int?

    public init(rpm: Int? = nil, tpm: Int? = nil, maxConcurrent: Int? = nil) {
        self.rpm = rpm
        self.tpm = tpm
        self.maxConcurrent = maxConcurrent
    }

    public var isUnlimited: Bool { rpm == nil && tpm == nil && maxConcurrent == nil }
}

/// `models[].deployments[].timeouts`; each unset one falls back to the `routing:` value.
public struct DeploymentTimeouts: Sendable, Equatable {
    /// `connect_s`: opening a connection.
    public var connectSeconds: Double?
    /// `first_token_s`: from sending the request to the response head and, for streams, the first chunk.
    public var firstTokenSeconds: Double?
    /// `idle_s`: the longest gap between two chunks of an answer.
    public var idleSeconds: Double?
    /// `total_s`: the whole attempt, streamed answer included.
    public var totalSeconds: Double?

    public init(connectSeconds: Double? = nil, firstTokenSeconds: Double? = nil, idleSeconds: Double? = nil, totalSeconds: Double? = nil) {
        self.connectSeconds = connectSeconds
        self.firstTokenSeconds = firstTokenSeconds
        self.idleSeconds = idleSeconds
        self.totalSeconds = totalSeconds
    }
}

/// `models[].hedge` (opt-in): when the first attempt has sent no first byte after a threshold, a second attempt
/// starts on another deployment; the first to answer wins and the other is cancelled.
public struct HedgeConfig: Sendable, Equatable {
    /// `after_ms`: the threshold, used until the deployment has enough samples for `percentile`. Default 1000.
    public var afterMs: Double = 1000
    /// `percentile`: when set (e.g. 95), the threshold is that percentile of the deployment's recent times to first
    /// byte (once it has 20 samples), never below 1 ms.
    public var percentile: Double?

    public init(afterMs: Double = 1000, percentile: Double? = nil) {
        self.afterMs = afterMs
        self.percentile = percentile
    }
}

/// `routing.backoff`: the wait before a retry that goes back to a deployment already tried (or waits for one
/// that is cooling down): exponential from `base_ms`, doubled per retry, capped at `max_ms`, with equal jitter
/// (half fixed, half random). A `Retry-After` longer than the back-off is honoured when it fits in `max_ms`.
public struct BackoffConfig: Sendable, Equatable {
    public var baseMs: Double = 100
    public var maxMs: Double = 2000
    public init(baseMs: Double = 100, maxMs: Double = 2000) {
        self.baseMs = baseMs
        self.maxMs = maxMs
    }
}

/// `routing.health`: passive outlier detection per deployment.
public struct HealthPolicyConfig: Sendable, Equatable {
    /// `failure_threshold`: consecutive failures that eject a deployment. Default 5.
    public var failureThreshold = 5
    /// `ejection_s`: the first ejection; doubled on each ejection in a row. Default 5.
    public var ejectionSeconds = 5.0
    /// `max_ejection_s`: the longest ejection. Default 300.
    public var maxEjectionSeconds = 300.0
    /// `cooldown_s`: how long a 429 without `Retry-After` keeps a deployment aside. Default 1.
    public var cooldownSeconds = 1.0
    /// `error_ratio`: also eject when at least this fraction of the last `min_requests` outcomes failed
    /// (default 0.5; `0` turns it off).
    public var errorRatio: Double? = 0.5
    /// `min_requests`: the window for `error_ratio` (2…64). Default 20.
    public var minRequests = 20
    public init() {}
}

/// `providers[].health_check` (optional): active probes of a provider, independent of traffic.
public struct HealthCheckConfig: Sendable, Equatable {
    /// `path`: requested with GET, relative to the provider's API root (default "/models"; for `kind: anthropic`
    /// "/v1/models"). Any answer below 500 other than 429 counts as up.
    public var path: String?
    /// `interval_s`: time between probes. Default 10.
    public var intervalSeconds = 10.0
    /// `timeout_s`: a probe that takes longer fails. Default 2.
    public var timeoutSeconds = 2.0
    /// `unhealthy_threshold`: failed probes in a row that take the provider's deployments out. Default 2.
    public var unhealthyThreshold = 2
    /// `healthy_threshold`: good probes in a row that bring them back. Default 2.
    public var healthyThreshold = 2
    public init(path: String? = nil) { self.path = path }
}
