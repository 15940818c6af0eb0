// ConfigLoader: the `batches:` section (OpenAI's Files and Batch APIs, run by the gateway itself).
import Yams

/// `batches:` — `POST /v1/files` and `POST /v1/batches`, whose lines the gateway serves itself in the `batch`
/// priority class.
///
/// Keys: `enabled` (bool, default true: the routes answer and this replica runs lines), `concurrency` (int, lines
/// in flight per replica, default 4), `max_file_bytes` (int, largest upload, default 100 MB), `retention_days`
/// (number, files and finished batches deleted after it, default 30; 0 keeps them), `lease_s` (number, how long a
/// line taken by a replica stays its own without a heartbeat, default 60), `poll_ms` (int, how often an idle runner
/// looks for work, default 1000).
public struct BatchesConfig: Sendable, Equatable {
    public var enabled = true
    public var concurrency = 4
    public var maxFileBytes = 100 * 1024 * 1024
    public var retentionDays = 30.0
    public var leaseSeconds = 60.0
    public var pollMilliseconds = 1000
    /// Lines per batch file at most (OpenAI's limit).
    public static let maxLines = 50_000

    public init() {}
}

extension Walker {
    mutating func batchesConfig(_ node: Node) -> BatchesConfig {
        var batches = BatchesConfig()
        guard let m = mapping(node, "batches", allowed: ["enabled", "concurrency", "max_file_bytes", "retention_days", "lease_s", "poll_ms"])
        else { return batches }
        if let v = bool(m, "enabled", "batches") { batches.enabled = v }
        if let v = int(m, "concurrency", "batches", range: 1...1024) { batches.concurrency = v }
        if let v = int(m, "max_file_bytes", "batches", range: 1...(8 << 30)) { batches.maxFileBytes = v }
        if let v = number(m, "retention_days", "batches", range: 0...36_500) { batches.retentionDays = v }
        if let v = number(m, "lease_s", "batches", range: 1...86_400) { batches.leaseSeconds = v }
        if let v = int(m, "poll_ms", "batches", range: 10...60_000) { batches.pollMilliseconds = v }
        return batches
    }
}
