import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing
@testable import SwitchboardRouting

@Suite struct CircuitBreakerTests {
    @Test func ejectsAfterConsecutiveFailuresThenProbesOnce() {
        var b = CircuitBreaker()
        for _ in 0..<4 { do { let ok = b.admit(nowMs: 0); #expect(ok) }; b.failed(nowMs: 0) }
        b.succeeded()                                            // a success resets the count
        for _ in 0..<5 { do { let ok = b.admit(nowMs: 0); #expect(ok) }; b.failed(nowMs: 0) }
        #expect(b.state == .open(untilMs: 5_000))
        do { let ok = b.admit(nowMs: 4_999); #expect(!ok) }
        do { let ok = b.admit(nowMs: 5_000); #expect(ok) }                           // the half-open probe
        do { let ok = b.admit(nowMs: 5_001); #expect(!ok) }                          // only one
        b.failed(nowMs: 5_100)
        #expect(b.state == .open(untilMs: 15_100))               // back-off doubles
        do { let ok = b.admit(nowMs: 15_100); #expect(ok) }
        b.succeeded()
        #expect(b.state == .closed(consecutiveFailures: 0) && b.ejections == 0)
    }

    @Test func backOffIsCapped() {
        var b = CircuitBreaker()
        var now = 0.0
        for _ in 0..<5 { b.failed(nowMs: now) }
        for _ in 0..<12 {
            guard case .open(let until) = b.state else { Issue.record("not open"); return }
            #expect(until - now <= b.policy.maxEjectionMs)
            now = until
            do { let ok = b.admit(nowMs: now); #expect(ok) }
            b.failed(nowMs: now)
        }
        #expect(b.state == .open(untilMs: now + b.policy.maxEjectionMs))
    }

    @Test func rateLimitIsCooldownNotFailure() {
        var b = CircuitBreaker()
        b.rateLimited(nowMs: 0, retryAfterMs: 7_000)
        do { let early = b.admit(nowMs: 6_999); let onTime = b.admit(nowMs: 7_000); #expect(!early && onTime) }
        #expect(b.state == .closed(consecutiveFailures: 0))
        b.rateLimited(nowMs: 8_000, retryAfterMs: nil)
        #expect(!b.isAvailable(nowMs: 8_999) && b.isAvailable(nowMs: 9_000))
    }

    /// A random walk against a simple reference model of the rules.
    @Test func agreesWithAReferenceModel() {
        var rng = SeededGenerator(seed: 11)
        var policy = CircuitBreaker.Policy()
        policy.errorRatio = nil          // consecutive failures only; the ratio has its own reference test
        var b = CircuitBreaker(policy: policy)
        var failures = 0, ejections = 0, openUntil: Double? = nil, probing = false
        var now = 0.0
        for _ in 0..<20_000 {
            now += Double(rng.next() % 400)
            let refAvailable = openUntil.map { now >= $0 && !probing } ?? !probing
            #expect(b.isAvailable(nowMs: now) == refAvailable)
            guard b.admit(nowMs: now) else { continue }
            if let until = openUntil, now >= until { probing = true; openUntil = nil }
            if rng.next() % 3 == 0 {
                b.failed(nowMs: now)
                if probing || failures + 1 >= 5 {
                    openUntil = now + min(5_000 * pow(2, Double(ejections)), 300_000)
                    ejections += 1; failures = 0; probing = false
                } else { failures += 1 }
            } else {
                b.succeeded()
                failures = 0; ejections = 0; probing = false
            }
        }
    }
}

extension CircuitBreakerTests {
    /// Consecutive failures never reach 5 here (every fourth outcome succeeds at most), so only the ratio ejects.
    @Test func ejectsOnTheErrorRatioAgainstAReferenceModel() {
        var policy = CircuitBreaker.Policy()
        policy.ratioWindow = 10
        policy.errorRatio = 0.6
        var rng = SeededGenerator(seed: 5)
        var b = CircuitBreaker(policy: policy)
        var window: [Bool] = []
        var now = 0.0
        var sawEjection = false
        for step in 0..<5_000 {
            now += 10
            guard b.admit(nowMs: now) else { continue }
            let fail = step % 4 != 3 && rng.next() % 10 < 8
            let wasClosed: Bool
            if case .closed = b.state { wasClosed = true } else { wasClosed = false }
            if fail { b.failed(nowMs: now) } else { b.succeeded() }
            guard wasClosed else { window = []; continue }
            window.append(fail)
            if window.count > 10 { window.removeFirst() }
            let consecutive = window.reversed().prefix { $0 }.count
            let shouldEject = fail && (consecutive >= 5 || (window.count == 10 && Double(window.filter { $0 }.count) / 10 >= 0.6))
            if case .open = b.state {
                #expect(shouldEject, "step \(step)")
                window = []
                sawEjection = true
            } else {
                #expect(!shouldEject, "step \(step)")
            }
        }
        #expect(sawEjection)
    }
}

@Suite struct HealthLiveTests {
    static func yaml(_ base: String) -> String {
        """
        auth: { master_key: "sk-admin", keys: [ { name: tester, key: "sk-test" }, { name: master, key: "sk-fake-master" } ] }
        providers:
          - { name: up1, kind: openai, base_url: "\(base)", api_key: "k1" }
          - { name: up2, kind: openai, base_url: "\(base)", api_key: "k2" }
        models:
          - { name: chat, balancing: round-robin, deployments: [ { provider: up1, model: m }, { provider: up2, model: m } ] }
          - { name: solo, balancing: round-robin, deployments: [ { provider: up1, model: m } ] }
        routing: { retries: 2, health: { ejection_s: 60 } }
        """
    }

    /// The ejection lasts 60 s (not the default 5): on a loaded machine the requests after it came more than 5 s later.
    @Test func aFailingDeploymentIsEjectedAndNoLongerTried() async throws {
        try await FakeUpstream.run({ r in
            r.headers[.authorization] == "Bearer k1" ? jsonReply(Wire.error("down", type: "server_error"), status: .internalServerError)
                : jsonReply(Wire.chatCompletion())
        }) { fake in
            try await withGateway(Self.yaml(fake.baseURL), mode: .live) { h in
                for _ in 0..<10 { #expect(try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#).status == .ok) }
                let toUp1 = fake.requests.filter { $0.headers[.authorization] == "Bearer k1" }.count
                #expect(toUp1 == 5)           // five failures eject it; after that it is not tried at all
                let later = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#)
                #expect(later.header("x-switchboard-attempts") == "1")
                let solo = try await h.post("/v1/chat/completions", #"{"model":"solo","messages":[{"role":"user","content":"x"}]}"#)
                #expect(solo.status == .serviceUnavailable && solo.errorObject?["code"] as? String == "no_healthy_deployment")
                #expect(Int(solo.header("retry-after") ?? "") ?? 0 >= 1)
                let report = try await h.get("/admin/health", key: "sk-admin")
                let models = try #require(JSONValue.parse(Data(buffer: report.body))?["models"]?.array)
                #expect(models.first?["deployments"]?.array?.first?["state"] == "open")
                #expect(models.first?["deployments"]?.array?.last?["state"] == "closed")
                #expect(try await h.get("/admin/health", key: "sk-test").status == .forbidden)
                #expect(try await h.get("/admin/health", key: "sk-fake-master").status == .forbidden)   // a key named "master" is not the master key
            }
        }
    }

    @Test func rateLimitedDeploymentCoolsDownForRetryAfter() async throws {
        try await FakeUpstream.run({ r in
            guard r.headers[.authorization] == "Bearer k1" else { return jsonReply(Wire.chatCompletion()) }
            var headers = HTTPFields()
            headers[.retryAfter] = "30"
            return jsonReply(Wire.error("slow down", type: "requests", code: "rate_limit_exceeded"), status: .tooManyRequests, headers: headers)
        }) { fake in
            try await withGateway(Self.yaml(fake.baseURL), mode: .live) { h in
                for _ in 0..<6 { #expect(try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#).status == .ok) }
                #expect(fake.requests.filter { $0.headers[.authorization] == "Bearer k1" }.count == 1)     // one 429, then it cools down
                let report = try await h.get("/admin/health", key: "sk-admin")
                let first = JSONValue.parse(Data(buffer: report.body))?["models"]?.array?.first?["deployments"]?.array?.first
                #expect(first?["state"] == "cooling_down" && (first?["cooldown_ms"]?.int ?? 0) > 25_000)
            }
        }
    }
}

@Suite struct ActiveHealthCheckTests {
    @Test func probeTrackerNeedsStreaksBothWays() {
        var t = ProbeTracker(healthyThreshold: 2, unhealthyThreshold: 3)
        #expect([t.record(up: false), t.record(up: false), t.record(up: true), t.record(up: false), t.record(up: false)] == [nil, nil, nil, nil, nil])
        #expect(t.record(up: false) == true)           // the third failure in a row
        #expect(t.isDown)
        #expect([t.record(up: true), t.record(up: false), t.record(up: true)] == [nil, nil, nil])
        #expect(t.record(up: true) == false)           // the second success in a row
        #expect(!t.isDown)
    }

    @Test(arguments: TransportKind.allCases)
    func aProviderFailingItsProbesIsTakenOutAndComesBack(_ kind: TransportKind) async throws {
        let healthy = Flag()
        try await FakeUpstream.run({ r in
            if r.method == "GET" {
                return healthy.isSet || r.headers[.authorization] != "Bearer k1"
                    ? jsonReply(#"{"object":"list","data":[]}"#) : jsonReply(Wire.error("down", type: "server_error"), status: .serviceUnavailable)
            }
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            let yaml = """
                auth: { master_key: "sk-admin", keys: [ { name: tester, key: "sk-test" } ] }
                providers:
                  - { name: up1, kind: openai, base_url: "\(fake.baseURL)", api_key: "k1", health_check: { interval_s: 3600, unhealthy_threshold: 2, healthy_threshold: 1 } }
                  - { name: up2, kind: openai, base_url: "\(fake.baseURL)", api_key: "k2" }
                models:
                  - { name: chat, balancing: round-robin, deployments: [ { provider: up1, model: m }, { provider: up2, model: m } ] }
                """
            try await withGateway(yaml, mode: .live, transport: kind) { h in
                let checks = h.services.healthChecks
                #expect(await checks.probe(0) == .down(reason: "HTTP 503"))
                let probe = try #require(fake.requests.first { $0.method == "GET" })
                #expect(probe.path.hasSuffix("/models") && probe.headers[.authorization] == "Bearer k1")
                #expect(await checks.probe(0) == .down(reason: "HTTP 503"))      // second failure: out
                let body = #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#
                for _ in 0..<4 { #expect(try await h.post("/v1/chat/completions", body).header("x-switchboard-provider") == "up2") }
                let report = try await h.get("/admin/health", key: "sk-admin")
                let first = JSONValue.parse(Data(buffer: report.body))?["models"]?.array?.first?["deployments"]?.array?.first
                #expect(first?["state"] == "down" && first?["probe_down"] == .bool(true))
                healthy.set()
                #expect(await checks.probe(0) == .up(status: 200))             // one good probe: back
                var providers: Set<String> = []
                for _ in 0..<4 { providers.insert(try await h.post("/v1/chat/completions", body).header("x-switchboard-provider") ?? "") }
                #expect(providers == ["up1", "up2"])
            }
        }
    }
}
