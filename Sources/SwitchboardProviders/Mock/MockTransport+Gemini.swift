import Foundation
import NIOCore
import SwitchboardCore

/// The simulated provider speaking Gemini's API: `models/{m}:generateContent`, `:streamGenerateContent?alt=sse`
/// and `:batchEmbedContents`.
extension MockTransport {
    static func geminiError(_ status: Int, _ message: String, _ code: String) -> UpstreamResponse {
        json(status, #"{"error":{"code":\#(status),"message":\#(JSONString.quote(message)),"status":"\#(code)"}}"#)
    }

    func gemini(_ path: String, _ body: Data, id n: Int) -> UpstreamResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return Self.geminiError(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        }
        let model = path.components(separatedBy: "/models/").last?.components(separatedBy: ":").first ?? "mock-model"
        if path.hasSuffix(":batchEmbedContents") {
            guard let requests = object["requests"] as? [[String: Any]], !requests.isEmpty else {
                return Self.geminiError(400, "* BatchEmbedContentsRequest.requests: must not be empty", "INVALID_ARGUMENT")
            }
            let vectors = requests.map { r -> String in
                let text = ((r["content"] as? [String: Any])?["parts"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined() ?? ""
                let dims = r["outputDimensionality"] as? Int ?? config.embeddingDimensions
                return #"{"values":[\#(MockText.embedding(text, dimensions: dims, seed: config.seed).map { String($0) }.joined(separator: ","))]}"#
            }
            return Self.json(200, #"{"embeddings":[\#(vectors.joined(separator: ","))]}"#)
        }
        guard let contents = object["contents"] as? [[String: Any]], !contents.isEmpty else {
            return Self.geminiError(400, "* GenerateContentRequest.contents: contents is not specified", "INVALID_ARGUMENT")
        }
        let generation = object["generationConfig"] as? [String: Any] ?? [:]
        var counted: [[String: Any]] = contents.map { ["content": $0["parts"] ?? []] }
        if let system = object["systemInstruction"] as? [String: Any] { counted.append(["content": system["parts"] ?? []]) }
        let prompt = MockText.promptTokens(counted)
        let seed = config.seed ^ stableHash(body)
        let plan: MockReply
        if let call = MockToolCall.choose(Self.openAIShape(gemini: object), messages: Self.openAIShape(gemini: contents), seed: seed) {
            plan = .tool(call)
        } else {
            plan = MockText.reply(config, limit: generation["maxOutputTokens"] as? Int, seed: seed,
                                  echoing: Self.openAIShape(gemini: contents))
        }
        let events = GeminiMockEvents(responseID: "mock-\(config.seed)-\(n)", model: model, plan: plan, promptTokens: prompt)
        if path.hasSuffix(":streamGenerateContent") {
            let config = self.config
            let clock = self.clock
            return UpstreamResponse(status: 200, headers: [("content-type", "text/event-stream")],
                                    body: UpstreamBody(iterator: { MockStreamIterator(events: events, config: config, clock: clock) }))
        }
        let delay = config.ttftMs + (config.tokensPerSecond > 0 ? Int(Double(plan.tokenCount) / config.tokensPerSecond * 1000) : 0)
        let clock = self.clock
        let text = events.whole
        return UpstreamResponse(status: 200, headers: [("content-type", "application/json")], body: UpstreamBody(iterator: {
            DelayedOnce(clock: clock, delayMs: delay, buffer: ByteBuffer(string: text))
        }))
    }

    /// Gemini's function declarations, tool config and function responses as the OpenAI shapes `MockToolCall` reads.
    static func openAIShape(gemini request: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        let declarations = (request["tools"] as? [[String: Any]] ?? []).flatMap { $0["functionDeclarations"] as? [[String: Any]] ?? [] }
        if !declarations.isEmpty {
            out["tools"] = declarations.map { ["type": "function", "function": ["name": $0["name"] ?? "", "parameters": $0["parametersJsonSchema"] ?? $0["parameters"] ?? [:]]] }
        }
        let calling = (request["toolConfig"] as? [String: Any])?["functionCallingConfig"] as? [String: Any]
        if calling?["mode"] as? String == "NONE" { out["tool_choice"] = "none" }
        if let name = (calling?["allowedFunctionNames"] as? [String])?.first { out["tool_choice"] = ["type": "function", "function": ["name": name]] }
        return out
    }

    static func openAIShape(gemini contents: [[String: Any]]) -> [[String: Any]] {
        contents.map { c in
            let parts = c["parts"] as? [[String: Any]] ?? []
            if parts.contains(where: { $0["functionResponse"] != nil }) { return ["role": "tool"] }
            return ["role": (c["role"] as? String) == "model" ? "assistant" : "user",
                    "content": parts.compactMap { $0["text"] as? String }.joined()]
        }
    }
}

/// A simulated Gemini answer, whole or as its SSE events (text word by word; a function call in one event).
struct GeminiMockEvents: MockEventSource {
    let responseID: String
    let model: String
    let plan: MockReply
    let promptTokens: Int

    var steps: Int {
        switch plan {
        case .text(let words, _): words.count
        case .tool: 1
        }
    }

    private var usage: String {
        #"{"promptTokenCount":\#(promptTokens),"candidatesTokenCount":\#(plan.tokenCount),"totalTokenCount":\#(promptTokens + plan.tokenCount)}"#
    }

    private var finish: String {
        switch plan.finishReason {
        case "length": "MAX_TOKENS"
        default: "STOP"
        }
    }

    private func response(_ parts: String, last: Bool) -> String {
        let tail = last ? #","finishReason":"\#(finish)""# : ""
        let usageField = last ? #","usageMetadata":\#(usage)"# : ""
        return #"{"candidates":[{"content":{"parts":\#(parts),"role":"model"}\#(tail),"index":0}]\#(usageField),"modelVersion":\#(JSONString.quote(model)),"responseId":"\#(responseID)"}"#
    }

    private var allParts: String {
        switch plan {
        case .text(let words, _): #"[{"text":\#(JSONString.quote(words.joined()))}]"#
        case .tool(let call): #"[{"functionCall":{"name":\#(JSONString.quote(call.name)),"args":\#(call.arguments)}}]"#
        }
    }

    var whole: String { response(allParts, last: true) }

    func step(_ i: Int) -> String {
        let parts: String
        switch plan {
        case .text(let words, _): parts = #"[{"text":\#(JSONString.quote(words[i]))}]"#
        case .tool: parts = allParts
        }
        return "data: " + response(parts, last: i == steps - 1) + "\r\n\r\n"
    }

    var tail: String { "" }     // Gemini streams have no end marker
}
