// ConfigLoader: the `tracing:` section (OpenTelemetry export over OTLP/HTTP).
import Foundation
import Yams

extension Walker {
    mutating func tracingConfig(_ node: Node) -> TracingConfig {
        var t = TracingConfig()
        let path = "tracing"
        guard let m = mapping(node, path, allowed: ["enabled", "endpoint", "protocol", "headers", "service_name", "sample_ratio",
                                                    "export_interval_ms", "export_timeout_s", "max_queue"]) else { return t }
        if let v = bool(m, "enabled", path) { t.enabled = v }
        if let url = string(m, "endpoint", path) {
            if let c = URLComponents(string: url), c.scheme == "http" || c.scheme == "https", let host = c.host, !host.isEmpty {
                t.endpoint = c.path.isEmpty || c.path == "/" ? (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/v1/traces" : url
            } else {
                problem("tracing.endpoint", "expected an http:// or https:// URL of an OTLP/HTTP collector, found \"\(url)\"")
            }
        }
        if let p = string(m, "protocol", path) {
            if let wire = TracingConfig.WireProtocol(rawValue: p) { t.wireProtocol = wire } else {
                problem("tracing.protocol", "expected http/protobuf or http/json, found \"\(p)\" (OTLP over gRPC is not built in)")
            }
        }
        for (name, value) in headerMap(m, "headers", path) { t.headers[name] = value }
        if let v = string(m, "service_name", path) {
            if v.isEmpty { problem("tracing.service_name", "must not be empty") } else { t.serviceName = v }
        }
        if let v = number(m, "sample_ratio", path, range: 0...1) { t.sampleRatio = v }
        if let v = int(m, "export_interval_ms", path, range: 1...600_000) { t.exportIntervalMs = v }
        if let v = number(m, "export_timeout_s", path, range: 0.001...300) { t.exportTimeoutSeconds = v }
        if let v = int(m, "max_queue", path, range: 1...1_000_000) { t.maxQueue = v }
        return t
    }
}
