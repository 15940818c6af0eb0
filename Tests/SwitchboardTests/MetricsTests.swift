import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import MetricsTestKit
import SwitchboardCore
import Synchronization
import SwitchboardTesting
import Testing
@testable import SwitchboardServer

/// `GET /metrics`: request counters, refusals and each deployment's health state.
@Suite struct MetricsTests {
    static let yaml = """
    auth: { master_key: "sk-master", keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: good, kind: mock }
      - { name: bad, kind: mock, error_rate: 1.0 }
    models:
      - { name: ok, deployments: [ { provider: good, model: g-1 } ] }
      - { name: broken, retries: 0, deployments: [ { provider: bad, model: b-1 } ] }
    routing: { health: { failure_threshold: 1, ejection_s: 60 } }
    """

    static func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    /// Each series' type, from the text format's `# TYPE name type` lines.
    static func types(_ text: String) -> [String: String] {
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
        }
        return types
    }

    @Test func countsRequestsAndShowsHealthStates() async throws {
        try await withGateway(Self.yaml) { h in
            let before = try await h.get("/metrics", key: nil)
            #expect(before.status == .ok && before.header("content-type")?.hasPrefix("text/plain") == true)
            #expect(Self.value(before.text, #"switchboard_deployment_state{provider="bad",deployment="b-1",state="closed"}"#) == 1)
            for _ in 0..<3 { _ = try await h.post("/v1/chat/completions", #"{"model":"ok","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test") }
            _ = try await h.post("/v1/chat/completions", #"{"model":"broken","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            _ = try await h.post("/v1/chat/completions", #"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            let after = try await h.get("/metrics", key: nil).text
            #expect(Self.value(after, #"switchboard_requests_total{model="ok",provider="good",deployment="g-1",status_class="2xx"}"#) == 3)
            #expect(Self.value(after, #"switchboard_requests_total{model="broken",provider="bad",deployment="b-1",status_class="5xx"}"#) == 1)
            #expect(Self.value(after, #"switchboard_requests_total{model="unknown",provider="none",deployment="none",status_class="4xx"}"#) == 1)
            #expect(Self.value(after, #"switchboard_request_duration_seconds_count{model="ok"}"#) == 3)
            #expect(Self.value(after, #"switchboard_time_to_first_token_seconds_count{model="ok"}"#) == 3)
            #expect((Self.value(after, #"switchboard_tokens_total{model="ok",kind="completion"}"#) ?? 0) >= 3)
            #expect(Self.value(after, #"switchboard_in_flight"#) == 0)
            // The failing deployment was ejected at its first failure; the good one stays closed.
            #expect(Self.value(after, #"switchboard_deployment_state{provider="bad",deployment="b-1",state="open"}"#) == 1)
            #expect(Self.value(after, #"switchboard_deployment_state{provider="bad",deployment="b-1",state="closed"}"#) == 0)
            #expect(Self.value(after, #"switchboard_deployment_ejections{provider="bad",deployment="b-1"}"#) == 1)
            #expect(Self.value(after, #"switchboard_deployment_state{provider="good",deployment="g-1",state="closed"}"#) == 1)
            #expect(Self.value(after, #"switchboard_deployment_probe_up{provider="good",deployment="g-1"}"#) == 1)
            #expect(!after.contains("sk-test") && !after.contains("sk-master"))
        }
    }

    /// The same series through a test metrics factory: exact values, read without the text format.
    @Test func valuesThroughATestMetricsFactory() async throws {
        let yaml = Self.yaml.replacingOccurrences(of: "routing:", with: """
          - { name: flaky, balancing: round-robin, retries: 1, deployments: [ { provider: bad, model: b-2 }, { provider: good, model: g-2 } ] }
        routing:
        """)
        let metrics = TestMetrics()
        try await withGateway(yaml, metrics: metrics) { h in
            for _ in 0..<3 { _ = try await h.post("/v1/chat/completions", #"{"model":"ok","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test") }
            _ = try await h.post("/v1/chat/completions", #"{"model":"broken","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            let flaky = try await h.post("/v1/chat/completions", #"{"model":"flaky","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            #expect(flaky.status == .ok)
            let records = try await h.records()
            let ok = [("model", "ok"), ("provider", "good"), ("deployment", "g-1"), ("status_class", "2xx")]
            #expect(try metrics.expectCounter("switchboard_requests_total", ok).totalValue == 3)
            #expect(try metrics.expectCounter("switchboard_requests_total",
                                              [("model", "broken"), ("provider", "bad"), ("deployment", "b-1"), ("status_class", "5xx")]).totalValue == 1)
            #expect(try metrics.expectCounter("switchboard_requests_total",
                                              [("model", "flaky"), ("provider", "good"), ("deployment", "g-2"), ("status_class", "2xx")]).totalValue == 1)
            #expect(try metrics.expectCounter("switchboard_retries_total", [("model", "flaky")]).totalValue == 1)
            // One duration and one time to first token per request, the very values of the request log.
            let okRecords = records.filter { $0.model == "ok" }
            let durations = try metrics.expectTimer("switchboard_request_duration_seconds", [("model", "ok")]).values
            #expect(durations.sorted() == okRecords.map { Int64($0.latencyMs * 1_000_000) }.sorted())
            #expect(try metrics.expectTimer("switchboard_time_to_first_token_seconds", [("model", "ok")]).values.count == 3)
            let completion = okRecords.reduce(0) { $0 + $1.usage.completionTokens }
            #expect(completion > 0)
            #expect(try metrics.expectCounter("switchboard_tokens_total", [("model", "ok"), ("kind", "completion")]).totalValue == Int64(completion))
            #expect(try metrics.expectCounter("switchboard_tokens_total", [("model", "ok"), ("kind", "prompt")]).totalValue
                    == Int64(okRecords.reduce(0) { $0 + $1.usage.promptTokens }))
            // In flight went up once per request and is back to 0.
            let inFlight = try metrics.expectMeter("switchboard_in_flight")
            #expect(inFlight.lastValue == 0)
            #expect(inFlight.values.max() == 1)
            // Gauges are set when /metrics is read (no Prometheus text with another factory).
            #expect(try await h.get("/metrics", key: nil).status == .ok)
            #expect(try metrics.expectGauge("switchboard_deployment_state", [("provider", "bad"), ("deployment", "b-1"), ("state", "open")]).lastValue == 1)
            #expect(try metrics.expectGauge("switchboard_deployment_state", [("provider", "good"), ("deployment", "g-1"), ("state", "closed")]).lastValue == 1)
            #expect(try metrics.expectCounter("switchboard_request_log_written_total").totalValue == 5)
            #expect(try metrics.expectCounter("switchboard_request_log_dropped_total").totalValue == 0)
            #expect(try metrics.expectGauge("switchboard_request_log_pending").lastValue == 0)
        }
    }

    /// Per-key series only when `metrics.key_labels` is on, by key name.
    @Test func perKeySeriesOnlyWhenConfigured() async throws {
        let off = TestMetrics()
        try await withGateway(Self.yaml, metrics: off) { h in
            _ = try await h.post("/v1/chat/completions", #"{"model":"ok","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
        }
        #expect(off.counters(label: "switchboard_key_requests_total").isEmpty)
        #expect(off.counters(label: "switchboard_requests_total").count == 1)
        try await withGateway(Self.yaml + "\nmetrics: { key_labels: true }") { h in
            for _ in 0..<2 { _ = try await h.post("/v1/chat/completions", #"{"model":"ok","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test") }
            _ = try await h.post("/v1/chat/completions", #"{"model":"broken","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            let records = try await h.records()
            let text = try await h.get("/metrics", key: nil).text
            #expect(Self.value(text, #"switchboard_key_requests_total{key="tester",status_class="2xx"}"#) == 2)
            #expect(Self.value(text, #"switchboard_key_requests_total{key="tester",status_class="5xx"}"#) == 1)
            let completion = records.reduce(0) { $0 + $1.usage.completionTokens }
            #expect(Self.value(text, #"switchboard_key_tokens_total{key="tester",kind="completion"}"#) == Double(completion))
            #expect(text.contains("# HELP switchboard_key_requests_total"))
            #expect(!text.contains("sk-test"))
        }
    }

    /// The request log's `_total` series are counters, never gauges (as every `_total` series is), and they follow the
    /// log's counts: a second read of `/metrics` adds only what was written since the first.
    @Test func requestLogTotalsAreCounters() async throws {
        let ok = #"{"model":"ok","messages":[{"role":"user","content":"x"}]}"#
        try await withGateway(Self.yaml) { h in
            for _ in 0..<2 { _ = try await h.post("/v1/chat/completions", ok, key: "sk-test") }
            _ = try await h.records()   // flushes the log
            let first = try await h.get("/metrics", key: nil).text
            let types = Self.types(first)
            for name in ["switchboard_request_log_dropped_total", "switchboard_request_log_written_total",
                         "switchboard_request_log_bodies_dropped_total"] {
                #expect(types[name] == "counter", "\(name) is typed \(types[name] ?? "nothing")")
            }
            #expect(types["switchboard_request_log_pending"] == "gauge")
            #expect(Self.value(first, "switchboard_request_log_written_total") == 2)
            #expect(first.contains("# HELP switchboard_request_log_written_total Records written to storage."))

            _ = try await h.post("/v1/chat/completions", ok, key: "sk-test")
            _ = try await h.records()
            let second = try await h.get("/metrics", key: nil).text
            #expect(Self.value(second, "switchboard_request_log_written_total") == 3)
            #expect(Self.value(second, "switchboard_request_log_dropped_total") == 0)
            #expect(Self.value(second, "switchboard_request_log_bodies_dropped_total") == 0)
            #expect(Self.value(second, "switchboard_request_log_pending") == 0)
            for (name, type) in Self.types(second) where name.hasSuffix("_total") {
                #expect(type == "counter", "\(name) is typed \(type)")
            }
        }
    }

    @Test func refusalsAreCountedByReason() async throws {
        try await withGateway(mockYAML) { h in
            let key = try await KeysAppTests.createKey(h, #"{"name":"lim","limits":{"rpm":1}}"#).key
            _ = try await h.post("/v1/chat/completions", chatBody, key: key)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: key).status == .tooManyRequests)
            let text = try await h.get("/metrics", key: nil).text
            #expect(Self.value(text, #"switchboard_refused_total{reason="rate_limit_exceeded"}"#) == 1)
            #expect(Self.value(text, #"switchboard_refused_total{reason="budget_exceeded"}"#) == 0)
        }
    }
}

/// `/admin/logs` and `/admin/analytics` over known traffic.
@Suite struct LogsAPITests {
    @Test func logsAreFilteredAndPagedAndAnalyticsAddUp() async throws {
        try await withGateway(MetricsTests.yaml) { h in
            for _ in 0..<4 { _ = try await h.post("/v1/chat/completions", #"{"model":"ok","messages":[{"role":"user","content":"hello"}]}"#, key: "sk-test") }
            _ = try await h.post("/v1/chat/completions", #"{"model":"broken","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            let page = try await h.get("/admin/logs?model=ok&limit=3", key: "sk-master")
            let json = try page.json()
            let data = try #require(json["data"] as? [[String: Any]])
            #expect(page.status == .ok && data.count == 3 && data.allSatisfy { $0["model"] as? String == "ok" && $0["status"] as? Int == 200 })
            let cursor = try #require(json["next_before"] as? String)
            let rest = try await h.get("/admin/logs?model=ok&limit=3&before=\(cursor)", key: "sk-master").json()["data"] as? [[String: Any]]
            #expect(rest?.count == 1)
            let errors = try await h.get("/admin/logs?status=5xx", key: "sk-master").json()["data"] as? [[String: Any]]
            #expect(errors?.count == 1 && errors?.first?["model"] as? String == "broken")
            #expect(try await h.get("/admin/logs?status=abc", key: "sk-master").status == .badRequest)
            #expect(try await h.get("/admin/logs?from=yesterday", key: "sk-master").status == .badRequest)
            #expect(try await h.get("/admin/logs", key: "sk-test").status == .forbidden)

            let analytics = try await h.get("/admin/analytics?group_by=model&bucket=hour", key: "sk-master").json()
            let rows = try #require(analytics["data"] as? [[String: Any]])
            let ok = try #require(rows.first { $0["group"] as? String == "ok" })
            let records = try await h.records().filter { $0.model == "ok" }
            #expect(ok["requests"] as? Int == 4 && ok["errors"] as? Int == 0)
            #expect(ok["completion_tokens"] as? Int == records.reduce(0) { $0 + $1.usage.completionTokens })
            #expect(abs((ok["cost_usd"] as? Double ?? -1) - records.reduce(0) { $0 + $1.costUSD }) < 1e-12)
            let latencies = records.map(\.latencyMs).sorted()
            #expect(ok["p95_latency_ms"] as? Double == latencies.last)
            let broken = try #require(rows.first { $0["group"] as? String == "broken" })
            #expect(broken["errors"] as? Int == 1 && broken["error_rate"] as? Double == 1)
            #expect(try await h.get("/admin/analytics?group_by=colour", key: "sk-master").status == .badRequest)
        }
    }
}

@Suite struct JSONLogTests {
    @Test func oneObjectPerLineWithMetadata() throws {
        let lines = Finished()
        var logger = Logger(label: "switchboard") { JSONLogHandler(label: $0, write: { lines.add($0) }) }
        logger[metadataKey: "replica"] = "r1"
        logger.warning("Upstream attempt failed", metadata: ["request.id": "req_1", "provider": "openai", "attempt": "\(2)"])
        let line = try #require(lines.labels.first)
        #expect(!line.contains("\n"))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["level"] as? String == "warning" && o["message"] as? String == "Upstream attempt failed" && o["label"] as? String == "switchboard")
        #expect(o["request.id"] as? String == "req_1" && o["provider"] as? String == "openai" && o["replica"] as? String == "r1")
        #expect((o["ts"] as? String)?.hasSuffix("Z") == true)
    }
}

@Suite struct DashboardTests {
    @Test func servedFromTheBinaryAndReadsOnlyTheAdminAPI() async throws {
        try await withGateway(mockYAML) { h in
            let page = try await h.get("/ui", key: nil)
            #expect(page.status == .ok && page.header("content-type")?.hasPrefix("text/html") == true)
            #expect(page.header("content-security-policy")?.contains("connect-src 'self'") == true)
            for needle in ["id=\"chartRate\"", "id=\"health\"", "id=\"log\"", "/admin/analytics?", "/admin/health", "/admin/logs?", "/admin/config",
                           "/admin/keys", "/admin/teams", "id=\"reviewList\"", "/admin/reviews"] {
                #expect(page.text.contains(needle), "\(needle)")
            }
            // Nothing outside the gateway: no external scripts, styles or fonts.
            #expect(!page.text.contains("http://") && !page.text.contains("https://") && !page.text.contains("src=\""))
            // The data behind it needs an admin key.
            #expect(try await h.get("/admin/analytics?group_by=model&bucket=minute", key: GatewayHarness.key).status == .forbidden)
            #expect(try await h.get("/admin/analytics?group_by=model&bucket=minute", key: "sk-master").status == .ok)
        }
    }
}

/// Captures log records (tests).
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.withLock { $0.append((event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })) }
    }
}

@Suite struct RequestIDLogTests {
    /// A line logged while serving a request carries the request's id, also when its code did not add it.
    @Test func linesAboutARequestCarryItsID() async throws {
        let capture = CapturingLogHandler()
        try await FakeUpstream.run({ _ in jsonReply(Wire.error("bad key"), status: .unauthorized) }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, logHandler: capture) { h in
                var headers = HTTPFields()
                headers[HTTPField.Name("x-request-id")!] = "req-log-check-1"
                let r = try await h.post("/v1/chat/completions", #"{"model":"single","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test",
                                         headers: headers)
                #expect(r.status == .badGateway)
            }
        }
        let lines = capture.lines.withLock { $0 }.filter { $0.message.contains("rejected the provider credentials") }
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.metadata["request.id"] == "req-log-check-1" })
    }
}
