// The observability sections of the configuration: `logging`, `metrics`, `tracing`, `audit`.

/// `logging:` — how the gateway writes its log, and how long it keeps the request log.
public struct LoggingConfig: Sendable, Equatable {
    public enum Format: String, Sendable { case text, json }
    /// `format`: `text` (default) or `json` (one object per line: time, level, label, message, metadata).
    public var format: Format = .text
    /// `access_log`: one `info` line per request (method, path, status, duration, request id, key name). Off by default.
    public var accessLog = false
    /// `request_log_retention_days`: request-log records older than this are deleted (hourly); 0 keeps them. Default 30.
    public var retentionDays: Double = 30
    /// `bodies`: request and response bodies in the request log. Off by default.
    public var bodies = BodyLogConfig()

    public init() {}
}

/// `logging.bodies`: keeps the first `max_bytes` of each request's and response's body in the request log, with
/// personal data and secrets replaced (`redact`, `patterns`) before they are written.
public struct BodyLogConfig: Sendable, Equatable {
    /// `enabled`: default false.
    public var enabled = false
    /// `max_bytes`: the most of each body kept; default 16 KiB.
    public var maxBytes = 16 << 10
    /// `redact`: what is replaced by `[REDACTED:KIND]`; default every kind.
    public var redact: [RedactionKind] = RedactionKind.allCases
    /// `patterns`: further regular expressions, each match replaced by `[REDACTED]`.
    public var patterns: [String] = []

    public init() {}
}

/// `metrics:` — what `/metrics` shows beyond its fixed series.
public struct MetricsConfig: Sendable, Equatable {
    /// `key_labels`: also count requests, tokens and cost per client key (label `key`: the key's name, so one series
    /// per key that sends traffic). Off by default: a gateway with many keys would grow many series.
    public var keyLabels = false

    public init() {}
}

/// `tracing:` — OpenTelemetry spans exported over OTLP/HTTP. Off by default. The standard `OTEL_EXPORTER_OTLP_*`
/// and `OTEL_TRACES_SAMPLER*` environment variables override these values.
public struct TracingConfig: Sendable, Equatable {
    public enum WireProtocol: String, Sendable, CaseIterable { case protobuf = "http/protobuf", json = "http/json" }
    /// `enabled`: default false.
    public var enabled = false
    /// `endpoint`: the collector's OTLP/HTTP traces URL; a URL without a path gets `/v1/traces`.
    /// Default `http://localhost:4318/v1/traces`.
    public var endpoint = "http://localhost:4318/v1/traces"
    /// `protocol`: `http/protobuf` (default) or `http/json`.
    public var wireProtocol = WireProtocol.protobuf
    /// `headers`: sent with every export (values may be `env:NAME`; never logged).
    public var headers: [String: String] = [:]
    /// `service_name`: the `service.name` resource attribute; default `switchboard`.
    public var serviceName = "switchboard"
    /// `sample_ratio`: share of new traces recorded (0–1, default 1); a client's `traceparent` decides for its own.
    public var sampleRatio = 1.0
    /// `export_interval_ms`: longest a finished span waits before it is sent; default 5000.
    public var exportIntervalMs = 5000
    /// `export_timeout_s`: default 10.
    public var exportTimeoutSeconds = 10.0
    /// `max_queue`: finished spans waiting for export; beyond it new ones are dropped. Default 2048.
    public var maxQueue = 2048

    public init() {}
}

/// `audit:` — the audit log of admin actions (`GET /admin/audit`).
public struct AuditConfig: Sendable, Equatable {
    /// `retention_days`: entries older than this are deleted (at start, then hourly); 0 keeps them. Default 365.
    public var retentionDays: Double = 365

    public init() {}
}
