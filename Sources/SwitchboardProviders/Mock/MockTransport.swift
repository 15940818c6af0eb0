import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore
import Synchronization

/// A simulated OpenAI-compatible upstream, in process: chat completions (plain, streamed, tool calls),
/// embeddings (float and base64) and the model list, with configurable latency, time to first token,
/// tokens per second and error rate. The same seed gives the same answers and the same error draws.
///
/// The `kind: mock` provider sends its requests here instead of over a socket; `switchboard mock-provider`
/// serves it over HTTP.
public final class MockTransport: UpstreamTransport {
    public let config: MockProviderConfig
    let clock: any Clock<Duration>
    private let errorDraws: Mutex<SplitMix64>
    private let counter = Atomic<Int>(0)

    public init(config: MockProviderConfig, clock: any Clock<Duration> = ContinuousClock()) {
        self.config = config
        self.clock = clock
        errorDraws = Mutex(SplitMix64(seed: config.seed))
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        let path = request.path
        let n = counter.add(1, ordering: .relaxed).newValue
        do {
            try await pause(ms: config.latencyMs)
        } catch {
            throw UpstreamError(.connectionClosed)
        }
        let anthropic = path.hasSuffix("/messages")
        let gemini = path.contains("/models/") && (path.hasSuffix(":generateContent") || path.hasSuffix(":streamGenerateContent") || path.hasSuffix(":batchEmbedContents"))
        if config.errorRate > 0, errorDraws.withLock({ $0.nextUnit() }) < config.errorRate {
            let message = "The simulated provider failed this request (error_rate \(config.errorRate))."
            if gemini { return Self.geminiError(500, message, "INTERNAL") }
            return anthropic ? Self.json(500, Self.anthropicError(message, type: "api_error"))
                : Self.json(500, Self.error(message, type: "server_error", code: "simulated_error"))
        }
        let body = request.body.map { Data(buffer: $0) } ?? Data()
        switch (request.method, path) {
        case ("POST", _) where anthropic:
            return anthropicMessages(body, id: n)
        case ("POST", _) where gemini:
            return self.gemini(path, body, id: n)
        case ("POST", let p) where p.hasSuffix("/chat/completions"):
            return chat(body, id: n)
        case ("POST", let p) where p.hasSuffix("/embeddings"):
            return embeddings(body)
        case ("GET", let p) where p.hasSuffix("/models"):
            return Self.json(200, #"{"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"switchboard-mock"}]}"#)
        case (_, let p) where p.hasSuffix("/chat/completions") || p.hasSuffix("/embeddings") || p.hasSuffix("/models"):
            return Self.json(405, Self.error("Method \(request.method) is not allowed on \(p).", type: "invalid_request_error", code: "method_not_allowed"))
        default:
            return Self.json(404, Self.error("Unknown request URL: \(path).", type: "invalid_request_error", code: "unknown_url"))
        }
    }

    func pause(ms: Int) async throws {
        if ms > 0 { try await clock.sleep(for: .milliseconds(ms)) }
    }

    static func json(_ status: Int, _ body: String) -> UpstreamResponse {
        UpstreamResponse(status: status, headers: [("content-type", "application/json")], body: UpstreamBody(ByteBuffer(string: body)))
    }

    static func error(_ message: String, type: String, code: String, param: String? = nil) -> String {
        ErrorBody.openAI(message: message, type: type, param: param, code: code)
    }

    static func anthropicError(_ message: String, type: String) -> String {
        #"{"type":"error","error":{"type":\#(JSONString.quote(type)),"message":\#(JSONString.quote(message))}}"#
    }

    // MARK: Chat

    func chat(_ body: Data, id n: Int) -> UpstreamResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return Self.json(400, Self.error("The body is not a JSON object.", type: "invalid_request_error", code: "invalid_json"))
        }
        guard let messages = object["messages"] as? [[String: Any]], !messages.isEmpty else {
            return Self.json(400, Self.error("'messages' must be a non-empty array of objects.", type: "invalid_request_error",
                                             code: "invalid_parameter", param: "messages"))
        }
        let model = object["model"] as? String ?? "mock-model"
        let stream = object["stream"] as? Bool ?? false
        let includeUsage = ((object["stream_options"] as? [String: Any])?["include_usage"] as? Bool) ?? false
        let limit = (object["max_completion_tokens"] as? Int) ?? (object["max_tokens"] as? Int)
        let promptTokens = MockText.promptTokens(messages)
        let seed = config.seed ^ stableHash(body)
        let plan: MockReply
        if let call = MockToolCall.choose(object, messages: messages, seed: seed) {
            plan = .tool(call)
        } else {
            plan = MockText.reply(config, limit: limit, seed: seed, echoing: messages)
        }
        let completionTokens = plan.tokenCount
        let usage = #"{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(completionTokens),"total_tokens":\#(promptTokens + completionTokens),"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}"#
        let id = "chatcmpl-mock-\(config.seed)-\(n)"
        let created = Int(Date().timeIntervalSince1970)
        let head = #""id":"\#(id)","created":\#(created),"model":\#(JSONString.quote(model)),"system_fingerprint":null"#
        if !stream {
            let message: String
            switch plan {
            case .text(let words, _):
                message = #"{"role":"assistant","content":\#(JSONString.quote(words.joined())),"refusal":null}"#
            case .tool(let call):
                message = #"{"role":"assistant","content":null,"tool_calls":[{"id":\#(JSONString.quote(call.id)),"type":"function","function":{"name":\#(JSONString.quote(call.name)),"arguments":\#(JSONString.quote(call.arguments))}}],"refusal":null}"#
            }
            let text = #"{"object":"chat.completion",\#(head),"choices":[{"index":0,"message":\#(message),"logprobs":null,"finish_reason":"\#(plan.finishReason)"}],"usage":\#(usage)}"#
            let delay = config.ttftMs + (config.tokensPerSecond > 0 ? Int(Double(completionTokens) / config.tokensPerSecond * 1000) : 0)
            let clock = self.clock
            return UpstreamResponse(status: 200, headers: [("content-type", "application/json")], body: UpstreamBody(iterator: {
                DelayedOnce(clock: clock, delayMs: delay, buffer: ByteBuffer(string: text))
            }))
        }
        let events = MockStreamEvents(head: head, plan: plan, usage: includeUsage ? usage : nil)
        let config = self.config
        let clock = self.clock
        return UpstreamResponse(status: 200, headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")],
                                body: UpstreamBody(iterator: { MockStreamIterator(events: events, config: config, clock: clock) }))
    }

    // MARK: Embeddings

    func embeddings(_ body: Data) -> UpstreamResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return Self.json(400, Self.error("The body is not a JSON object.", type: "invalid_request_error", code: "invalid_json"))
        }
        let model = object["model"] as? String ?? "mock-model"
        var inputs: [String] = []
        switch object["input"] {
        case let s as String: inputs = [s]
        case let list as [String]: inputs = list
        case let tokens as [Int]: inputs = [tokens.map(String.init).joined(separator: " ")]
        case let lists as [[Int]]: inputs = lists.map { $0.map(String.init).joined(separator: " ") }
        default:
            return Self.json(400, Self.error("'input' must be a string, an array of strings or of token arrays.",
                                             type: "invalid_request_error", code: "invalid_parameter", param: "input"))
        }
        guard !inputs.isEmpty else {
            return Self.json(400, Self.error("'input' must not be empty.", type: "invalid_request_error", code: "invalid_parameter", param: "input"))
        }
        let dims = (object["dimensions"] as? Int) ?? config.embeddingDimensions
        guard (1...16_384).contains(dims) else {
            return Self.json(400, Self.error("'dimensions' must be between 1 and 16384.", type: "invalid_request_error",
                                             code: "invalid_parameter", param: "dimensions"))
        }
        let base64 = (object["encoding_format"] as? String) == "base64"
        var data: [String] = []
        var tokens = 0
        for (i, input) in inputs.enumerated() {
            tokens += max(1, input.utf8.count / 4)
            let vector = MockText.embedding(input, dimensions: dims, seed: config.seed)
            let encoded: String
            if base64 {
                var bytes = [UInt8]()
                bytes.reserveCapacity(dims * 4)
                for v in vector { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                encoded = "\"" + Data(bytes).base64EncodedString() + "\""
            } else {
                encoded = "[" + vector.map { String($0) }.joined(separator: ",") + "]"
            }
            data.append(#"{"object":"embedding","index":\#(i),"embedding":\#(encoded)}"#)
        }
        let text = #"{"object":"list","data":[\#(data.joined(separator: ","))],"model":\#(JSONString.quote(model)),"usage":{"prompt_tokens":\#(tokens),"total_tokens":\#(tokens)}}"#
        return Self.json(200, text)
    }
}

