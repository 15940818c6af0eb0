import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Testing

/// The hostile-upstream harness: a fake provider with a catalogue of misbehaviours, run against every route and both
/// streaming modes. Whatever the upstream does, the client gets a well-formed answer or an error in its API's shape,
/// nothing secret leaves, the request log holds no absurd numbers, and the process stays up.
@Suite struct HostileUpstreamTests {
    /// The provider keys the gateway holds: one shaped like an OpenAI key, one no redaction pattern knows.
    static let openAIKey = "sk-upstream-SECRET0123456789abcdef"
    static let oddKey = "zq!odd-shaped-provider-credential~77"

    enum Misbehaviour: String, CaseIterable, Sendable {
        /// Usage of Int64.max in every field (9223372036854775807).
        case usageInt64Max
        /// Usage of 2^62 in two fields: their sum overflows.
        case usageOverflowingSum
        /// Usage of 1e15 + 1e15 (costs more than a UInt64 of 1e-10 dollars).
        case usageHuge
        /// Negative usage (-1e9).
        case usageNegative
        /// Usage as 1e30, "12", 3.5 and null.
        case usageNotIntegers
        /// A 400 whose message quotes the provider key the upstream received, in several shapes.
        case echoesKeyIn400
        /// A 500 doing the same.
        case echoesKeyIn500
        /// A 422 with the key in `param`, `type` and `code` too.
        case echoesKeyInFields
        /// 429 with `Retry-After: 1e308` and `retry-after-ms: inf`.
        case absurdRetryAfter
        /// 200 with an HTML page.
        case htmlOK
        /// 200 with JSON cut in the middle.
        case truncatedJSON
        /// 200 with binary garbage.
        case binaryOK
        /// 200 with `content-encoding: gzip`.
        case gzipped
        /// 302 with a `Location`.
        case redirect302
        /// 307 without a `Location`.
        case redirect307
        /// Plain JSON (application/json) where a stream was asked for, and a stream where JSON was.
        case wrongContentType
        /// A stream that breaks inside an event (the connection dies).
        case brokenMidEvent
        /// One 8 MiB line without a newline.
        case endlessLine
        /// A 80 MiB non-streamed body (and an endless stream of small events).
        case hugeBody
        /// One byte every 20 ms, forever.
        case drip
    }

    enum Route: String, CaseIterable, Sendable {
        case chat, chatStream, chatViaGemini, chatViaGeminiStream, embeddings, messagesViaOpenAI, messagesViaOpenAIStream, messagesViaAnthropic, messagesViaAnthropicStream, countTokens

        var path: String {
            switch self {
            case .chat, .chatStream, .chatViaGemini, .chatViaGeminiStream: "/v1/chat/completions"
            case .embeddings: "/v1/embeddings"
            case .countTokens: "/v1/messages/count_tokens"
            default: "/v1/messages"
            }
        }
        var anthropicShape: Bool { path.hasPrefix("/v1/messages") }
        var stream: Bool { [.chatStream, .chatViaGeminiStream, .messagesViaOpenAIStream, .messagesViaAnthropicStream].contains(self) }
        var body: String {
            let model = [.messagesViaAnthropic, .messagesViaAnthropicStream, .countTokens].contains(self) ? "claude" : "gpt"
            switch self {
            case .chat, .chatStream:
                return #"{"model":"gpt","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#
            case .chatViaGemini, .chatViaGeminiStream:
                return #"{"model":"gem","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#
            case .embeddings:
                return #"{"model":"gpt","input":["one","two"]}"#
            default:
                return #"{"model":"\#(model)","max_tokens":50,"stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#
            }
        }
    }

    static func yaml(_ port: Int) -> String {
        """
        auth: { master_key: "sk-admin-0123456789", keys: [ { name: tester, key: "sk-test" } ] }
        providers:
          - { name: oa, kind: openai, base_url: "http://127.0.0.1:\(port)/v1", api_key: "\(openAIKey)", headers: { x-extra: "\(oddKey)" } }
          - { name: an, kind: anthropic, base_url: "http://127.0.0.1:\(port)", api_key: "\(oddKey)" }
          - { name: ge, kind: gemini, base_url: "http://127.0.0.1:\(port)", api_key: "\(openAIKey)" }
        models:
          - { name: gpt, deployments: [ { provider: oa, model: m, price: { input: 1, output: 2 } } ] }
          - { name: claude, deployments: [ { provider: an, model: m, price: { input: 1, output: 2 } } ] }
          - { name: gem, deployments: [ { provider: ge, model: m, price: { input: 1, output: 2 } } ] }
        routing: { retries: 1, total_timeout_s: 1, timeout_s: 5, backoff: { base_ms: 1, max_ms: 2 }, health: { failure_threshold: 1000, error_ratio: 0 } }
        logging: { bodies: { enabled: true, redact: [] } }
        """
    }

