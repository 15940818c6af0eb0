import Foundation
import HTTPTypes
import NIOCore
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardTesting
import Testing

/// The privacy guardrail in the running gateway (in process, echoing mock upstreams: the answer is what the upstream
/// was sent): pseudonymised values restored in chat completions and Anthropic messages, whole and streamed; block and
/// redact; embeddings; the request log holding only placeholders.
@Suite struct PrivacyStageTests {
    static let yaml = """
        auth:
          master_key: "sk-master"
          keys:
            - { name: tester, key: "\(GatewayHarness.key)" }
            - { name: strict, key: "sk-strict" }
        providers:
          - { name: echo, kind: mock, reply: echo }
          - { name: echo-anthropic, kind: mock, reply: echo, api: anthropic }
        models:
          - name: chat
            deployments: [{ provider: echo, model: e }]
          - name: claude
            deployments: [{ provider: echo-anthropic, model: c }]
          - name: emb
            deployments: [{ provider: echo, model: emb }]
        logging:
          bodies: { enabled: true }
        guardrails:
          pii:
            - { name: strict-keys, action: block, keys: [strict] }
            - { name: embeddings, action: redact, models: [emb] }
            - { name: mask, action: pseudonymise, names: [Jane Doe] }
        """
    static let secret = "Mail jane@example.com or call +44 20 7946 0958, says Jane Doe (card 4111 1111 1111 1111)."
    static let raw = ["jane@example.com", "+44 20 7946 0958", "Jane Doe", "4111 1111 1111 1111"]

    static func chat(_ text: String, stream: Bool = false) -> String {
        #"{"model":"chat","stream":\#(stream),"messages":[{"role":"user","content":\#(JSONString.quote(text))}]}"#
    }

