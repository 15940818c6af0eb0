import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

/// Retries, fallbacks, hedging, caps and timeouts through the live gateway against a scripted upstream.
/// Deployments are told apart by their provider key (`Bearer kN`).
@Suite struct ResilienceLiveTests {
    static let chat = #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#
    static let chatStream = #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"x"}]}"#

    static func yaml(_ base: String, models: String, routing: String = "retries: 2") -> String {
        """
        auth: { master_key: "sk-admin", keys: [ { name: tester, key: "sk-test" } ] }
        providers:
          - { name: up1, kind: openai, base_url: "\(base)", api_key: "k1" }
          - { name: up2, kind: openai, base_url: "\(base)", api_key: "k2" }
          - { name: up3, kind: openai, base_url: "\(base)", api_key: "k3" }
        models:
        \(models)
        routing: { \(routing), backoff: { base_ms: 5, max_ms: 1000 } }
        """
    }

    static func key(_ r: ReceivedRequest) -> String { r.headers[.authorization] ?? "" }

    static func okStream() -> Response {
        sseReply { send in
            try await send(Wire.chunk("hi", finish: "stop"))
            try await send(Wire.usageChunk(prompt: 3, completion: 1))
            try await send(Wire.done)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func aStreamFallsBackInvisiblyBeforeItsFirstByte(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ r in
            switch Self.key(r) {
            case "Bearer k1": return jsonReply(Wire.error("overloaded", type: "server_error"), status: .serviceUnavailable)
            // Head sent, then the connection breaks before any event: still nothing reached the client.
            case "Bearer k2": return sseReply { _ in throw CancellationError() }
            default: return Self.okStream()
            }
        }) { fake in
            let models = """
              - { name: chat, retries: 1, fallbacks: [backup], deployments: [ { provider: up1, model: m }, { provider: up2, model: m } ] }
              - { name: backup, deployments: [ { provider: up3, model: m } ] }
            """
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", Self.chatStream)
                #expect(r.status == .ok)
                #expect(r.text.contains("\"hi\"") && r.text.hasSuffix("data: [DONE]\n\n") && !r.text.contains("error"))
                #expect(r.header("x-switchboard-model") == "backup")
                #expect(r.header("x-switchboard-route") == "fallback")
                #expect(r.header("x-switchboard-attempts") == "3")
                let record = try #require(try await h.records().first)
                #expect(record.model == "chat" && record.servedModel == "backup" && record.routeReason == "fallback" && record.status == 200)
            }
        }
    }

    @Test func retryAfterIsHonouredBeforeTheRetry() async throws {
        let calls = Counter()
        try await FakeUpstream.run({ _ in
            guard calls.next() > 1 else {
                var headers = HTTPFields()
                headers[HTTPField.Name("retry-after-ms")!] = "150"
                return jsonReply(Wire.error("slow down", type: "requests", code: "rate_limit_exceeded"), status: .tooManyRequests, headers: headers)
            }
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            let models = "  - { name: chat, deployments: [ { provider: up1, model: m } ] }"
            let clock = ManualClock()
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live, clock: clock) { h in
                let response = Task { try await h.post("/v1/chat/completions", Self.chat) }
                await clock.sleepers(atLeast: 1)
                #expect(clock.sleepsAsked == [150])       // the only deployment is left alone for its Retry-After, on the engine's clock
                #expect(fake.requests.count == 1)
                clock.advance(149)
                #expect(clock.sleeping == 1 && fake.requests.count == 1)
                clock.advance(1)
                await clock.sleepers(atLeast: 1)         // going back to a deployment already tried: a back-off first
                #expect(clock.sleepsAsked.count == 2 && (2.5...5).contains(clock.sleepsAsked[1]) && fake.requests.count == 1)
                clock.advanceToNextDeadline()
                let r = try await response.value
                #expect(r.status == .ok && r.header("x-switchboard-attempts") == "2" && r.header("x-switchboard-route") == "retry")
                #expect(fake.requests.count == 2)
            }
        }
    }

    @Test func contextLengthAndContentPolicyErrorsFallBackToTheirLists() async throws {
        try await FakeUpstream.run({ r in
            switch Self.key(r) {
            case "Bearer k1":
                let tooLong = r.text.contains("long")
                return jsonReply(tooLong ? Wire.error("This model's maximum context length is 8192 tokens.", code: "context_length_exceeded")
                                         : Wire.error("The prompt was filtered by the content management policy.", code: "content_filter"),
                                 status: .badRequest)
            case "Bearer k2": return jsonReply(Wire.chatCompletion(content: "from big"))
            default: return jsonReply(Wire.chatCompletion(content: "from safe"))
            }
        }) { fake in
            let models = """
              - { name: chat, context_window_fallbacks: [big], content_policy_fallbacks: [safe], deployments: [ { provider: up1, model: m } ] }
              - { name: big, deployments: [ { provider: up2, model: m } ] }
              - { name: safe, deployments: [ { provider: up3, model: m } ] }
              - { name: plain, deployments: [ { provider: up1, model: m } ] }
            """
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live) { h in
                let long = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"long"}]}"#)
                #expect(long.status == .ok && long.text.contains("from big"))
                #expect(long.header("x-switchboard-route") == "context_window_fallback")
                let refused = try await h.post("/v1/chat/completions", Self.chat)
                #expect(refused.status == .ok && refused.text.contains("from safe"))
                #expect(refused.header("x-switchboard-route") == "content_policy_fallback")
                // Without fallbacks the client gets the upstream's 400 as it was, tried once.
                let before = fake.requests.count
                let plain = try await h.post("/v1/chat/completions", #"{"model":"plain","messages":[{"role":"user","content":"long"}]}"#)
                #expect(plain.status == .badRequest && plain.errorObject?["code"] as? String == "context_length_exceeded")
                #expect(fake.requests.count == before + 1)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func aSlowAttemptIsHedgedAndTheLoserCancelled(_ kind: TransportKind) async throws {
        let release = Gate()
        let slowCancelled = Gate()
        try await FakeUpstream.run({ r in
            guard Self.key(r) == "Bearer k1" else {
                return sseReply { send in
                    try await send(Wire.chunk("fast", finish: "stop"))
                    try await send("data: [DONE]\n\n")
                }
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                do {
                    await release.wait()          // no first token until the test ends
                    try await writer.write(ByteBuffer(string: Wire.chunk("slow")))
                    while true {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        try await Task.sleep(for: .milliseconds(20))
                    }
                } catch {
                    slowCancelled.open()
                    throw error
                }
            })
        }) { fake in
            let models = """
              - { name: chat, balancing: round-robin, hedge: { after_ms: 40 }, deployments: [ { provider: up1, model: m }, { provider: up2, model: m } ] }
            """
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .ok)
                #expect(r.header("x-switchboard-provider") == "up2" && r.header("x-switchboard-route") == "hedge")
                #expect(r.header("x-switchboard-attempts") == "2")
                release.open()
                await slowCancelled.wait()        // the losing upstream request was cancelled (its connection closed)
                let record = try #require(try await h.records().first)
                #expect(record.hedged && record.provider == "up2")
            }
        }
    }

    @Test func saturatedDeploymentsAreSkippedAndFullCapacityIs429() async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion()) }) { fake in
            let models = """
              - { name: chat, balancing: round-robin, deployments: [ { provider: up1, model: m, rpm: 2 }, { provider: up2, model: m } ] }
              - { name: solo, deployments: [ { provider: up3, model: m, rpm: 1 } ] }
            """
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live) { h in
                for _ in 0..<8 { #expect(try await h.post("/v1/chat/completions", Self.chat).status == .ok) }
                #expect(fake.requests.filter { Self.key($0) == "Bearer k1" }.count == 2)
                #expect(fake.requests.filter { Self.key($0) == "Bearer k2" }.count == 6)
                #expect(try await h.post("/v1/chat/completions", #"{"model":"solo","messages":[{"role":"user","content":"x"}]}"#).status == .ok)
                let limited = try await h.post("/v1/chat/completions", #"{"model":"solo","messages":[{"role":"user","content":"x"}]}"#)
                #expect(limited.status == .tooManyRequests && limited.errorObject?["code"] as? String == "deployment_capacity_exceeded")
                #expect(Int(limited.header("retry-after") ?? "") ?? 0 >= 1)
                #expect(fake.requests.filter { Self.key($0) == "Bearer k3" }.count == 1)     // never reached the upstream
                let report = try await h.get("/admin/health", key: "sk-admin")
                let first = JSONValue.parse(Data(buffer: report.body))?["models"]?.array?.first?["deployments"]?.array?.first
                #expect(first?["capacity"]?["requests_last_minute"]?.int == 2 && first?["capacity"]?["rpm"]?.int == 2)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func firstTokenTimeoutRetriesElsewhere(_ kind: TransportKind) async throws {
        let release = Gate()
        try await FakeUpstream.run({ r in
            guard Self.key(r) == "Bearer k1" else { return Self.okStream() }
            return sseReply { send in
                await release.wait()              // head sent, first token never comes in time
                try await send(Wire.done)
            }
        }) { fake in
            let models = """
              - { name: chat, balancing: round-robin, deployments: [ { provider: up1, model: m, timeouts: { first_token_s: 0.1 } }, { provider: up2, model: m } ] }
            """
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", Self.chatStream)
                release.open()
                #expect(r.status == .ok && r.header("x-switchboard-provider") == "up2" && r.header("x-switchboard-attempts") == "2")
                #expect(!r.text.contains("error"))
            }
        }
    }

    @Test func idleTimeoutEndsAStalledStreamWithAnErrorEvent() async throws {
        let release = Gate()
        try await FakeUpstream.run({ _ in
            sseReply { send in
                try await send(Wire.chunk("first"))
                await release.wait()              // then nothing
                try await send(Wire.done)
            }
        }) { fake in
            let models = "  - { name: chat, deployments: [ { provider: up1, model: m, timeouts: { idle_s: 0.15 } } ] }"
            try await withGateway(Self.yaml(fake.baseURL, models: models), mode: .live) { h in
                let r = try await h.post("/v1/chat/completions", Self.chatStream)
                release.open()
                #expect(r.status == .ok && r.text.contains("\"first\""))
                #expect(r.text.contains("upstream_timeout"))
            }
        }
    }

    @Test func anEjectedDeploymentRecoversAfterItsBackOffOnTheInjectedClock() async throws {
        let healthy = Flag()
        try await FakeUpstream.run({ r in
            if Self.key(r) == "Bearer k1", !healthy.isSet { return jsonReply(Wire.error("down", type: "server_error"), status: .internalServerError) }
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            let clock = ManualClock()
            let models = """
              - { name: chat, balancing: round-robin, deployments: [ { provider: up1, model: m }, { provider: up2, model: m } ] }
            """
            let routing = "retries: 1, health: { failure_threshold: 2, ejection_s: 10 }"
            try await withGateway(Self.yaml(fake.baseURL, models: models, routing: routing), mode: .live, clock: clock) { h in
                for _ in 0..<4 { #expect(try await h.post("/v1/chat/completions", Self.chat).status == .ok) }
                let failures = fake.requests.filter { Self.key($0) == "Bearer k1" }.count
                #expect(failures == 2)                    // ejected after two failures, then left alone
                healthy.set()
                clock.advance(9_000)
                for _ in 0..<3 { _ = try await h.post("/v1/chat/completions", Self.chat) }
                #expect(fake.requests.filter { Self.key($0) == "Bearer k1" }.count == failures)   // still ejected
                clock.advance(1_000)                      // the ejection (10 s) is over: one probe, it succeeds
                for _ in 0..<4 { #expect(try await h.post("/v1/chat/completions", Self.chat).status == .ok) }
                #expect(fake.requests.filter { Self.key($0) == "Bearer k1" }.count == failures + 2)    // back in rotation
                let report = try await h.get("/admin/health", key: "sk-admin")
                let first = JSONValue.parse(Data(buffer: report.body))?["models"]?.array?.first?["deployments"]?.array?.first
                #expect(first?["state"] == "closed")
            }
        }
    }
}

/// A thread-safe counter for fake upstreams (1 for the first call).
final class Counter: Sendable {
    private let n = Mutex(0)
    func next() -> Int { n.withLock { $0 += 1; return $0 } }
    var peek: Int { n.withLock { $0 } }
}

final class Flag: Sendable {
    private let v = Mutex(false)
    var isSet: Bool { v.withLock { $0 } }
    func set() { v.withLock { $0 = true } }
}