    /// `HOSTILE_ONLY=drip swift test --filter HostileUpstreamTests` runs one misbehaviour.
    @Test(arguments: ProcessInfo.processInfo.environment["HOSTILE_ONLY"].flatMap { Misbehaviour(rawValue: $0) }.map { [$0] } ?? Misbehaviour.allCases)
    func everyRouteAnswersInItsShapeAndNothingLeaks(_ m: Misbehaviour) async throws {
        try await FakeUpstream.run({ r in Self.misbehave(m, r) }) { fake in
            try await withGateway(Self.yaml(fake.port), mode: .live) { h in
                for route in Route.allCases {
                    let r = try await h.post(route.path, route.body)
                    let text = r.text
                    let what = "\(m) on \(route)"
                    #expect(!text.contains(Self.openAIKey) && !text.contains(Self.oddKey) && !text.contains("SECRET0123"), "\(what): a key leaked: \(text.prefix(300))")
                    #expect(r.status != .internalServerError, "\(what): 500")
                    if r.status == .ok {
                        if route.stream { Self.checkStream(text, route: route, what) } else { Self.checkJSON(text, what) }
                    } else {
                        Self.checkError(text, anthropic: route.anthropicShape, what)
                    }
                }
                #expect(try await h.get("/healthz", key: nil).status == .ok)
                let records = try await h.records()
                for record in records {
                    let u = record.usage
                    #expect(u.isPlausible, "\(m): implausible usage recorded \(u)")
                    #expect(record.costUSD.isFinite && record.costUSD >= 0 && record.costUSD < 1000, "\(m): cost \(record.costUSD)")
                    #expect(!(record.requestBody ?? "").contains(Self.oddKey) && !(record.responseBody ?? "").contains(Self.oddKey))
                    #expect(!(record.responseBody ?? "").contains(Self.openAIKey))
                }
                if m.rawValue.hasPrefix("usage") {
                    // Absurd usage is never billed as a success.
                    #expect(records.allSatisfy { $0.status != 200 || $0.usage == Usage() }, "\(m): \(records.map { ($0.status, $0.usage) })")
                }
            }
        }
    }

    // MARK: Checks

    static func checkError(_ text: String, anthropic: Bool, _ what: String) {
        guard let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let e = o["error"] as? [String: Any] else {
            Issue.record("\(what): error body is not JSON: \(text.prefix(200))")
            return
        }
        if anthropic {
            #expect(o["type"] as? String == "error" && e["type"] is String && e["message"] is String, "\(what): \(text.prefix(200))")
        } else {
            #expect(e["message"] is String && e["type"] is String && e["code"] is String, "\(what): \(text.prefix(200))")
        }
    }

