import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import SwitchboardCore
import SwitchboardRouting
@testable import SwitchboardServer
import SwitchboardStore
import Testing

/// The engine's extension points: request stages that answer, refuse or rewrite a request; response stages that
/// see a whole answer or every chunk of a stream in order, rewrite it or end it with an error event.
@Suite struct StageTests {
    /// Runs the gateway in process with `stages` added to the configured ones.
    func withStages<T: Sendable>(_ stages: EngineStages, yaml: String = mockYAML, _ body: @Sendable (GatewayHarness) async throws -> T) async throws -> T {
        let config = try ConfigLoader.load(yaml: yaml, environment: [:])
        let storage = MemoryStorage()
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let (transport, shutdown) = TransportKind.lean.make(config)       // unused: the mock providers simulate their upstream
        defer { Task { try? await shutdown() } }
        let services = GatewayServices(config: config, storage: storage, transport: transport, logger: logger, clock: SystemEngineClock(),
                                       wallClock: { Date().timeIntervalSince1970 }, metricsFactory: nil, extraStages: stages)
        let app = Application(router: buildRouter(services), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        return try await app.test(.router) { client in try await body(GatewayHarness(client: client, services: services, storage: storage)) }
    }

    struct Answering: RequestStage {
        func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
            .answer(Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"cached":true}"#))))
        }
    }