/// What the simulated model answers.
enum MockReply: Sendable {
    case text([String], finish: String)
    case tool(MockToolCall)

    var tokenCount: Int {
        switch self {
        case .text(let words, _): words.count
        case .tool(let call): max(1, call.arguments.utf8.count / 4)
        }
    }

    var finishReason: String {
        switch self {
        case .text(_, let finish): finish
        case .tool: "tool_calls"
        }
    }
}

/// A tool call the simulated model makes when the request offers tools.
struct MockToolCall: Sendable {
    var id: String
    var name: String
    var arguments: String

    /// The call to make: the tool `tool_choice` names, else the first tool — unless `tool_choice` is "none" or the
    /// conversation already ends with a tool result.
    static func choose(_ request: [String: Any], messages: [[String: Any]], seed: UInt64) -> MockToolCall? {
        guard let tools = request["tools"] as? [[String: Any]], !tools.isEmpty else { return nil }
        if let choice = request["tool_choice"] as? String, choice == "none" { return nil }
        if (messages.last?["role"] as? String) == "tool" { return nil }
        var function = tools.first?["function"] as? [String: Any]
        if let choice = request["tool_choice"] as? [String: Any], let named = (choice["function"] as? [String: Any])?["name"] as? String {
            function = tools.lazy.compactMap { $0["function"] as? [String: Any] }.first { ($0["name"] as? String) == named } ?? function
        }
        guard let function, let name = function["name"] as? String else { return nil }
        var args: [String: Any] = [:]
        if let properties = (function["parameters"] as? [String: Any])?["properties"] as? [String: Any] {
            for (key, schema) in properties {
                switch (schema as? [String: Any])?["type"] as? String {
                case "integer": args[key] = 1
                case "number": args[key] = 1.5
                case "boolean": args[key] = true
                case "array": args[key] = [Any]()
                case "object": args[key] = [String: Any]()
                default:
                    if let options = (schema as? [String: Any])?["enum"] as? [Any], let first = options.first { args[key] = first } else {
                        args[key] = "sample"
                    }
                }
            }
        }
        let json = (try? JSONSerialization.data(withJSONObject: args, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return MockToolCall(id: "call_mock_\(String(seed, radix: 36))", name: name, arguments: json)
    }
}

/// Deterministic text, token estimates and embeddings.
enum MockText {
    static let vocabulary = ["the", "gateway", "routes", "each", "request", "to", "a", "healthy", "provider", "and",
                             "streams", "tokens", "back", "quickly", "while", "it", "records", "cost", "latency", "usage"]

    /// The text answer: generated words, or (`reply: echo`) the last user message's text.
    static func reply(_ config: MockProviderConfig, limit: Int?, seed: UInt64, echoing messages: [[String: Any]]) -> MockReply {
        let echo = config.echo ? echoWords(lastUserText(messages)) : []
        let natural = echo.isEmpty ? config.completionTokens : echo.count
        let count = max(1, min(natural, limit ?? natural))
        return .text(echo.isEmpty ? words(count: count, seed: seed) : Array(echo.prefix(count)), finish: count < natural ? "length" : "stop")
    }

    /// The text of the last user message (a string, or its text parts or blocks joined).
    static func lastUserText(_ messages: [[String: Any]]) -> String {
        guard let last = messages.last(where: { ($0["role"] as? String) == "user" }) else { return "" }
        if let text = last["content"] as? String { return text }
        return (last["content"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined()
    }

    /// `text` cut into words that keep the spaces after them: joined, they are `text` again.
    static func echoWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for c in text {
            if !c.isWhitespace, let last = current.last, last.isWhitespace {
                words.append(current)
                current = ""
            }
            current.append(c)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    static func words(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let w = vocabulary[Int(rng.next() % UInt64(vocabulary.count))]
            return i == 0 ? w.prefix(1).uppercased() + w.dropFirst() : " " + w
        }
    }

    /// About one token per four characters of content, plus a few per message (as OpenAI counts framing).
    static func promptTokens(_ messages: [[String: Any]]) -> Int {
        var total = 3
        for m in messages {
            total += 4
            switch m["content"] {
            case let s as String: total += (s.utf8.count + 3) / 4
            case let parts as [[String: Any]]:
                for p in parts { if let t = p["text"] as? String { total += (t.utf8.count + 3) / 4 } else { total += 85 } }
            default: break
            }
        }
        return total
    }

    static func embedding(_ input: String, dimensions: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed ^ stableHash(input.utf8))
        var v = (0..<dimensions).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { v = v.map { $0 / norm } }
        return v
    }
}

/// The SSE events of a simulated stream, built one step at a time.
struct MockStreamEvents: Sendable {
    let head: String
    let plan: MockReply
    let usage: String?

    /// Number of content steps (tokens or argument pieces).
    var steps: Int {
        switch plan {
        case .text(let words, _): words.count
        case .tool(let call): max(1, (call.arguments.utf8.count + 7) / 8)
        }
    }

    private func chunk(_ delta: String, finish: String? = nil) -> String {
        let usageField = usage == nil ? "" : #","usage":null"#
        return #"data: {"object":"chat.completion.chunk",\#(head),"choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(finish.map { "\"\($0)\"" } ?? "null")}]\#(usageField)}"# + "\n\n"
    }

    /// The event(s) for content step `i` (the first also carries the role).
    func step(_ i: Int) -> String {
        switch plan {
        case .text(let words, _):
            let role = i == 0 ? #""role":"assistant","# : ""
            return chunk(#"{\#(role)"content":\#(JSONString.quote(words[i]))}"#)
        case .tool(let call):
            let args = Array(call.arguments.utf8)
            let lo = min(i * 8, args.count), hi = min(lo + 8, args.count)
            let piece = JSONString.quote(String(decoding: args[lo..<hi], as: UTF8.self))
            if i == 0 {
                return chunk(#"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":\#(JSONString.quote(call.id)),"type":"function","function":{"name":\#(JSONString.quote(call.name)),"arguments":\#(piece)}}]}"#)
            }
            return chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":\#(piece)}}]}"#)
        }
    }

    /// The finish chunk, the usage chunk when asked for, and `[DONE]`.
    var tail: String {
        var out = chunk("{}", finish: plan.finishReason)
        if let usage { out += #"data: {"object":"chat.completion.chunk",\#(head),"choices":[],"usage":\#(usage)}"# + "\n\n" }
        return out + "data: [DONE]\n\n"
    }
}

/// The steps of a simulated stream in some wire format.
protocol MockEventSource: Sendable {
    var steps: Int { get }
    /// The event(s) for content step `i`.
    func step(_ i: Int) -> String
    /// What follows the last step.
    var tail: String { get }
}

extension MockStreamEvents: MockEventSource {}

/// Emits a simulated stream with its timing: the first token after `ttft_ms`, then one per `1/tokens_per_s`.
struct MockStreamIterator: AsyncIteratorProtocol {
    let events: any MockEventSource
    let config: MockProviderConfig
    let clock: any Clock<Duration>
    var index = 0

    mutating func next() async throws -> ByteBuffer? {
        let steps = events.steps
        guard index < steps else { return nil }
        if index == 0 {
            if config.ttftMs > 0 { try await clock.sleep(for: .milliseconds(config.ttftMs)) }
        } else if config.tokensPerSecond > 0 {
            try await clock.sleep(for: .microseconds(Int(1_000_000 / config.tokensPerSecond)))
        }
        var text = events.step(index)
        if index == steps - 1 { text += events.tail }
        index += 1
        return ByteBuffer(string: text)
    }
}

/// One buffer after a delay (a non-streamed simulated answer that takes time to generate).
struct DelayedOnce: AsyncIteratorProtocol {
    let clock: any Clock<Duration>
    let delayMs: Int
    var buffer: ByteBuffer?

    mutating func next() async throws -> ByteBuffer? {
        guard let b = buffer else { return nil }
        buffer = nil
        if delayMs > 0 { try await clock.sleep(for: .milliseconds(delayMs)) }
        return b
    }
}