    /// The `delta.content` (OpenAI) or `text_delta` (Anthropic) texts of a stream, joined.
    static func streamedText(_ body: String) -> String {
        body.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: "), let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] else { return nil }
            if let choices = object["choices"] as? [[String: Any]] {
                return choices.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined()
            }
            return (object["delta"] as? [String: Any])?["text"] as? String
        }.joined()
    }

    /// The request log's entries with their bodies.
    static func logged(_ h: GatewayHarness) async throws -> [RequestRecord] {
        var out: [RequestRecord] = []
        for record in try await h.records() { if let full = try await h.storage.request(id: record.id) { out.append(full) } }
        return out
    }

    @Test func pseudonymisedValuesNeverGoUpstreamAndComeBackToTheClient() async throws {
        try await withGateway(Self.yaml) { h in
            let whole = try await h.post("/v1/chat/completions", Self.chat(Self.secret))
            #expect(whole.status == .ok)
            let message = try #require(((try whole.json())["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
            #expect(message["content"] as? String == Self.secret)
            #expect(whole.header("x-switchboard-guardrails") == "pii=pseudonymise:card,email,name,phone")

            let streamed = try await h.post("/v1/chat/completions", Self.chat(Self.secret, stream: true))
            #expect(streamed.status == .ok && Self.streamedText(streamed.text) == Self.secret)
            #expect(streamed.text.contains("data: [DONE]"))

            // What went upstream (the request log's request body) and what came back from it hold placeholders only.
            let records = try await Self.logged(h)
            #expect(records.count == 2)
            for record in records {
                let logged = (record.requestBody ?? "") + (record.responseBody ?? "")
                #expect(logged.contains("[EMAIL_1]") && logged.contains("[NAME_1]") && logged.contains("[CARD_1]"))
                for value in Self.raw { #expect(!logged.contains(value), "\(value) in the log") }
            }
        }
    }

    @Test func anthropicMessagesAreMaskedInEveryTextBlockSystemIncluded() async throws {
        try await withGateway(Self.yaml) { h in
            for stream in [false, true] {
                let body = #"{"model":"claude","max_tokens":200,"stream":\#(stream),"system":[{"type":"text","text":"Customer: jane@example.com"}],"messages":[{"role":"user","content":[{"type":"text","text":\#(JSONString.quote(Self.secret))}]}]}"#
                let r = try await h.post("/v1/messages", body, headers: [HTTPField.Name("anthropic-version")!: "2023-06-01"])
                #expect(r.status == .ok)
                if stream {
                    #expect(Self.streamedText(r.text) == Self.secret)
                } else {
                    let content = try #require((try r.json())["content"] as? [[String: Any]])
                    #expect(content.first?["text"] as? String == Self.secret)
                }
            }
            for record in try await Self.logged(h) {
                #expect(record.requestBody?.contains("Customer: [EMAIL_1]") == true)
                for value in Self.raw { #expect(!(record.requestBody ?? "").contains(value) && !(record.responseBody ?? "").contains(value)) }
            }
        }
    }

    @Test func blockRefusesNamingTheKindsNeverTheValues() async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await h.post("/v1/chat/completions", Self.chat(Self.secret), key: "sk-strict")
            #expect(r.status == .badRequest)
            let error = try #require(r.errorObject)
            #expect(error["code"] as? String == "pii_detected" && error["type"] as? String == "invalid_request_error")
            let message = try #require(error["message"] as? String)
            #expect(message.contains("card, email, phone") && message.contains("strict-keys"))
            for value in Self.raw { #expect(!r.text.contains(value)) }
            // A clean request from the same key goes through.
            #expect(try await h.post("/v1/chat/completions", Self.chat("hello there"), key: "sk-strict").status == .ok)
            let refused = try #require(try await Self.logged(h).first { $0.status == 400 })
            #expect(refused.errorCode == "pii_detected" && refused.requestBody?.contains("[EMAIL]") == true)
            // (This policy has no list of names: "Jane Doe" is not something it looks for.)
            for value in Self.raw where value != "Jane Doe" { #expect(!(refused.requestBody ?? "").contains(value)) }
        }
    }

    @Test func embeddingsInputsAreRedacted() async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await h.post("/v1/embeddings", #"{"model":"emb","input":["plain text","reach me at jane@example.com"]}"#)
            #expect(r.status == .ok && r.header("x-switchboard-guardrails") == "pii=redact:email")
            let record = try #require(try await Self.logged(h).first)
            #expect(record.requestBody == #"{"model":"emb","input":["plain text","reach me at [EMAIL]"]}"#)
        }
    }

    @Test func tokenCountsUpstreamAreMaskedOrBlockedLikeTheRequestsThemselves() async throws {
        try await FakeUpstream.run({ _ in jsonReply(#"{"input_tokens":42}"#) }) { fake in
            let yaml = """
                auth:
                  keys: [{ name: tester, key: "\(GatewayHarness.key)" }, { name: strict, key: "sk-strict" }]
                providers: [{ name: claude, kind: anthropic, base_url: "http://127.0.0.1:\(fake.port)", api_key: "sk-up" }]
                models: [{ name: claude, deployments: [{ provider: claude, model: claude-x }] }]
                guardrails:
                  pii: [{ name: strict, action: block, keys: [strict] }, { name: mask, action: pseudonymise }]
                """
            try await withGateway(yaml) { h in
                let body = #"{"model":"claude","system":"for jane@example.com","messages":[{"role":"user","content":"card 4111 1111 1111 1111"}]}"#
                let counted = try await h.post("/v1/messages/count_tokens", body)
                #expect(counted.status == .ok && counted.text == #"{"input_tokens":42}"#)
                let sent = try #require(fake.requests.first?.text)
                #expect(sent.contains("[EMAIL_1]") && sent.contains("[CARD_1]") && !sent.contains("jane@") && !sent.contains("4111"))
                let blocked = try await h.post("/v1/messages/count_tokens", body, key: "sk-strict")
                #expect(blocked.status == .badRequest && fake.requests.count == 1)
            }
        }
    }

    @Test func aRequestWithNothingToMaskIsForwardedUntouched() async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await h.post("/v1/chat/completions", Self.chat("nothing personal here"))
            #expect(r.status == .ok && r.header("x-switchboard-guardrails") == nil)
        }
    }
}

/// Placeholders split anywhere in a stream — inside an event, across events, across the bytes of a chunk — are
/// restored, in both APIs' event formats, tool-call arguments included.
@Suite struct PrivacyRestoreStreamTests {
    static let originals = ["[EMAIL_1]": "jane@example.com", "[PHONE_1]": "+1 \"555\" 0100"]

