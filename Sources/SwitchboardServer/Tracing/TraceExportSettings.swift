import Logging
import SwitchboardCore

/// What the tracer and its exporter run with: the `tracing:` section with the standard OpenTelemetry environment
/// variables laid over it (the environment wins, as the OpenTelemetry SDKs do it):
///
/// - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended)
/// - `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` (`k=v,k2=v2`; replaces the configured headers),
///   `…_TIMEOUT` (milliseconds), `…_PROTOCOL` (`http/protobuf`, `http/json`), `…_CERTIFICATE` (a CA bundle file)
/// - `OTEL_TRACES_SAMPLER` (`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`,
///   `parentbased_always_off`, `parentbased_traceidratio`) and `OTEL_TRACES_SAMPLER_ARG` (the ratio)
/// - `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` (`k=v,…`; `service.name` there loses to the service name)
/// - `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` (milliseconds), `OTEL_BSP_MAX_QUEUE_SIZE`,
///   `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
///
/// A value that does not parse is ignored with a warning that names the variable (never its value: headers are
/// secrets).
struct TraceExportSettings: Sendable, Equatable {
    var endpoint: String
    var wireProtocol: TracingConfig.WireProtocol
    var headers: [(name: String, value: String)]
    var timeout: Duration
    var caFile: String?
    var sampler: TraceSampler
    var resource: ExportResource
    var exportInterval: Duration
    var maxQueue: Int
    var batchSize: Int

    static func == (a: Self, b: Self) -> Bool {
        a.endpoint == b.endpoint && a.wireProtocol == b.wireProtocol && a.headers.map(\.name) == b.headers.map(\.name)
            && a.headers.map(\.value) == b.headers.map(\.value) && a.timeout == b.timeout && a.caFile == b.caFile
            && a.sampler == b.sampler && a.resource == b.resource && a.exportInterval == b.exportInterval
            && a.maxQueue == b.maxQueue && a.batchSize == b.batchSize
    }

    init(_ config: TracingConfig, environment env: [String: String], logger: Logger? = nil) {
        func warn(_ key: String, _ expected: String) {
            logger?.warning("Ignoring an OpenTelemetry environment variable that does not parse",
                            metadata: ["variable": "\(key)", "expected": "\(expected)"])
        }
        /// The traces-specific variable, else the shared one (with the name it came from).
        func otlp(_ suffix: String) -> (key: String, value: String)? {
            for key in ["OTEL_EXPORTER_OTLP_TRACES_\(suffix)", "OTEL_EXPORTER_OTLP_\(suffix)"] {
                if let v = env[key] { return (key, v) }
            }
            return nil
        }
        func milliseconds(_ key: String) -> Duration? {
            guard let text = env[key] else { return nil }
            guard let ms = Int(text.trimmed), ms >= 0 else { warn(key, "a non-negative number of milliseconds"); return nil }
            return .milliseconds(ms)
        }
        func positive(_ key: String) -> Int? {
            guard let text = env[key] else { return nil }
            guard let n = Int(text.trimmed), n > 0 else { warn(key, "a positive integer"); return nil }
            return n
        }

        endpoint = config.endpoint
        if let v = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] {
            endpoint = v.trimmed
        } else if let v = env["OTEL_EXPORTER_OTLP_ENDPOINT"] {
            let base = v.trimmed
            endpoint = base + (base.hasSuffix("/") ? "v1/traces" : "/v1/traces")
        }
        wireProtocol = config.wireProtocol
        if let (key, v) = otlp("PROTOCOL") {
            if let p = TracingConfig.WireProtocol(rawValue: v.trimmed) { wireProtocol = p } else { warn(key, "http/protobuf or http/json") }
        }
        headers = config.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let (key, v) = otlp("HEADERS") {
            if let parsed = Self.pairs(v) { headers = parsed } else { warn(key, "comma-separated name=value pairs") }
        }
        timeout = .milliseconds(Int64(config.exportTimeoutSeconds * 1000))
        if let (key, _) = otlp("TIMEOUT"), let t = milliseconds(key) { timeout = t }
        caFile = otlp("CERTIFICATE").map(\.value)

        var ratio = config.sampleRatio
        var kind = "parentbased_traceidratio"
        if let v = env["OTEL_TRACES_SAMPLER"] {
            let k = v.trimmed.lowercased()
            if ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
                "parentbased_traceidratio"].contains(k) { kind = k } else {
                warn("OTEL_TRACES_SAMPLER", "always_on, always_off, traceidratio or parentbased_*")
            }
        }
        if let v = env["OTEL_TRACES_SAMPLER_ARG"], kind.hasSuffix("traceidratio") {
            if let r = Double(v.trimmed), r >= 0, r <= 1 { ratio = r } else { warn("OTEL_TRACES_SAMPLER_ARG", "a ratio from 0 to 1") }
        }
        let root: TraceSampler.Root = switch kind {
        case "always_on", "parentbased_always_on": .alwaysOn
        case "always_off", "parentbased_always_off": .alwaysOff
        default: ratio >= 1 ? .alwaysOn : .traceIDRatio(ratio)
        }
        sampler = TraceSampler(root: root, parentBased: kind.hasPrefix("parentbased_"))

        var serviceName = config.serviceName
        if let v = env["OTEL_SERVICE_NAME"]?.trimmed, !v.isEmpty { serviceName = v }
        var extra: [(key: String, value: String)] = []
        if let v = env["OTEL_RESOURCE_ATTRIBUTES"] {
            if let parsed = Self.pairs(v) {
                var seen: Set<String> = ["service.name"]
                for p in parsed.reversed() where seen.insert(p.name).inserted { extra.append((p.name, p.value)) }
                extra.sort { $0.key < $1.key }
            } else { warn("OTEL_RESOURCE_ATTRIBUTES", "comma-separated key=value pairs") }
        }
        resource = ExportResource(attributes: [("service.name", serviceName)] + extra)

        exportInterval = .milliseconds(config.exportIntervalMs)
        if let t = milliseconds("OTEL_BSP_SCHEDULE_DELAY"), t > .zero { exportInterval = t }
        if let t = milliseconds("OTEL_BSP_EXPORT_TIMEOUT"), otlp("TIMEOUT") == nil { timeout = t }
        maxQueue = positive("OTEL_BSP_MAX_QUEUE_SIZE") ?? config.maxQueue
        batchSize = min(positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") ?? 512, maxQueue)
    }

    /// `name=value,name2=value2` (OTLP exporter headers, resource attributes); values may be percent-encoded.
    /// nil if any entry has no `=` or an empty name.
    static func pairs(_ text: String) -> [(name: String, value: String)]? {
        var out: [(name: String, value: String)] = []
        for entry in text.split(separator: ",") where !entry.trimmed.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].trimmed.isEmpty else { return nil }
            out.append((parts[0].trimmed, percentDecoded(parts[1].trimmed)))
        }
        return out
    }

    private static func percentDecoded(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2, let v = Hex.parse(ArraySlice(it.prefix(2).map { $0 | 0x20 })) {
                bytes.append(UInt8(v))
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    fileprivate var trimmed: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