    static func checkJSON(_ text: String, _ what: String) {
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any], "\(what): 200 that is not JSON: \(text.prefix(200))")
    }

    /// Every event the gateway wrote itself stands alone: the last one is the end marker or an error event in the
    /// route's shape, never glued to a broken line.
    static func checkStream(_ text: String, route: Route, _ what: String) {
        let events = text.components(separatedBy: "\n\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        guard let last = events.last else { Issue.record("\(what): empty stream"); return }
        let data = last.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) } ?? ""
        if data == "[DONE]" { return }
        let json = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
        let ok = json?["error"] != nil || (route.anthropicShape && json?["type"] as? String == "message_stop")
        #expect(ok, "\(what): the stream ends with \(last.prefix(300))")
    }

    // MARK: The misbehaving upstream

    static func misbehave(_ m: Misbehaviour, _ r: ReceivedRequest) -> Response {
        let anthropic = r.path.hasSuffix("/messages") || r.path.hasSuffix("/count_tokens")
        let stream = r.text.contains(#""stream":true"#) || r.path.hasSuffix(":streamGenerateContent")
        let echo = "Incorrect API key provided: \(r.headers[.authorization] ?? "") x-api-key: \(r.headers[HTTPField.Name("x-api-key")!] ?? "") extra=\(r.headers[HTTPField.Name("x-extra")!] ?? "") google=\(r.headers[HTTPField.Name("x-goog-api-key")!] ?? "")"
        switch m {
        case .usageInt64Max: return usage(anthropic, stream, r, "9223372036854775807", "9223372036854775807")
        case .usageOverflowingSum: return usage(anthropic, stream, r, "4611686018427387904", "4611686018427387904")
        case .usageHuge: return usage(anthropic, stream, r, "1000000000000000", "1000000000000000")
        case .usageNegative: return usage(anthropic, stream, r, "-1000000000", "-1000000000")
        case .usageNotIntegers: return usage(anthropic, stream, r, "1e30", "3.5")
        case .echoesKeyIn400:
            return jsonReply(anthropic ? #"{"type":"error","error":{"type":"invalid_request_error","message":\#(JSONString.quote(echo))}}"#
                                       : Wire.error(echo.replacingOccurrences(of: "\"", with: "'")), status: .badRequest)
        case .echoesKeyIn500:
            return jsonReply(Wire.error(echo.replacingOccurrences(of: "\"", with: "'"), type: "server_error"), status: .internalServerError)
        case .echoesKeyInFields:
            let k = r.headers[.authorization] ?? r.headers[HTTPField.Name("x-api-key")!] ?? r.headers[HTTPField.Name("x-goog-api-key")!] ?? ""
            return jsonReply(#"{"error":{"message":"no","type":\#(JSONString.quote(k)),"param":\#(JSONString.quote(k)),"code":\#(JSONString.quote(k))}}"#,
                             status: .unprocessableContent)
        case .absurdRetryAfter:
            var h = HTTPFields()
            h[.retryAfter] = "1e308"
            h[HTTPField.Name("retry-after-ms")!] = "inf"
            return jsonReply(Wire.error("slow down", type: "rate_limit_error", code: "rate_limited"), status: .tooManyRequests, headers: h)
        case .htmlOK: return raw("text/html", "<html><body>Bad gateway</body></html>")
        case .truncatedJSON: return raw("application/json", #"{"id":"x","choices":[{"message":{"content":"hel"#)
        case .binaryOK: return raw("application/octet-stream", String(decoding: (0..<512).map { UInt8(($0 * 37) & 0xFF) }, as: UTF8.self))
        case .gzipped:
            var h = HTTPFields()
            h[.contentType] = stream ? "text/event-stream" : "application/json"
            h[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])))
        case .redirect302:
            var h = HTTPFields()
            h[.location] = "http://127.0.0.1:1/elsewhere"
            return Response(status: .found, headers: h)
        case .redirect307: return Response(status: .temporaryRedirect)
        case .wrongContentType:
            return stream ? jsonReply(Wire.chatCompletion()) : sseReply { send in try await send(Wire.chunk("x")) }
        case .brokenMidEvent:
            return streamed(stream ? "text/event-stream" : "application/json") { writer in
                try await writer.write(ByteBuffer(string: stream ? Wire.chunk("hello") + #"data: {"id":"c1","choices":[{"delta":{"content":"cut"# : #"{"id":"x","#))
                throw CancellationError()     // the connection dies mid-body
            }
        case .endlessLine:
            return streamed(stream ? "text/event-stream" : "application/json") { writer in
                try await writer.write(ByteBuffer(string: "data: {\"x\":\""))
                let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 << 10)
                for _ in 0..<128 { try await writer.write(chunk) }
                try await writer.finish(nil)
            }
        case .hugeBody:
            return streamed(stream ? "text/event-stream" : "application/json") { writer in
                if stream {
                    let events = ByteBuffer(string: String(repeating: Wire.chunk("more"), count: 200))
                    while true { try await writer.write(events) }     // until the total timeout
                }
                try await writer.write(ByteBuffer(string: #"{"pad":""#))
                let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 1 << 20)
                for _ in 0..<80 { try await writer.write(chunk) }
                try await writer.write(ByteBuffer(string: #""}"#))
                try await writer.finish(nil)
            }
        case .drip:
            return streamed(stream ? "text/event-stream" : "application/json") { writer in
                while true {
                    try await writer.write(ByteBuffer(string: " "))
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    /// A well-formed answer in the request's format whose usage is `prompt` and `completion` (raw JSON numbers).
    static func usage(_ anthropic: Bool, _ stream: Bool, _ r: ReceivedRequest, _ prompt: String, _ completion: String) -> Response {
        if r.path.hasSuffix("/embeddings") {
            return raw("application/json", #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"m","usage":{"prompt_tokens":\#(prompt),"total_tokens":\#(prompt)}}"#)
        }
        if r.path.hasSuffix("/count_tokens") { return raw("application/json", #"{"input_tokens":\#(prompt)}"#) }
        if r.path.contains("GenerateContent") || r.path.contains("generateContent") {
            let g = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":\#(prompt),"candidatesTokenCount":\#(completion),"thoughtsTokenCount":\#(completion),"cachedContentTokenCount":\#(prompt)}}"#
            return stream ? sseReply { send in try await send("data: \(g)\r\n\r\n") } : raw("application/json", g)
        }
        if anthropic {
            let u = #"{"input_tokens":\#(prompt),"output_tokens":\#(completion),"cache_read_input_tokens":\#(prompt)}"#
            if !stream {
                return raw("application/json", #"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":\#(u)}"#)
            }
            return sseReply { send in
                try await send("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":\(u)}}\n\n")
                try await send("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
                try await send("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n")
                try await send("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":\(u)}\n\n")
                try await send("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
            }
        }
        let u = #"{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(completion),"prompt_tokens_details":{"cached_tokens":\#(prompt)},"completion_tokens_details":{"reasoning_tokens":\#(completion)}}"#
        if !stream {
            return raw("application/json", #"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":\#(u)}"#)
        }
        return sseReply { send in
            try await send(Wire.chunk("hi", finish: "stop"))
            try await send(#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":\#(u)}"# + "\n\n")
            try await send(Wire.done)
        }
    }

    static func raw(_ type: String, _ body: String) -> Response {
        var h = HTTPFields()
        h[.contentType] = type
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func streamed(_ type: String, _ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        var h = HTTPFields()
        h[.contentType] = type
        return Response(status: .ok, headers: h, body: ResponseBody { writer in try await write(&writer) })
    }
}