    static func run(_ format: AnswerFormat, _ stream: String, cuts: [Int]) async -> String {
        var filter = PrivacyRestoreStage.Restore(restorer: PlaceholderRestorer(originals: originals), stream: AnswerStream(format: format))
        var exchange = Exchange(endpoint: "chat.completions", model: "m", stream: true, identity: Identity(name: "t"), requestID: "r")
        let bytes = Array(stream.utf8)
        var out = ""
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            var chunk = ByteBuffer(bytes: bytes[start..<cut])
            start = cut
            _ = await filter.chunk(&chunk, &exchange)
            out += String(buffer: chunk)
        }
        if let rest = await filter.finish(&exchange).bytes { out += String(buffer: rest) }
        return out
    }

    static func openAI(_ content: [String], args: [String]) -> String {
        let head = #""id":"c1","object":"chat.completion.chunk","created":1,"model":"m""#
        var s = content.map { #"data: {\#(head),"choices":[{"index":0,"delta":{"content":\#(JSONString.quote($0))},"finish_reason":null}]}"# + "\n\n" }.joined()
        s += args.map { #"data: {\#(head),"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":\#(JSONString.quote($0))}}]},"finish_reason":null}]}"# + "\n\n" }.joined()
        return s + #"data: {\#(head),"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\ndata: [DONE]\n\n"
    }

    static func texts(_ out: String) -> (content: String, args: String) {
        var content = ""
        var args = ""
        for line in out.split(separator: "\n") where line.hasPrefix("data: {") {
            let object = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
            for choice in object["choices"] as? [[String: Any]] ?? [] {
                let delta = choice["delta"] as? [String: Any] ?? [:]
                content += delta["content"] as? String ?? ""
                args += ((delta["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any])?["arguments"] as? String ?? ""
            }
            if let delta = object["delta"] as? [String: Any] { content += delta["text"] as? String ?? ""; args += delta["partial_json"] as? String ?? "" }
        }
        return (content, args)
    }

    @Test func openAIStreamsAreRestoredWhereverTheyAreCut() async throws {
        let stream = Self.openAI(["Write to [EM", "AIL_1] or [", "PHONE_1", "] now [EMAIL_1][EM"], args: [#"{"to":"[EMA"#, #"IL_1]","tel":"[PHONE_1]"}"#])
        for cut in stride(from: 0, through: stream.utf8.count, by: 7) {
            let (content, args) = Self.texts(await Self.run(.openAIChat, stream, cuts: [cut]))
            #expect(content == "Write to jane@example.com or +1 \"555\" 0100 now jane@example.com[EM", "cut at \(cut)")
            let decoded = try JSONSerialization.jsonObject(with: Data(args.utf8)) as? [String: String]
            #expect(decoded == ["to": "jane@example.com", "tel": "+1 \"555\" 0100"], "cut at \(cut)")
        }
        // Byte by byte.
        let (content, _) = Self.texts(await Self.run(.openAIChat, stream, cuts: Array(0...stream.utf8.count)))
        #expect(content.hasPrefix("Write to jane@example.com or +1"))
    }

    @Test func anthropicStreamsAreRestoredAndHeldTextEndsWithItsBlock() async {
        func delta(_ i: Int, _ text: String) -> String {
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":\(i),\"delta\":{\"type\":\"text_delta\",\"text\":\(JSONString.quote(text))}}\n\n"
        }
        let stream = delta(0, "Hi [EMAIL") + delta(0, "_1], bye [PHO") + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
            + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        for cut in 0...stream.utf8.count {
            let out = await Self.run(.anthropicMessages, stream, cuts: [cut])
            #expect(Self.texts(out).content == "Hi jane@example.com, bye [PHO", "cut at \(cut)")
            // The held "[PHO" is sent before the block ends.
            #expect(out.range(of: "[PHO")!.lowerBound < out.range(of: "content_block_stop")!.lowerBound)
        }
    }

    @Test func aStreamThatEndsWithoutItsEndMarkerStillGetsItsHeldText() async {
        let stream = #"data: {"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"tail [EMAIL_"},"finish_reason":null}]}"# + "\n\n"
        let out = await Self.run(.openAIChat, stream, cuts: [10])
        #expect(Self.texts(out).content == "tail [EMAIL_")
    }
}
