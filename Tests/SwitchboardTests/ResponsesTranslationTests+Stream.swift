import Foundation
import NIOCore
import SwitchboardCore
import Testing
@testable import SwitchboardProviders

enum ChatStreamFixture {
    static func sse(_ chunks: [String], done: Bool = true) -> String {
        chunks.map { "data: \($0)\n\n" }.joined() + (done ? "data: [DONE]\n\n" : "")
    }

    static func chunk(_ delta: String, finish: String? = nil) -> String {
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(finish.map { "\"\($0)\"" } ?? "null")}]}"#
    }

    static let usage = #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cached_tokens":60},"completion_tokens_details":{"reasoning_tokens":12}}}"#

    /// Text in two deltas, the finish chunk, the usage chunk.
    static let text = sse([chunk(#"{"role":"assistant","content":""}"#), chunk(#"{"content":"Hel"}"#), chunk(#"{"content":"lo!"}"#),
                           chunk("{}", finish: "stop"), usage])
    static let cutAtLength = sse([chunk(#"{"role":"assistant","content":"Once upon"}"#), chunk(#"{"content":" a time"}"#, finish: "length"), usage])
    static let refusal = sse([chunk(#"{"role":"assistant","refusal":"I can't"}"#), chunk(#"{"refusal":" help."}"#), chunk("{}", finish: "stop"), usage])
    static let empty = sse([chunk(#"{"role":"assistant","content":""}"#), chunk("{}", finish: "stop"), usage])
    /// The upstream stops after the first text delta: no finish, no `[DONE]`.
    static let cut = sse([chunk(#"{"role":"assistant","content":""}"#), chunk(#"{"content":"Hel"}"#)], done: false)
    static let upstreamError = sse([chunk(#"{"content":"Hel"}"#),
                                    #"{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#,
                                    chunk(#"{"content":"ignored"}"#)], done: false)
}

/// Chat-completion streams → Responses events (`ChatToResponsesStream`).
@Suite struct ResponsesTranslationStreamTests {
    static func translator(onFinal: (@Sendable (JSONValue) -> Void)? = nil) -> ChatToResponsesStream {
        ChatToResponsesStream(id: "resp_abc", model: "chat", request: ResponsesFixture.request, createdAt: 1_700_000_000, onFinal: onFinal)
    }

    func run(_ text: String, cuts: [Int] = []) -> String { translate(Self.translator(), text, cuts: cuts) }

    /// The events of a Responses stream; checks each is `event: T` + `data:` with `type` T and the next sequence number.
    static func events(_ sse: String) -> [(name: String, data: JSONValue)] {
        var events: [(name: String, data: JSONValue)] = []
        for block in sse.components(separatedBy: "\n\n") where !block.isEmpty {
            let lines = block.components(separatedBy: "\n")
            let name = String(lines[0].dropFirst("event: ".count))
            let data = JSONValue.parse(Data(String(lines[lines.count - 1].dropFirst("data: ".count)).utf8)) ?? .null
            #expect(lines.count == 2 && data["type"]?.string == name && data["sequence_number"] == JSONValue.int(events.count), "\(block)")
            events.append((name, data))
        }
        return events
    }

    func whole(_ completion: JSONValue, usage: Usage = ResponsesFixture.usage) -> JSONValue {
        ChatToResponses.response(completion, usage: usage, request: ResponsesFixture.request, id: "resp_abc", model: "chat", createdAt: 1_700_000_000)
    }

    @Test func textDeltasAtEveryByteBoundary() {
        let out = run(ChatStreamFixture.text)
        for cut in 0...ChatStreamFixture.text.utf8.count {
            #expect(run(ChatStreamFixture.text, cuts: [cut]) == out, "split at \(cut)")
        }
        let e = Self.events(out)
        #expect(e.map(\.name) == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                                  "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
                                  "response.content_part.done", "response.output_item.done", "response.completed"])
        #expect(e[0].data["response"]?["status"] == "in_progress" && e[0].data["response"]?["output"] == [] && e[0].data["response"]?["usage"] == .null)
        #expect(e[2].data["item"] == ["type": "message", "id": "msg_abc_0", "status": "in_progress", "role": "assistant", "content": []])
        #expect(e[4].data == ["type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_abc_0", "output_index": 0,
                              "content_index": 0, "delta": "Hel", "logprobs": []])
        #expect(e[6].data["text"] == "Hello!" && e[7].data["part"]?["text"] == "Hello!")
        // The last event carries the same response the whole answer translates to.
        #expect(e[9].data["response"] == whole(ResponsesFixture.completion(content: "Hello!", finish: "stop")))
    }

    @Test func eachDeltaIsForwardedAsItArrives() {
        var t = Self.translator()
        let chunks = ChatStreamFixture.text.components(separatedBy: "\n\n").map { $0 + "\n\n" }
        _ = t.feed(ByteBuffer(string: chunks[0]))
        let second = t.feed(ByteBuffer(string: chunks[1])).map { String(buffer: $0) } ?? ""
        #expect(second.contains(#""delta":"Hel""#))
    }

    @Test func twoParallelToolCallsWithArgumentDeltas() throws {
        let out = run(OpenAIFixture.textToolStream)
        for cut in 0...OpenAIFixture.textToolStream.utf8.count {
            #expect(run(OpenAIFixture.textToolStream, cuts: [cut]) == out, "split at \(cut)")
        }
        let n = OpenAIFixture.textToolStream.utf8.count
        for a in stride(from: 0, to: n, by: 37) {
            #expect(run(OpenAIFixture.textToolStream, cuts: [a, min(a + 11, n), min(a + 200, n)]) == out)
        }
        let e = Self.events(out)
        #expect(e.map(\.name) == [
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
            "response.output_item.done", "response.completed",
        ])
        #expect(e[8].data["item"] == ["type": "function_call", "id": "fc_abc_1", "call_id": "call_a", "name": "get_weather", "arguments": "", "status": "in_progress"])
        #expect(e[9].data["delta"] == #"{"city":"# && e[10].data["delta"] == #""Paris"}"# && e[9].data["item_id"] == "fc_abc_1" && e[9].data["output_index"] == 1)
        #expect(e[11].data["arguments"] == #"{"city":"Paris"}"# && e[11].data["name"] == "get_weather")
        #expect(e[13].data["output_index"] == 2 && e[13].data["item"]?["call_id"] == "call_b")
        let completion = ResponsesFixture.completion(content: "Checking", calls: [("call_a", "get_weather", #"{"city":"Paris"}"#), ("call_b", "get_weather", #"{"city":"Rome"}"#)],
                                                     finish: "tool_calls")
        let final = try #require(e.last?.data["response"])
        #expect(final == whole(completion, usage: Usage(promptTokens: 50, completionTokens: 30, cachedTokens: 20)))
        #expect(final["usage"]?["input_tokens_details"]?["cached_tokens"] == 20)
    }

    @Test func lengthEndsIncomplete() {
        let e = Self.events(run(ChatStreamFixture.cutAtLength))
        #expect(e.last?.name == "response.incomplete")
        #expect(e.last?.data["response"] == whole(ResponsesFixture.completion(content: "Once upon a time", finish: "length")))
        #expect(e.last?.data["response"]?["incomplete_details"] == ["reason": "max_output_tokens"])
    }

    @Test func refusalAndEmptyAnswers() {
        let refused = Self.events(run(ChatStreamFixture.refusal))
        #expect(refused.map(\.name).contains("response.refusal.delta") && refused.map(\.name).contains("response.refusal.done"))
        #expect(refused.last?.data["response"] == whole(ResponsesFixture.completion(content: nil, finish: "stop", refusal: "I can't help.")))
        let empty = Self.events(run(ChatStreamFixture.empty))
        #expect(empty.map(\.name).contains("response.output_item.done"))
        #expect(empty.last?.data["response"] == whole(ResponsesFixture.completion(content: "", finish: "stop")))
    }

    @Test func upstreamCutMidStreamFails() throws {
        let e = Self.events(run(ChatStreamFixture.cut))
        #expect(e.map(\.name).suffix(2) == ["response.output_text.delta", "response.failed"])
        let r = try #require(e.last?.data["response"])
        #expect(r["status"] == "failed" && r["error"]?["code"] == "server_error" && r["usage"] == .null)
        #expect(r["output"]?.array?.first?["status"] == "incomplete" && r["output"]?.array?.first?["content"]?.array?.first?["text"] == "Hel")
        // Cut anywhere: exactly one last event, failed unless the finish got through.
        let full = OpenAIFixture.textToolStream
        let finishAt = try #require(full.range(of: #""finish_reason":"tool_calls""#)).upperBound.utf16Offset(in: full)
        for n in 0..<full.utf8.count {
            let names = Self.events(run(String(decoding: Array(full.utf8)[..<n], as: UTF8.self))).map(\.name)
            #expect(names.filter { $0 == "response.completed" || $0 == "response.failed" }.count == 1, "cut at \(n)")
            #expect(names.last == (n >= finishAt + 3 ? "response.completed" : "response.failed"), "cut at \(n)")
        }
    }

    @Test func upstreamErrorEventFailsAndEndsTheStream() throws {
        let e = Self.events(run(ChatStreamFixture.upstreamError))
        #expect(e.map(\.name) == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                                  "response.output_text.delta", "response.failed"])
        #expect(e.last?.data["response"]?["error"] == ["code": "rate_limit_exceeded", "message": "Rate limit reached"])
    }

    @Test func finalResponseIsKeptAndHandedOverOnce() throws {
        let seen = FinalResponses()
        var t = Self.translator { response in seen.add(response) }
        _ = t.feed(ByteBuffer(string: ChatStreamFixture.text))
        _ = t.finish()
        #expect(t.finalResponse?["status"] == "completed")
        #expect(seen.values == [try #require(t.finalResponse)])
        #expect(t.fail(message: "late") == nil)
        var broken = Self.translator()
        _ = broken.feed(ByteBuffer(string: ChatStreamFixture.cut))
        let failed = broken.fail(message: "The connection broke.").map { String(buffer: $0) } ?? ""
        #expect(failed.hasPrefix("event: response.failed\n"))
        #expect(JSONValue.parse(Data(failed.dropFirst("event: response.failed\ndata: ".count).utf8))?["response"]?["error"]?["message"] == "The connection broke.")
        #expect(broken.finish() == nil)
    }

    /// With `SWITCHBOARD_RESPONSES_EXAMPLES=DIR`, writes the translated streams and answers there, for checking them
    /// against the official SDK's models.
    @Test func writesExamplesWhenAsked() throws {
        guard let dir = ProcessInfo.processInfo.environment["SWITCHBOARD_RESPONSES_EXAMPLES"] else { return }
        let streams = ["text": ChatStreamFixture.text, "tools": OpenAIFixture.textToolStream, "length": ChatStreamFixture.cutAtLength,
                       "refusal": ChatStreamFixture.refusal, "empty": ChatStreamFixture.empty, "cut": ChatStreamFixture.cut,
                       "error": ChatStreamFixture.upstreamError]
        for (name, sse) in streams { try run(sse).write(toFile: "\(dir)/\(name).sse", atomically: true, encoding: .utf8) }
        let answers = [
            "answer-text": whole(ResponsesFixture.completion(content: "Sunny.", finish: "stop")),
            "answer-tools": whole(ResponsesFixture.completion(content: nil, calls: [("call_a", "get_weather", #"{"city":"Paris"}"#)], finish: "tool_calls")),
            "answer-length": whole(ResponsesFixture.completion(content: "Once", finish: "length")),
            "answer-refusal": whole(ResponsesFixture.completion(content: nil, finish: "stop", refusal: "No.")),
            "answer-bare": ChatToResponses.response(ResponsesFixture.completion(content: "x", finish: "stop"), usage: Usage(), request: ["input": "hi"],
                                                    id: "resp_1", model: "m", createdAt: 1),
        ]
        for (name, r) in answers { try r.jsonText.write(toFile: "\(dir)/\(name).json", atomically: true, encoding: .utf8) }
    }
}

/// Collects what a `@Sendable` callback is handed.
final class FinalResponses: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [JSONValue] = []
    var values: [JSONValue] { lock.withLock { seen } }
    func add(_ value: JSONValue) { lock.withLock { seen.append(value) } }
}
