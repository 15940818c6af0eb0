import Foundation
import HTTPTypes
import HummingbirdTesting
import SwitchboardCore
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
