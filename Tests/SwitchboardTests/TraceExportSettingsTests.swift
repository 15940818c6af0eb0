import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardCore
import SwitchboardProviders
@testable import SwitchboardServer
import Synchronization
import Testing
import Tracing

/// The `OTEL_*` environment variables over the `tracing:` section, and the export loop's behaviour against a
/// collector: a full batch is sent before the interval, a failing collector costs one warning without secrets.
@Suite struct TraceExportSettingsTests {
    static var config: TracingConfig {
        var c = TracingConfig()
        c.enabled = true
        c.endpoint = "http://yaml:4318/v1/traces"
        c.headers = ["x-yaml": "from-yaml"]
        c.serviceName = "from-yaml"
        c.sampleRatio = 0.5
        c.exportTimeoutSeconds = 3
        return c
    }

    @Test func withoutEnvironmentTheConfigurationHolds() {
        let s = TraceExportSettings(Self.config, environment: [:])
        #expect(s.endpoint == "http://yaml:4318/v1/traces")
        #expect(s.wireProtocol == .protobuf)
        #expect(s.headers.map(\.name) == ["x-yaml"] && s.headers.map(\.value) == ["from-yaml"])
        #expect(s.timeout == .seconds(3))
        #expect(s.sampler == TraceSampler(root: .traceIDRatio(0.5), parentBased: true))
        #expect(s.resource.attributes.map(\.key) == ["service.name"] && s.resource.attributes.map(\.value) == ["from-yaml"])
        #expect(s.exportInterval == .milliseconds(5000) && s.maxQueue == 2048 && s.batchSize == 512)
    }

    @Test func environmentOverrides() {
        let s = TraceExportSettings(Self.config, environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc, x-team = t1",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1500",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_SERVICE_NAME": "from-env",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=ignored,deployment.environment=prod",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
            "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        ])
        #expect(s.endpoint == "https://collector:4318/v1/traces")
        #expect(s.headers.map(\.name) == ["authorization", "x-team"] && s.headers.map(\.value) == ["Bearer abc", "t1"])
        #expect(s.timeout == .milliseconds(1500))
        #expect(s.wireProtocol == .json)
        #expect(s.sampler == TraceSampler(root: .traceIDRatio(0.1), parentBased: false))
        #expect(s.resource.attributes.map(\.key) == ["service.name", "deployment.environment"])
        #expect(s.resource.attributes.map(\.value) == ["from-env", "prod"])
        #expect(s.exportInterval == .milliseconds(250) && s.maxQueue == 100 && s.batchSize == 100)
    }

    /// The traces-specific variables win over the shared ones; their endpoint is used as is.
    @Test func tracesSpecificVariablesWin() {
        let s = TraceExportSettings(Self.config, environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://shared:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/custom",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=shared",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=traces",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        ])
        #expect(s.endpoint == "http://traces:4318/custom")
        #expect(s.headers.map(\.value) == ["traces"])
        #expect(s.wireProtocol == .protobuf)
    }

    @Test(arguments: [
        ("always_on", TraceSampler(root: .alwaysOn, parentBased: false)),
        ("always_off", TraceSampler(root: .alwaysOff, parentBased: false)),
        ("parentbased_always_on", TraceSampler(root: .alwaysOn, parentBased: true)),
        ("parentbased_always_off", TraceSampler(root: .alwaysOff, parentBased: true)),
        ("parentbased_traceidratio", TraceSampler(root: .traceIDRatio(0.5), parentBased: true)),
        ("jaeger_remote", TraceSampler(root: .traceIDRatio(0.5), parentBased: true)),    // unsupported: the configuration's
    ])
    func samplers(name: String, expected: TraceSampler) {
        #expect(TraceExportSettings(Self.config, environment: ["OTEL_TRACES_SAMPLER": name]).sampler == expected)
    }

    /// A value that does not parse is ignored with a warning that names the variable, never the value.
    @Test func badValuesAreIgnoredWithoutLoggingThem() {
        let capture = CapturingLogHandler()
        let logger = Logger(label: "t") { _ in capture }
        let s = TraceExportSettings(Self.config, environment: [
            "OTEL_EXPORTER_OTLP_HEADERS": "secret-token-without-equals", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_TRACES_SAMPLER_ARG": "2",
        ], logger: logger)
        #expect(s.headers.map(\.value) == ["from-yaml"] && s.wireProtocol == .protobuf)
        #expect(s.sampler == TraceSampler(root: .traceIDRatio(0.5), parentBased: true))
        let lines = capture.lines.withLock { $0 }
        #expect(lines.count == 3)
        #expect(!lines.contains { "\($0.message) \($0.metadata)".contains("secret-token") })
        #expect(lines.contains { $0.metadata["variable"] == "OTEL_EXPORTER_OTLP_HEADERS" })
    }

    /// A full batch is exported at once, long before the export interval.
    @Test func fullBatchIsSentBeforeTheInterval() async throws {
        var config = Self.config
        config.exportIntervalMs = 600_000
        let (requests, continuation) = AsyncStream<UpstreamRequest>.makeStream()
        let transport = StreamingTransport(continuation: continuation)
        let (tracing, service) = try #require(GatewayTracing.make(config, environment: ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2",
                                                                                          "OTEL_TRACES_SAMPLER": "always_on"],
                                                                  transport: transport, logger: Logger(label: "t")))
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "t")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for i in 0..<2 { tracing.tracer.startSpan("s\(i)", context: .topLevel, ofKind: .server).end() }
            var it = requests.makeAsyncIterator()
            let first = try #require(await it.next())
            let spans = try ProtoFields(Array(buffer: try #require(first.body))).messages(1).first?.messages(2).first?.messages(2) ?? []
            #expect(spans.count == 2)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// A collector that is down: one warning with the number of spans lost, no header value, and shutdown still ends.
    @Test func failingCollectorCostsOneWarning() async throws {
        let capture = CapturingLogHandler()
        let logger = Logger(label: "t") { _ in capture }
        var config = Self.config
        config.headers = ["x-token": "collector-secret-value"]
        let (tracing, service) = try #require(GatewayTracing.make(config, environment: ["OTEL_TRACES_SAMPLER": "always_on"],
                                                                  transport: FailingTransport(), logger: logger))
        for i in 0..<4 { tracing.tracer.startSpan("s\(i)", context: .topLevel, ofKind: .server).end() }
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "t")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let lines = capture.lines.withLock { $0 }
        let warnings = lines.filter { $0.message.contains("not exported") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["spans"] == "4")
        #expect(warnings.first?.metadata["error"] == "connect_failed")
        #expect(!lines.contains { "\($0.message) \($0.metadata)".contains("collector-secret-value") })
    }
}

/// Hands each request to a stream and answers 200.
struct StreamingTransport: UpstreamTransport {
    let continuation: AsyncStream<UpstreamRequest>.Continuation
    func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        continuation.yield(request)
        return UpstreamResponse(status: 200, headers: [], body: UpstreamBody(ByteBuffer()))
    }
}

/// A collector that cannot be reached.
struct FailingTransport: UpstreamTransport {
    func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        throw UpstreamError(.connectFailed)
    }
}