    struct Refusing: RequestStage {
        func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
            .refuse(GatewayError(.forbidden, "Held for review."))
        }
    }

    /// Sends every chat request for `demo` to `demo-small` instead.
    struct Rewriting: RequestStage {
        func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
            guard let r = call.request as? OpenAIRequest, r.model == "demo" else { return .pass }
            let text = String(buffer: r.body).replacingOccurrences(of: #""model":"demo""#, with: #""model":"demo-small""#)
            guard let rewritten = try? OpenAIRequest.chat(ByteBuffer(string: text)) as? API.Request else { return .pass }
            call.request = rewritten
            return .pass
        }
    }

    @Test func aRequestStageAnswersItselfAndNothingIsAttempted() async throws {
        try await withStages(EngineStages(request: [Answering()])) { h in
            let r = try await h.post("/v1/chat/completions", chatBody)
            #expect(r.status == .ok && r.text == #"{"cached":true}"#)
            #expect(r.header("x-switchboard-attempts") == nil)
            let record = try #require(try await h.records().first)
            #expect(record.status == 200 && record.attempts == 0 && record.provider == nil && record.usage.totalTokens == 0)
        }
    }

    @Test func aRequestStageRefusesInTheClientsOwnShape() async throws {
        try await withStages(EngineStages(request: [Refusing()])) { h in
            let openAI = try await h.post("/v1/chat/completions", chatBody)
            #expect(openAI.status == .forbidden && openAI.errorObject?["code"] as? String == "forbidden")
            let anthropic = try await h.post("/v1/messages", #"{"model":"demo","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(anthropic.status == .forbidden && anthropic.text.contains(#""type":"permission_error""#))
            #expect(try await h.records().map(\.errorCode) == ["forbidden", "forbidden"])
            // Refusals come after admission: an unknown model is still the first step's 404, not the stage's.
            let unknown = try await h.post("/v1/chat/completions", #"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#)
            #expect(unknown.status == .notFound)
        }
    }

    @Test func aRequestStageRewritesTheRequestBeforeItIsPlanned() async throws {
        try await withStages(EngineStages(request: [Rewriting()])) { h in
            let r = try await h.post("/v1/chat/completions", chatBody)
            #expect(r.status == .ok && r.header("x-switchboard-model") == "demo-small" && r.header("x-switchboard-provider") == "sim-a")
            let record = try #require(try await h.records().first)
            #expect(record.model == "demo" && record.servedModel == "demo-small")
        }
    }

    /// Upper-cases every answer and chunk, notes the order chunks came in, and ends a stream at its `stopAt`-th chunk.
    final class Shouting: ResponseStage {
        let seen = Mutex<[Int]>([])
        let stopAt: Int?

        init(stopAt: Int?) { self.stopAt = stopAt }

        func start<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> (any ResponseFilter)? { Filter(stage: self) }

        struct Filter: ResponseFilter {
            let stage: Shouting
            var count = 0

            func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) -> ResponseVerdict {
                body = ByteBuffer(string: String(buffer: body).uppercased())
                return .pass
            }

            mutating func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
                count += 1
                let n = count
                stage.seen.withLock { $0.append(n) }
                if n == stage.stopAt { return .stop(GatewayError(.badRequest, "Blocked.")) }
                bytes = ByteBuffer(string: String(buffer: bytes).replacingOccurrences(of: "\"content\":\"", with: "\"content\":\"!"))
                return .pass
            }

            func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange) {}
        }
    }

    @Test func aResponseStageRewritesAWholeAnswerBeforeBodyCaptureSeesIt() async throws {
        let yaml = mockYAML + "\nlogging: { bodies: { enabled: true, max_bytes: 100000 } }"
        try await withStages(EngineStages(response: [Shouting(stopAt: nil)]), yaml: yaml) { h in
            let r = try await h.post("/v1/chat/completions", chatBody)
            #expect(r.status == .ok && r.text.contains("\"CHOICES\"") && !r.text.contains("\"choices\""))
            // The body capture stage runs last: the log holds what the client got.
            let id = try #require(try await h.records().first?.id)
            #expect(try await h.storage.request(id: id)?.responseBody == r.text)
        }
    }

    @Test func aResponseStageSeesEveryChunkInOrderAndEndsAStreamWithAnErrorEvent() async throws {
        let shouting = Shouting(stopAt: 3)
        try await withStages(EngineStages(response: [shouting])) { h in
            let r = try await h.post("/v1/chat/completions", #"{"model":"demo-small","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(r.status == .ok)
            #expect(r.text.contains(#""content":"!"#))                             // the chunks before were rewritten
            #expect(r.text.hasSuffix(#"data: {"error":{"message":"Blocked.","type":"invalid_request_error","param":null,"code":"bad_request"}}"# + "\n\n"))
            #expect(!r.text.contains("[DONE]"))                                      // never a silently cut stream
            #expect(shouting.seen.withLock { $0 } == [1, 2, 3])                      // in order, and nothing after the stop
            let record = try #require(try await h.records().first)
            #expect(record.status == 400 && record.errorCode == "bad_request")
        }
    }

    @Test func theCapabilityStageFollowsTheFallbacksRoutingWould() throws {
        let config = try ConfigLoader.load(yaml: """
            providers: [ { name: p, kind: mock } ]
            models:
              - { name: text, deployments: [ { provider: p, model: t, capabilities: { vision: false } } ], fallbacks: [seeing] }
              - { name: seeing, deployments: [ { provider: p, model: s } ] }
              - { name: small, deployments: [ { provider: p, model: s, capabilities: { context_window: 100 } } ], context_window_fallbacks: [big], fallbacks: [text] }
              - { name: big, deployments: [ { provider: p, model: b, capabilities: { context_window: 1000, vision: false } } ] }
            """, environment: [:])
        let stage = CapabilityStage(table: RoutingTable(config: config, seed: 1, now: { 0 }))
        let image = RequestNeeds(vision: true, estimatedPromptTokens: 10)
        #expect(stage.missing(model: "text", needs: image, allows: { _ in true }) == nil)              // its fallback can see
        #expect(stage.missing(model: "text", needs: image, allows: { $0 != "seeing" }) == "vision")     // … unless the key may not use it
        let long = RequestNeeds(estimatedPromptTokens: 500)
        #expect(stage.missing(model: "small", needs: long, allows: { _ in true }) == nil)              // the context-window list, not `fallbacks`
        #expect(stage.missing(model: "small", needs: RequestNeeds(vision: true, estimatedPromptTokens: 500), allows: { _ in true }) == "vision")
        #expect(stage.missing(model: "small", needs: RequestNeeds(estimatedPromptTokens: 5000), allows: { _ in true }) == "context_window")
    }
}
