import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import SwitchboardProviders

/// Translation round trips: OpenAI → Anthropic → OpenAI keeps the conversation.
@Suite struct RoundTripTests {
    @Test func openAIThroughAnthropicAndBack() throws {
        let original = JSONValue.parse(Data(#"""
        {"model":"m","max_tokens":50,"stream":true,"stop":["END"],"user":"u",
         "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"w","arguments":"{\"c\":\"Paris\"}"}}]},
          {"role":"tool","tool_call_id":"call_1","content":"18C"},{"role":"user","content":"Thanks"}],
         "tools":[{"type":"function","function":{"name":"w","description":"d","parameters":{"type":"object"}}}],"tool_choice":"auto"}
        """#.utf8))!
        let anthropic = try AnthropicTranslation.request(original, model: "m")
        let back = try MessagesToOpenAI.request(anthropic)
        #expect(back["messages"] == original["messages"])
        #expect(back["tools"] == original["tools"])
        #expect(back["tool_choice"] == original["tool_choice"])
        for key in ["max_tokens", "stream", "stop", "user", "model"] { #expect(back[key] == original[key], "\(key)") }
    }

    @Test func anthropicAnswerThroughOpenAIAndBack() throws {
        let message = JSONValue.parse(Data(AnthropicFixture.messageWithToolAndCache.utf8))!
        let openAI = AnthropicTranslation.response(message, created: 1)
        let usage = try #require(Usage.inOpenAIResponse(ByteBuffer(string: openAI.jsonText)))
        let back = MessagesToOpenAI.response(openAI, usage: usage, model: "claude-sonnet-4-5")
        for key in ["id", "content", "stop_reason", "usage", "model", "role", "type"] { #expect(back[key] == message[key], "\(key)") }
    }
}

/// Provider errors keep their meaning through every kind: 429 and 529/5xx are retried on another deployment, and
/// when none is left the client gets the status (429 with Retry-After) and the provider's message; 400s (context too
/// long) are passed through at once.
@Suite struct ProviderErrorTests {
    enum Kind: String, CaseIterable, Sendable { case openai, anthropic, gemini }

    func failure(_ kind: Kind, _ status: Int) -> Response {
        var headers = HTTPFields()
        if status == 429 { headers[.retryAfter] = "7" }
        let body: String
        switch (kind, status) {
        case (.openai, 400): body = Wire.error("This model's maximum context length is 128000 tokens.", code: "context_length_exceeded")
        case (.openai, _): body = Wire.error("Rate limit reached", type: "requests", code: "rate_limit_exceeded")
        case (.anthropic, 400): body = #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#
        case (.anthropic, 429): body = #"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#
        case (.anthropic, _): body = AnthropicFixture.overloadedError
        case (.gemini, 400): body = #"{"error":{"code":400,"message":"The input token count exceeds the maximum number of tokens allowed.","status":"INVALID_ARGUMENT"}}"#
        case (.gemini, 429): body = #"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#
        case (.gemini, _): body = #"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#
        }
        return jsonReply(body, status: .init(code: status), headers: headers)
    }

    func yaml(_ kind: Kind, _ port: Int) -> String {
        let base = kind == .openai ? "http://127.0.0.1:\(port)/v1" : "http://127.0.0.1:\(port)"
        return """
        auth: { keys: [ { name: tester, key: "sk-test" } ] }
        providers:
          - { name: a, kind: \(kind.rawValue), base_url: "\(base)", api_key: "key-a" }
          - { name: b, kind: \(kind.rawValue), base_url: "\(base)", api_key: "key-b" }
        models:
          - { name: two, balancing: round-robin, deployments: [ { provider: a, model: m1 }, { provider: b, model: m1 } ] }
          - { name: one, deployments: [ { provider: a, model: m1 } ] }
        routing: { retries: 1 }
        """
    }

    @Test(arguments: Kind.allCases, [429, 529, 503])
    func retriedOnAnotherDeploymentThenPassedOn(_ kind: Kind, _ status: Int) async throws {
        let success: [Kind: String] = [.openai: Wire.chatCompletion(), .anthropic: AnthropicFixture.messageWithToolAndCache, .gemini: GeminiFixture.functionCall]
        try await FakeUpstream.run({ [self] r in
            let fromA = [r.headers[.authorization], r.headers[HTTPField.Name("x-api-key")!], r.headers[HTTPField.Name("x-goog-api-key")!]]
                .contains { $0?.hasSuffix("key-a") == true }
            return fromA ? failure(kind, status) : jsonReply(success[kind]!)
        }) { fake in
            try await withGateway(yaml(kind, fake.port), mode: .live) { h in
                let body = #"{"model":"two","messages":[{"role":"user","content":"x"}]}"#
                for _ in 0..<2 {
                    let r = try await h.post("/v1/chat/completions", body)
                    #expect(r.status == .ok && r.header("x-switchboard-provider") == "b")
                }
                let only = try await h.post("/v1/chat/completions", #"{"model":"one","messages":[{"role":"user","content":"x"}]}"#)
                if status == 429 {
                    // Deployment a is cooling down for its Retry-After (7 s) in every model that uses it: not hit again.
                    #expect(only.status == .tooManyRequests && only.errorObject?["code"] as? String == "upstream_rate_limited")
                    #expect((5...7).contains(Int(only.header("retry-after") ?? "") ?? 0))
                    #expect(fake.requests.filter { $0.text.contains("x") }.count == 3)
                } else {
                    #expect(only.status == .badGateway)
                    #expect(only.header("x-switchboard-attempts") == "2")
                }
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func contextTooLongIsPassedThroughUnretried(_ kind: Kind) async throws {
        try await FakeUpstream.run({ [self] _ in failure(kind, 400) }) { fake in
            try await withGateway(yaml(kind, fake.port), mode: .live) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"two","messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .badRequest)
                #expect((r.errorObject?["message"] as? String)?.contains("token") == true)
                #expect(fake.requests.count == 1)
                // The client reads the upstream's own code; the log and the metrics keep the gateway's closed one.
                if kind == .openai { #expect(r.errorObject?["code"] as? String == "context_length_exceeded") }
                #expect(try await h.records().first?.errorCode == "upstream_rejected")
            }
        }
    }
}

/// Providers read their upstream's raw answer themselves: a translated stream that is not an event stream is a
/// failed attempt (retried elsewhere) before anything is translated, and a translated answer that is not one is
/// reported once, in the provider's words.
@Suite struct TranslatedAnswerTests {
    static let good: [ProviderErrorTests.Kind: String] = [.anthropic: AnthropicFixture.textStream, .gemini: GeminiFixture.textStream]

    @Test(arguments: [ProviderErrorTests.Kind.anthropic, .gemini])
    func aTranslatedStreamThatIsNotAnEventStreamIsRetriedElsewhere(_ kind: ProviderErrorTests.Kind) async throws {
        try await FakeUpstream.run({ r in
            let fromA = [r.headers[HTTPField.Name("x-api-key")!], r.headers[HTTPField.Name("x-goog-api-key")!]].contains { $0 == "key-a" }
            var h = HTTPFields()
            h[.contentType] = fromA ? "text/html" : "text/event-stream"
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: fromA ? "<html>maintenance</html>" : Self.good[kind]!)))
        }) { fake in
            try await withGateway(ProviderErrorTests().yaml(kind, fake.port), mode: .live) { h in
                for _ in 0..<2 {
                    let r = try await h.post("/v1/chat/completions", #"{"model":"two","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
                    #expect(r.status == .ok && r.header("x-switchboard-provider") == "b" && r.text.hasSuffix("data: [DONE]\n\n"))
                    #expect(!r.text.contains("html"))
                }
            }
        }
    }

    @Test func aTranslatedAnswerThatIsNotOneIsReportedOnce() async throws {
        try await FakeUpstream.run({ _ in jsonReply(#"{"not":"a message"}"#) }) { fake in
            try await withGateway(ProviderErrorTests().yaml(.anthropic, fake.port), mode: .live) { h in
                let r = try await h.post("/v1/chat/completions", #"{"model":"one","messages":[{"role":"user","content":"x"}]}"#)
                #expect(r.status == .badGateway)
                #expect(r.errorObject?["message"] as? String == "The upstream provider 'a' sent an invalid response: not an Anthropic message.")
            }
        }
    }
}

/// The gateway's error codes: a closed set, each with one status and type; an upstream's own words kept apart.
@Suite struct GatewayErrorCodeTests {
    @Test func everyCodeHasOneNameStatusAndType() {
        let all = GatewayError.Code.all
        #expect(Set(all.map(\.name)).count == all.count)
        for code in all {
            #expect(code.name.allSatisfy { $0.isLowercase || $0 == "_" }, "\(code) is not a label-safe name")
            #expect((400...504).contains(code.status))
            #expect(!code.type.isEmpty)
        }
        #expect(GatewayError.Code.forStatus(405) == .methodNotAllowed && GatewayError.Code.forStatus(431) == .badRequest)
    }

    @Test func anUpstreamsWordsAreShownOnA4xxButNeverBecomeTheCode() {
        var rejected = GatewayError.upstreamStatus(provider: "p", status: 422)
        rejected.upstream?.type = "invalid_request_error"
        rejected.upstream?.code = "bad_schema"
        #expect(rejected.status == 422 && rejected.code == .upstreamRejected && rejected.clientCode == "bad_schema")
        #expect(rejected.openAIBody.contains(#""code":"bad_schema""#))
        var failed = GatewayError.upstreamStatus(provider: "p", status: 503)
        failed.upstream?.type = "weird"
        failed.upstream?.code = "x"
        #expect(failed.status == 502 && failed.type == "upstream_error" && failed.clientCode == "upstream_error")
        #expect(GatewayError.upstreamStatus(provider: "p", status: 429).code == .upstreamRateLimited)
        #expect(GatewayError.upstreamStatus(provider: "p", status: 404).status == 404)
    }
}

/// Each provider kind classifies its upstream's errors in that upstream's own words; routing sees only the result.
@Suite struct UpstreamErrorClassificationTests {
    static let openAI: any UpstreamErrorFormat = OpenAIErrorFormat()
    static let anthropic: any UpstreamErrorFormat = NamedErrorFormat.anthropic
    static let gemini: any UpstreamErrorFormat = NamedErrorFormat.gemini

    @Test(arguments: [
        (openAI, 400, Wire.error("This model's maximum context length is 128000 tokens.", code: "context_length_exceeded"), ProviderFailure.Kind.contextTooLong),
        (anthropic, 400, #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 250000 tokens > 200000 maximum"}}"#, .contextTooLong),
        (gemini, 400, #"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#, .contextTooLong),
        (openAI, 400, Wire.error("The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", code: "content_filter"), .contentRefused),
        (openAI, 400, Wire.error("Your request was rejected as a result of our safety system.", code: "content_policy_violation"), .contentRefused),
        (openAI, 400, Wire.error("max_tokens: must be positive", code: "invalid_request_error"), .clientError),
        (anthropic, 400, #"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: must be positive"}}"#, .clientError),
        (openAI, 404, Wire.error("The model does not exist", code: "model_not_found"), .clientError),
        (openAI, 429, Wire.error("Too many requests", code: "rate_limit_exceeded"), .rateLimited(retryAfterMs: nil)),
        (anthropic, 529, AnthropicFixture.overloadedError, .failed),
        (gemini, 500, #"{"error":{"code":500,"message":"boom","status":"INTERNAL"}}"#, .failed),
        (openAI, 401, Wire.error("Incorrect API key provided: sk-abc…", code: "invalid_api_key"), .authRejected),
        (openAI, 302, "", .failed),
    ] as [(any UpstreamErrorFormat, Int, String, ProviderFailure.Kind)])
    func classified(_ format: any UpstreamErrorFormat, _ status: Int, _ body: String, _ expected: ProviderFailure.Kind) async throws {
        let call = UpstreamCall(provider: "p", context: ProviderCallContext(requestID: "r", timeout: .seconds(1)), errors: format, wire: .openAI)
        let upstream = UpstreamResponse(status: status, headers: [("content-type", "application/json")], body: UpstreamBody(ByteBuffer(string: body)))
        let failure = try #require(await call.failure(of: upstream, stream: false))
        #expect(failure.kind == expected)
        #expect(!failure.error.message.contains("sk-abc"))
    }
}
