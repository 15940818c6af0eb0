import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

struct TimedOut: Error {}

/// Fails instead of hanging when `op` does not finish in time (a guard, not a wait). On time out `op` is cancelled
/// and left behind: what hangs may not answer cancellation, and a task group would wait for it.
func within<T: Sendable>(_ seconds: Double, _ op: @escaping @Sendable () async throws -> T) async throws -> T {
    let waiter = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let work = Mutex<Task<Void, Never>?>(nil)
    let end: @Sendable (Result<T, any Error>) -> Void = { r in waiter.withLock { $0.take() }?.resume(with: r) }
    let cancel: @Sendable () -> Void = { work.withLock { $0 }?.cancel() }
    let start: @Sendable (Task<Void, Never>) -> Void = { t in work.withLock { $0 = t } }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { c in
            waiter.withLock { $0 = c }
            let timer = Task {
                try? await Task.sleep(for: .seconds(seconds))
                end(.failure(TimedOut()))
                cancel()
            }
            start(Task {
                do { end(.success(try await op())) } catch { end(.failure(error)) }
                timer.cancel()
            })
        }
    } onCancel: {
        cancel()
    }
}

func liveYAML(_ base: String, timeout: Double = 2, retries: Int = 2) -> String {
    """
    auth: { keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: up1, kind: openai, base_url: "\(base)", api_key: "sk-provider-1", headers: { X-Extra: "yes" } }
      - { name: up2, kind: openai, base_url: "\(base)", api_key: "sk-provider-2" }
      - { name: dead, kind: openai, base_url: "http://127.0.0.1:1/v1", api_key: "sk-dead" }
    models:
      - name: chat
        balancing: round-robin
        deployments:
          - { provider: up1, model: up-model-1, price: { input: 1, output: 2, cached_input: 0.5 } }
          - { provider: up2, model: up-model-2, price: { input: 1, output: 2 } }
      - name: single
        deployments: [ { provider: up1, model: up-model-1, price: { input: 1, output: 2, cached_input: 0.5 } } ]
      - name: dead
        deployments: [ { provider: dead, model: x } ]
    routing: { retries: \(retries), timeout_s: \(timeout), connect_timeout_s: 1 }
    """
}

/// Which configured provider a fake-upstream request came from.
func provider(of r: ReceivedRequest) -> String {
    r.headers[.authorization] == "Bearer sk-provider-1" ? "up1" : "up2"
}

