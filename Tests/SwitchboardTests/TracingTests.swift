import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryTracing
import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardTesting
import Synchronization
import Testing

/// One span as an OTLP/JSON export shows it.
struct ExportedSpan {
    var name: String
    var traceID: String
    var spanID: String
    var parentSpanID: String
    var kind: Int
    var statusCode: Int
    var attributes: [String: Any]
    var serviceName: String?
    // Used as key paths in `hedgedAttemptsBothEnd`: there, `spans.filter { $0.isClient }` after
    // `#require(spans.first { $0.isServer })` kept the wrong elements in a debug build (Swift 6.3.1), every time.
    var isServer: Bool { kind == 2 }
    var isClient: Bool { kind == 3 }
}

/// Trace and span ids as lower-case hex: OTLP/JSON says hex, proto3's JSON mapping says base64; accept both.
func hexID(_ text: String, bytes: Int) -> String {
    if text.count == bytes * 2, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
    guard let data = Data(base64Encoded: text) else { return text }
    return data.map { String(format: "%02x", $0) }.joined()
}

/// Every span in the OTLP/JSON trace exports a collector received.
func exportedSpans(_ requests: [ReceivedRequest]) throws -> [ExportedSpan] {
    var spans: [ExportedSpan] = []
    for r in requests where r.path == "/v1/traces" {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
        for rs in root["resourceSpans"] as? [[String: Any]] ?? [] {
            let resource = (rs["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
            let service = attributes(resource)["service.name"] as? String
            for ss in rs["scopeSpans"] as? [[String: Any]] ?? [] {
                for s in ss["spans"] as? [[String: Any]] ?? [] {
                    spans.append(ExportedSpan(
                        name: s["name"] as? String ?? "", traceID: hexID(s["traceId"] as? String ?? "", bytes: 16),
                        spanID: hexID(s["spanId"] as? String ?? "", bytes: 8),
                        parentSpanID: hexID(s["parentSpanId"] as? String ?? "", bytes: 8),
                        kind: (s["kind"] as? Int) ?? 0, statusCode: ((s["status"] as? [String: Any])?["code"] as? Int) ?? 0,
                        attributes: attributes(s["attributes"] as? [[String: Any]] ?? []), serviceName: service))
                }
            }
        }
    }
    return spans
}

/// OTLP key/value attributes as a dictionary (ints arrive as strings in OTLP/JSON).
func attributes(_ list: [[String: Any]]) -> [String: Any] {
    var out: [String: Any] = [:]
    for a in list {
        guard let key = a["key"] as? String, let value = a["value"] as? [String: Any] else { continue }
        if let s = value["stringValue"] as? String { out[key] = s }
        else if let i = value["intValue"] { out[key] = Int("\(i)") ?? -1 }
        else if let d = value["doubleValue"] as? Double { out[key] = d }
        else if let b = value["boolValue"] as? Bool { out[key] = b }
    }
    return out
}

@Suite struct TracingTests {
    static let clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let clientSpan = "00f067aa0ba902b7"

    static func yaml(upstream: String, collector: Int?, sampleRatio: Double = 1, hedgeMs: Int? = nil) -> String {
        let tracing = collector.map {
            """
            tracing:
              enabled: true
              endpoint: "http://127.0.0.1:\($0)"
              protocol: http/json
              service_name: gateway-under-test
              sample_ratio: \(sampleRatio)
              export_interval_ms: 20
              headers: { x-collector-token: "env:COLLECTOR_TOKEN" }
            """
        } ?? ""
        return """
        auth: { keys: [ { name: tester, key: "sk-test" } ] }
        providers:
          - { name: up1, kind: openai, base_url: "\(upstream)", api_key: "sk-provider-1" }
          - { name: up2, kind: openai, base_url: "\(upstream)", api_key: "sk-provider-2" }
        models:
          - name: chat
            balancing: round-robin\(hedgeMs.map { "\n    hedge: { after_ms: \($0) }" } ?? "")
            deployments:
              - { provider: up1, model: up-model-1 }
              - { provider: up2, model: up-model-2 }
        routing: { retries: 2, timeout_s: 5, backoff: { base_ms: 1, max_ms: 2 } }
        \(tracing)
        """
    }

    /// Runs the gateway with tracing exported to a local OTLP/HTTP receiver; the exporter is shut down (and so
    /// flushed) before `check` reads what the receiver got.
    static func withTracedGateway(upstream: FakeUpstream, sampleRatio: Double = 1, hedgeMs: Int? = nil,
                                  _ body: @escaping @Sendable (GatewayHarness) async throws -> Void,
                                  check: @escaping @Sendable ([ExportedSpan], [ReceivedRequest]) throws -> Void) async throws {
        try await FakeUpstream.run({ _ in jsonReply("{}") }) { collector in
            try await withGateway(yaml(upstream: upstream.baseURL, collector: collector.port, sampleRatio: sampleRatio, hedgeMs: hedgeMs),
                                  env: ["COLLECTOR_TOKEN": "collector-secret"], mode: .live) { h in
                let exporter = try #require(h.services.tracingExporter)
                let group = ServiceGroup(configuration: .init(services: [exporter], logger: Logger(label: "otel")))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    try await body(h)
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            try check(try exportedSpans(collector.requests), collector.requests)
        }
    }

    /// The first deployment fails, the second answers: one server span continuing the client's trace, one client
    /// span per attempt with the routing decision, and the upstream got each attempt's own `traceparent`.
    @Test func spansPerRequestAndAttemptWithTraceContextInAndOut() async throws {
        let calls = Atomic<Int>(0)
        try await FakeUpstream.run({ _ in
            calls.add(1, ordering: .relaxed).oldValue == 0
                ? jsonReply(Wire.error("down", type: "server_error", code: "boom"), status: .internalServerError)
                : jsonReply(Wire.chatCompletion(prompt: 7, completion: 3))
        }) { upstream in
            try await Self.withTracedGateway(upstream: upstream, { h in
                var headers = HTTPFields()
                headers[HTTPField.Name("traceparent")!] = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
                headers[HTTPField.Name("tracestate")!] = "vendor=abc"
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#, headers: headers)
                #expect(r.status == .ok)
            }, check: { spans, exports in
                #expect(exports.allSatisfy { $0.headers[HTTPField.Name("x-collector-token")!] == "collector-secret" })
                let server = try #require(spans.first { $0.isServer })
                #expect(server.name == "chat chat")
                #expect(server.serviceName == "gateway-under-test")
                #expect(server.traceID == Self.clientTrace)
                #expect(server.parentSpanID == Self.clientSpan)
                #expect(server.attributes["http.response.status_code"] as? Int == 200)
                #expect(server.attributes["switchboard.attempts"] as? Int == 2)
                #expect(server.attributes["switchboard.route.reason"] as? String == "retry")
                #expect(server.attributes["gen_ai.usage.input_tokens"] as? Int == 7)
                #expect(server.attributes["gen_ai.usage.output_tokens"] as? Int == 3)
                #expect(server.attributes["switchboard.key.name"] as? String == "tester")
                let attempts = spans.filter { $0.isClient }.sorted { ($0.attributes["switchboard.attempt"] as? Int ?? 0) < ($1.attributes["switchboard.attempt"] as? Int ?? 0) }
                try #require(attempts.count == 2)
                #expect(attempts.allSatisfy { $0.traceID == Self.clientTrace && $0.parentSpanID == server.spanID })
                #expect(attempts.map { $0.attributes["switchboard.route.reason"] as? String } == ["primary", "retry"])
                #expect(attempts.map { $0.attributes["switchboard.provider"] as? String } == ["up1", "up2"])
                #expect(attempts.map { $0.attributes["switchboard.route.policy"] as? String } == ["round-robin", "round-robin"])
                #expect(attempts[0].statusCode == 2)       // error
                #expect(attempts[0].attributes["error.type"] as? String == "upstream_error")
                #expect(attempts[1].statusCode != 2)
                #expect(attempts[1].attributes["http.response.status_code"] as? Int == 200)
                // Each upstream call carried its own attempt span as parent, in the client's trace.
                let sent = upstream.requests.map { $0.headers[HTTPField.Name("traceparent")!] }
                #expect(sent == attempts.map { "00-\(Self.clientTrace)-\($0.spanID)-01" })
                #expect(upstream.requests.allSatisfy { $0.headers[HTTPField.Name("tracestate")!] == "vendor=abc" })
            })
        }
    }

    /// A streamed answer: the attempt span lasts until the stream ends; a trace starts at the gateway when the
    /// client sent none.
    @Test func streamsAndNewTraces() async throws {
        try await FakeUpstream.run({ _ in
            sseReply { send in
                try await send(Wire.chunk("Hel"))
                try await send(Wire.chunk("lo", finish: "stop"))
                try await send(Wire.usageChunk(prompt: 4, completion: 2))
                try await send(Wire.done)
            }
        }) { upstream in
            try await Self.withTracedGateway(upstream: upstream, { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
                #expect(r.status == .ok)
                #expect(r.text.contains("[DONE]"))
            }, check: { spans, _ in
                let server = try #require(spans.first { $0.isServer })
                #expect(server.parentSpanID == "")
                #expect(server.traceID.count == 32 && server.traceID != Self.clientTrace)
                #expect(server.attributes["gen_ai.usage.output_tokens"] as? Int == 2)
                let attempt = try #require(spans.first { $0.isClient })
                #expect(attempt.parentSpanID == server.spanID)
                #expect(attempt.attributes["switchboard.ttft_ms"] != nil)
                #expect(attempt.statusCode != 2)
                let sent = try #require(upstream.requests.first?.headers[HTTPField.Name("traceparent")!])
                #expect(sent == "00-\(server.traceID)-\(attempt.spanID)-01")
            })
        }
    }

    /// Sampled out (ratio 0, no parent): nothing is exported, but the upstream still gets a trace context
    /// (not sampled) so its own spans can join.
    @Test func sampledOutRequestsExportNothing() async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion()) }) { upstream in
            try await Self.withTracedGateway(upstream: upstream, sampleRatio: 0, { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(r.status == .ok)
            }, check: { spans, _ in
                #expect(spans.isEmpty)
                let sent = try #require(upstream.requests.first?.headers[HTTPField.Name("traceparent")!])
                #expect(sent.hasPrefix("00-") && sent.hasSuffix("-00"))
            })
        }
    }

    /// A hedged request: the slow first attempt loses and is cancelled; both attempt spans end (and are exported),
    /// the hedge's with `switchboard.route.reason` = hedge.
    @Test func hedgedAttemptsBothEnd() async throws {
        let release = Gate()
        try await FakeUpstream.run({ r in
            if r.headers[.authorization] == "Bearer sk-provider-1" { await release.wait() }
            return jsonReply(Wire.chatCompletion(content: "fast"))
        }) { upstream in
            try await Self.withTracedGateway(upstream: upstream, hedgeMs: 30, { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(r.status == .ok)
                #expect(r.header("x-switchboard-route") == "hedge")
                release.open()
            }, check: { spans, _ in
                let attempts = spans.filter(\.isClient)
                let found = spans.first(where: \.isServer)
                let server = try #require(found)
                #expect(server.attributes["switchboard.hedged"] as? Bool == true)
                try #require(attempts.count == 2)
                let reasons = Set(attempts.compactMap { $0.attributes["switchboard.route.reason"] as? String })
                #expect(reasons == ["primary", "hedge"])
                let loser = try #require(attempts.first { $0.attributes["switchboard.route.reason"] as? String == "primary" })
                #expect(loser.statusCode == 2 || loser.attributes["switchboard.attempt.cancelled"] as? Bool == true)
                #expect(attempts.allSatisfy { $0.parentSpanID == server.spanID })
            })
        }
    }

    /// Spans end exactly once: with the record, or — if a request vanished without one — when it is dropped.
    @Test func requestSpansEndOnceEvenWhenDropped() {
        let tracer = InMemoryTracer()
        do {
            let spans = RequestSpans(tracer.startSpan("chat demo", ofKind: .server))
            spans.setAttempt(tracer.startSpan("attempt p/d", ofKind: .client))
        }
        #expect(tracer.finishedSpans.count == 2)
        #expect(tracer.activeSpans.isEmpty)
        #expect(tracer.finishedSpans.contains { $0.operationName == "chat demo" && $0.attributes["switchboard.abandoned"] != nil })
        tracer.clearAll()
        let kept = RequestSpans(tracer.startSpan("chat demo", ofKind: .server))
        let record = RequestRecord(id: "r", startedAt: 0, keyName: "k", endpoint: "chat.completions", model: "demo", status: 502, errorCode: "upstream_error")
        kept.end(record)
        kept.end(record)
        #expect(tracer.finishedSpans.count == 1)
        #expect(tracer.finishedSpans.first?.status?.code == .error)
        #expect(tracer.finishedSpans.first?.attributes["error.type"]?.toSpanAttribute() == .string("upstream_error"))
    }

    /// Tracing off (the default): no exporter, and the client's trace context reaches the upstream unchanged.
    @Test func offByDefaultAndPassesTheClientsContextOn() async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion()) }) { upstream in
            try await withGateway(Self.yaml(upstream: upstream.baseURL, collector: nil), mode: .live) { h in
                #expect(h.services.tracingExporter == nil)
                var headers = HTTPFields()
                headers[HTTPField.Name("traceparent")!] = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#, headers: headers)
                #expect(r.status == .ok)
            }
            #expect(upstream.requests.first?.headers[HTTPField.Name("traceparent")!] == "00-\(Self.clientTrace)-\(Self.clientSpan)-01")
        }
    }

    @Test func configIsChecked() throws {
        let base = """
        providers: [ { name: p, kind: mock } ]
        models: [ { name: m, deployments: [ { provider: p, model: x } ] } ]
        """
        let c = try ConfigLoader.load(yaml: base + "\ntracing: { enabled: true, endpoint: \"https://otel.example.com:4318/\" }", environment: [:])
        #expect(c.tracing.enabled)
        #expect(c.tracing.endpoint == "https://otel.example.com:4318/v1/traces")
        #expect(c.tracing.wireProtocol == .protobuf)
        let kept = try ConfigLoader.load(yaml: base + "\ntracing: { endpoint: \"http://collector:4318/custom/traces\" }", environment: [:])
        #expect(kept.tracing.endpoint == "http://collector:4318/custom/traces")
        #expect(!kept.tracing.enabled)
        do {
            _ = try ConfigLoader.load(yaml: base + "\ntracing: { endpoint: \"collector:4318\", protocol: grpc, sample_ratio: 2, headers: { a: \"env:NOPE\" } }",
                                      environment: [:])
            Issue.record("expected problems")
        } catch {
            let text = error.problems.map(\.description).joined(separator: "\n")
            #expect(text.contains("tracing.endpoint"))
            #expect(text.contains("tracing.protocol"))
            #expect(text.contains("tracing.sample_ratio"))
            #expect(text.contains("tracing.headers.a"))
        }
    }
}
