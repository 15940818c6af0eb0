// ConfigLoader: the `metrics:` section (what `/metrics` shows beyond its fixed series).
import Yams

extension Walker {
    mutating func metricsConfig(_ node: Node) -> MetricsConfig {
        var metrics = MetricsConfig()
        guard let m = mapping(node, "metrics", allowed: ["key_labels"]) else { return metrics }
        if let v = bool(m, "key_labels", "metrics") { metrics.keyLabels = v }
        return metrics
    }
}