/// Streams a chat request through the gateway with a real client; returns the response to read incrementally.
func openStream(_ client: HTTPClient, port: Int, body: String, key: String = "sk-test") async throws -> HTTPClientResponse {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
    request.method = .POST
    request.headers.add(name: "authorization", value: "Bearer \(key)")
    request.headers.add(name: "content-type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: body))
    return try await client.execute(request, timeout: .seconds(10))
}

func readAll(_ response: HTTPClientResponse) async throws -> String {
    String(buffer: try await response.body.collect(upTo: 1 << 20))
}

@Suite struct LiveTests {
    @Test(arguments: TransportKind.allCases)
    func forwardsOriginalBytesWithTheProvidersKeyOnly(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion(prompt: 100, completion: 10, cached: 40)) }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let body = #"{"model":"single","messages":[{"role":"user","content":"x"}],"logit_bias":{"50256":-100},"user":"u-1","response_format":{"type":"json_object"},"x_vendor":{"deep":[1,2]}}"#
                let r = try await h.post("/v1/chat/completions", body, key: "sk-test")
                #expect(r.status == .ok)
                #expect(r.text == Wire.chatCompletion(prompt: 100, completion: 10, cached: 40))
                let got = try #require(fake.requests.first)
                #expect(got.path == "/v1/chat/completions")
                #expect(got.text == body.replacingOccurrences(of: #""model":"single""#, with: #""model":"up-model-1""#))
                #expect(got.headers[.authorization] == "Bearer sk-provider-1")
                #expect(got.headers[HTTPField.Name("x-extra")!] == "yes")
                #expect(!got.headers.contains { $0.value.contains("sk-test") })
                // 60 × 1 + 40 × 0.5 + 10 × 2 = 100 per 1M tokens
                #expect(r.header("x-switchboard-cost-usd") == "0.0001")
                let record = try #require(try await h.records().first)
                #expect(record.usage == Usage(promptTokens: 100, completionTokens: 10, cachedTokens: 40))
                #expect(record.provider == "up1" && record.upstreamModel == "up-model-1" && record.ttftMs != nil)
            }
        }
    }

    @Test(arguments: TransportKind.allCases, [500, 502, 503, 429])
    func retriesOnAnotherDeployment(_ kind: TransportKind, _ status: Int) async throws {
        try await FakeUpstream.run({ r in
            provider(of: r) == "up1"
                ? jsonReply(Wire.error("temporarily broken", type: "server_error"), status: .init(code: status))
                : jsonReply(Wire.chatCompletion(content: "from up2"))
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                for _ in 0..<2 {   // round-robin starts on each deployment once
                    let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#)
                    #expect(r.status == .ok)
                    #expect(r.text.contains("from up2"))
                    #expect(r.header("x-switchboard-provider") == "up2")
                }
                #expect(fake.requests.count == 3)
                let records = try await h.records()
                #expect(records.map(\.attempts).sorted() == [1, 2])
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func clientErrorsPassThroughUnretried(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ _ in
            jsonReply(Wire.error("This model's maximum context length is 8192 tokens.", code: "context_length_exceeded"), status: .badRequest)
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .badRequest)
                #expect(r.errorObject?["message"] as? String == "This model's maximum context length is 8192 tokens.")
                #expect(r.errorObject?["code"] as? String == "context_length_exceeded")
                #expect(r.header("x-switchboard-attempts") == "1")
                #expect(fake.requests.count == 1)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func exhaustedRetriesAre502WithTheUpstreamsMessage(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.error("overloaded", type: "server_error"), status: .internalServerError) }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .badGateway)
                #expect((r.errorObject?["message"] as? String)?.contains("overloaded") == true)
                #expect(r.header("x-switchboard-attempts") == "3")
                #expect(fake.requests.count == 3)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func refusedConnectionIs502Fast(_ kind: TransportKind) async throws {
        let clock = ManualClock()
        try await withGateway(liveYAML("http://127.0.0.1:9/v1"), mode: .live, transport: kind, clock: clock) { h in
            let r = try await clock.driving { try await h.post("/v1/chat/completions", #"{"model":"dead","messages":[{"role":"user","content":"x"}]}"#) }
            #expect(r.status == .badGateway)
            #expect(r.errorObject?["code"] as? String == "upstream_unreachable")
            #expect(r.header("x-switchboard-attempts") == "3")
            #expect(!r.text.contains("sk-dead"))
            // Three refused attempts: the engine waited only for its two back-offs (on its clock), never for the 2 s timeout.
            #expect(clock.sleepsAsked.count == 2 && clock.sleepsAsked.allSatisfy { $0 < 2000 })
        }
    }

    @Test(arguments: TransportKind.allCases)
    func slowUpstreamIs504(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ _ in
            try await Task.sleep(for: .seconds(5))    // the upstream is slow; the gateway gives up after timeout_s
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL, timeout: 0.3, retries: 0), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"single","messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .gatewayTimeout)
                #expect(r.errorObject?["code"] as? String == "upstream_timeout")
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func chunkedOversizedBodyIs413(_ kind: TransportKind) async throws {
        let yaml = liveYAML("http://127.0.0.1:9/v1").replacingOccurrences(of: "auth:", with: "server: { max_body_bytes: 1000 }\nauth:")
        try await withGateway(yaml, mode: .live, transport: kind) { h in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = client.shutdown() }
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(h.client.port!)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer sk-test")
            let chunks = (0..<100).map { _ in ByteBuffer(repeating: UInt8(ascii: "x"), count: 10_000) }
            request.body = .stream(chunks.async, length: .unknown)
            let r = try await client.execute(request, timeout: .seconds(10))
            #expect(r.status.code == 413)
            #expect(try await readAll(r).contains("request_too_large"))
        }
    }

    @Test(arguments: TransportKind.allCases)
    func streamIsRelayedIncrementally(_ kind: TransportKind) async throws {
        let gate = Gate()
        try await FakeUpstream.run({ _ in
            sseReply { send in
                try await send(Wire.chunk("first"))
                await gate.wait()      // the rest only after the client has the first chunk
                try await send(Wire.chunk("second", finish: "stop"))
                try await send(Wire.usageChunk(prompt: 3, completion: 2))
                try await send(Wire.done)
            }
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                defer { _ = client.shutdown() }
                let port = h.client.port!
                let text = try await within(10) {
                    let response = try await openStream(client, port: port, body: #"{"model":"single","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                    #expect(response.headers.first(name: "content-type") == "text/event-stream")
                    var received = ""
                    for try await chunk in response.body {
                        received += String(buffer: chunk)
                        if received.contains("first") { gate.open() }
                    }
                    return received
                }
                #expect(text == Wire.chunk("first") + Wire.chunk("second", finish: "stop") + Wire.done)   // usage chunk stripped
                #expect(fake.requests.first?.text.contains(#""stream_options":{"include_usage":true}"#) == true)
                let record = try #require(try await h.records().first)
                #expect(record.usage.completionTokens == 2 && record.stream && record.status == 200)
                #expect(abs(record.costUSD - 7e-6) < 1e-12)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func streamKeepsUsageWhenAsked(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ _ in
            sseReply { send in
                for e in [Wire.chunk("a", finish: "stop"), Wire.usageChunk(prompt: 3, completion: 1), Wire.done] { try await send(e) }
            }
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"single","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.text == Wire.chunk("a", finish: "stop") + Wire.usageChunk(prompt: 3, completion: 1) + Wire.done)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func streamFailingBeforeFirstByteFallsOverInvisibly(_ kind: TransportKind) async throws {
        try await FakeUpstream.run({ r in
            if provider(of: r) == "up1" { return jsonReply(Wire.error("busy", type: "server_error"), status: .serviceUnavailable) }
            return sseReply { send in for e in [Wire.chunk("ok", finish: "stop"), Wire.done] { try await send(e) } }
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                for _ in 0..<2 {
                    let r = try await h.post("/v1/chat/completions", #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                    #expect(r.status == .ok)
                    #expect(r.text == Wire.chunk("ok", finish: "stop") + Wire.done)
                }
            }
        }
    }

    @Test(arguments: TransportKind.allCases, [true, false])
    func upstreamFailureMidStreamEndsWithAnErrorEvent(_ kind: TransportKind, _ abrupt: Bool) async throws {
        struct Boom: Error {}
        try await FakeUpstream.run({ _ in
            sseReply { send in
                try await send(Wire.chunk("partial"))
                if abrupt { throw Boom() }    // the connection breaks mid-body
            }                                 // or: the upstream ends cleanly but without [DONE]
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let r = try await within(10) {
                    try await h.post("/v1/chat/completions", #"{"model":"single","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                }
                #expect(r.status == .ok)
                #expect(r.text.hasPrefix(Wire.chunk("partial")))
                let last = try #require(r.text.split(separator: "\n\n").last)
                #expect(last.hasPrefix(#"data: {"error":{"#))
                #expect(!r.text.contains("[DONE]"))
                let record = try #require(try await h.records().first)
                #expect(record.status == 502)
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func clientDisconnectCancelsTheUpstream(_ kind: TransportKind) async throws {
        let upstreamSawClose = Gate()
        try await FakeUpstream.run({ _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                do {
                    for i in 0..<2000 {
                        try await writer.write(ByteBuffer(string: Wire.chunk("t\(i)")))
                        try await Task.sleep(for: .milliseconds(5))   // a slow model producing tokens
                    }
                } catch {
                    upstreamSawClose.open()
                    throw error
                }
                try await writer.finish(nil)
            })
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live, transport: kind) { h in
                let port = h.client.port!
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                try await within(10) {
                    let response = try await openStream(client, port: port, body: #"{"model":"single","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                    var iterator = response.body.makeAsyncIterator()
                    _ = try await iterator.next()
                }
                try await client.shutdown()     // closes the client's connection mid-stream
                try await within(10) { await upstreamSawClose.wait() }
                let records = try await within(10) {
                    var r: [RequestRecord] = []
                    while r.isEmpty { r = try await h.records(); await Task.yield() }
                    return r
                }
                #expect(records.first?.status == 499)
            }
        }
    }
}

/// A provider that rejects the gateway's key: the client never sees the provider's message (it may quote the key)
/// and is not told its own key is wrong; another deployment with working credentials takes over.
@Suite struct UpstreamCredentialTests {
    @Test func rejectedProviderKeyIsRedactedAndFailedOver() async throws {
        try await FakeUpstream.run({ r in
            r.headers[.authorization] == "Bearer sk-provider-1"
                ? jsonReply(Wire.error("Incorrect API key provided: sk-prov*****er-1.", code: "invalid_api_key"), status: .unauthorized)
                : jsonReply(Wire.chatCompletion())
        }) { fake in
            try await withGateway(liveYAML(fake.baseURL), mode: .live) { h in
                let single = try await h.post("/v1/chat/completions", #"{"model":"single","messages":[{"role":"user","content":"x"}]}"#)
                #expect(single.status == .badGateway)
                #expect(single.errorObject?["code"] as? String == "upstream_auth_failed")
                #expect(!single.text.contains("sk-prov"))
                for _ in 0..<2 {
                    let r = try await h.post("/v1/chat/completions", #"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#)
                    #expect(r.status == .ok && r.header("x-switchboard-provider") == "up2")
                }
            }
        }
    }
}
