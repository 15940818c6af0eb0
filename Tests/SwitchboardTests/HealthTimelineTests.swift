import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import SwitchboardRouting
@testable import SwitchboardServer

/// Each deployment's recent changes of health (`events` in `/admin/health`): what the breaker and the active health
/// checks did, and why, oldest first, at most `HealthEventRing.capacity`.
@Suite struct HealthTimelineTests {
    static var policy: CircuitBreaker.Policy {
        var p = CircuitBreaker.Policy()
        p.failureThreshold = 3
        return p
    }

    @Test func breakerTransitionsSayWhy() {
        var b = CircuitBreaker(policy: Self.policy)
        var seen: [HealthTransition?] = []
        seen.append(b.failed(nowMs: 0))
        seen.append(b.failed(nowMs: 0))
        seen.append(b.failed(nowMs: 0))
        seen.append(b.failed(nowMs: 1))                                         // already open: nothing
        let early = b.admitting(nowMs: 4_999), trial = b.admitting(nowMs: 5_000)
        #expect(!early.admitted && early.transition == nil && trial.admitted)
        seen.append(trial.transition)
        seen.append(b.failed(nowMs: 5_100))
        _ = b.admit(nowMs: 15_100)
        seen.append(b.succeeded())
        seen.append(b.succeeded())                                              // closed stays closed: nothing
        seen.append(b.rateLimited(nowMs: 20_000, retryAfterMs: 20_000))
        seen.append(b.rateLimited(nowMs: 21_000, retryAfterMs: 1_000))          // extends the cooldown under way
        seen.append(b.rateLimited(nowMs: 40_000, retryAfterMs: nil))
        seen.append(b.setActivelyDown(true, reason: "probe failed: connection refused"))
        seen.append(b.setActivelyDown(true, reason: "again"))
        seen.append(b.setActivelyDown(false, reason: "probe succeeded"))
        #expect(seen == [
            nil, nil, HealthTransition(.open, "3 consecutive failures; ejected for 5 s"), nil,
            HealthTransition(.halfOpen, "ejection over: one trial request let through"),
            HealthTransition(.open, "trial request failed; ejected for 10 s"),
            HealthTransition(.closed, "recovered after a successful trial request"), nil,
            HealthTransition(.coolingDown, "rate limited, Retry-After 20 s"), nil,
            HealthTransition(.coolingDown, "rate limited (no Retry-After): set aside for 1 s"),
            HealthTransition(.down, "probe failed: connection refused"), nil, HealthTransition(.up, "probe succeeded"),
        ])
    }

    @Test func aFailureRatioEjectionSaysSo() {
        var p = CircuitBreaker.Policy()
        p.failureThreshold = 100
        p.ratioWindow = 4
        var b = CircuitBreaker(policy: p)
        b.succeeded()
        b.failed(nowMs: 0)
        b.succeeded()
        let ejected = b.failed(nowMs: 0)
        #expect(ejected == HealthTransition(.open, "50% of the last 4 requests failed; ejected for 5 s"))
    }

    /// open → half_open → open → half_open → closed through the book, on a manual clock: the events in order, with
    /// the clock's times, and none for requests that change nothing.
    @Test func theBookRecordsEachTransitionInOrder() {
        let clock = ManualClock()
        let book = HealthBook(count: 2, policy: Self.policy, now: { clock.now })
        clock.advance(1_000)
        for _ in 0..<3 { _ = book.admit(0); book.failed(0) }
        clock.advance(5_000)
        #expect(book.admit(0))
        book.failed(0)
        clock.advance(10_000)
        #expect(book.admit(0))
        book.succeeded(0)
        for _ in 0..<100 { _ = book.admit(0); book.succeeded(0) }           // healthy traffic: no events
        book.setActivelyDown(0, true, reason: "probe failed: HTTP 503")
        book.setActivelyDown(0, false)
        let events = book.events[0]
        #expect(events.map(\.state) == [.open, .halfOpen, .open, .halfOpen, .closed, .down, .up])
        #expect(events.map(\.atMs) == [1_000, 6_000, 6_000, 16_000, 16_000, 16_000, 16_000])
        #expect(events.map(\.reason) == [
            "3 consecutive failures; ejected for 5 s", "ejection over: one trial request let through",
            "trial request failed; ejected for 10 s", "ejection over: one trial request let through",
            "recovered after a successful trial request", "probe failed: HTTP 503", "health checks passed",
        ])
        #expect(book.events[1].isEmpty)
    }

    @Test func theRingKeepsTheNewestFifty() {
        let clock = ManualClock()
        let book = HealthBook(count: 1, policy: Self.policy, now: { clock.now })
        for i in 0..<(HealthEventRing.capacity + 13) {
            book.rateLimited(0, retryAfterMs: 500)
            #expect(book.events[0].count == min(i + 1, HealthEventRing.capacity))
            clock.advance(1_000)
        }
        let events = book.events[0]
        #expect(events.count == 50 && events.first?.atMs == 13_000 && events.last?.atMs == 62_000)
        #expect(events.allSatisfy { $0.state == .coolingDown && $0.reason == "rate limited, Retry-After 500 ms" })
    }

    static let yaml = """
    providers: [ { name: mock-a, kind: mock }, { name: mock-b, kind: mock } ]
    models:
      - { name: chat, deployments: [ { provider: mock-a, model: gpt-4o-mini }, { provider: mock-b, model: m-2 } ] }
      - { name: other, deployments: [ { provider: mock-a, model: gpt-4o-mini } ] }
    routing: { health: { failure_threshold: 2 } }
    """

    /// The report shows the events in wall-clock time: the wall clock now, less each event's age on the table's clock.
    @Test func theReportShowsEventsInWallClockTime() throws {
        let clock = ManualClock()
        let config = try ConfigLoader.load(yaml: Self.yaml, environment: [:])
        let table = RoutingTable(config: config, seed: 1, now: { clock.now })
        clock.advance(50_000)
        table.health.failed(0)
        table.health.failed(0)
        clock.advance(5_000)
        #expect(table.health.admit(0))
        table.health.succeeded(0)
        clock.advance(2_500)
        let wall = 1_804_680_000.0
        let report = HealthReport(table: table, wallNow: { wall })
        let body = try #require(JSONValue.parse(Data(report.json().utf8)))
        let models = try #require(body["models"]?.array)
        // The slot is shared: both models show the same deployment's events.
        for model in models {
            let deployment = try #require(model["deployments"]?.array?.first)
            #expect(deployment["provider"] == "mock-a" && deployment["model"] == "gpt-4o-mini")
            let events = try #require(deployment["events"]?.array)
            #expect(events.compactMap { $0["state"]?.string } == ["open", "half_open", "closed"])
            #expect(events.compactMap { $0["at_s"]?.number } == [wall - 7.5, wall - 2.5, wall - 2.5])
            #expect(events.first?["at"] == "2027-03-10T11:59:52.500Z")
            #expect(events.first?["reason"] == "2 consecutive failures; ejected for 5 s")
            #expect(events.last?["reason"] == "recovered after a successful trial request")
        }
        #expect(models.first?["deployments"]?.array?.last?["events"] == .array([]))
    }

    /// In the app: a failing deployment's ejection reaches `/admin/health`.
    @Test func theAdminReportHasTheEvents() async throws {
        let yaml = """
        auth: { master_key: "sk-master", keys: [ { name: tester, key: "sk-test" } ] }
        providers: [ { name: bad, kind: mock, error_rate: 1.0 } ]
        models: [ { name: chat, retries: 0, deployments: [ { provider: bad, model: b-1 } ] } ]
        routing: { health: { failure_threshold: 1 } }
        """
        try await withGateway(yaml, clock: ManualClock()) { h in
            let chat = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#)
            #expect(chat.status.code >= 500)
            let report = try await h.get("/admin/health", key: "sk-master")
            let deployment = JSONValue.parse(Data(buffer: report.body))?["models"]?.array?.first?["deployments"]?.array?.first
            let events = try #require(deployment?["events"]?.array)
            #expect(events.count == 1 && events[0]["state"] == "open" && events[0]["reason"] == "1 failure; ejected for 5 s")
            #expect(events[0]["at"]?.string?.hasSuffix("Z") == true && events[0]["at_s"]?.number != nil)
            #expect(deployment?["ejections"] == .int(1))
        }
    }

    /// Active health checks: `down` with the probe's failure, `up` when it passes again, both with the streak.
    @Test func probesMarkDownAndUpWithTheirReason() async throws {
        let healthy = Flag()
        try await FakeUpstream.run({ r in
            if r.method == "GET" {
                return healthy.isSet ? jsonReply(#"{"object":"list","data":[]}"#)
                    : jsonReply(Wire.error("down", type: "server_error"), status: .serviceUnavailable)
            }
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            let yaml = """
                auth: { master_key: "sk-admin" }
                providers:
                  - { name: up1, kind: openai, base_url: "\(fake.baseURL)", api_key: "k1", health_check: { interval_s: 3600, unhealthy_threshold: 2, healthy_threshold: 1 } }
                models: [ { name: chat, deployments: [ { provider: up1, model: m } ] } ]
                """
            try await withGateway(yaml, mode: .live) { h in
                let checks = h.services.healthChecks
                await checks.probe(0)
                await checks.probe(0)
                healthy.set()
                await checks.probe(0)
                let report = try await h.get("/admin/health", key: "sk-admin")
                let deployment = JSONValue.parse(Data(buffer: report.body))?["models"]?.array?.first?["deployments"]?.array?.first
                let events = try #require(deployment?["events"]?.array)
                #expect(events.compactMap { $0["state"]?.string } == ["down", "up"])
                #expect(events.compactMap { $0["reason"]?.string } == ["probe failed: HTTP 503 (2 in a row)", "probe succeeded"])
            }
        }
    }
}
