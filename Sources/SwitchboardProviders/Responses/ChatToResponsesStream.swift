import Foundation
import NIOCore
import SwitchboardCore

/// Turns a chat-completion stream (`data: {chunk}` … `data: [DONE]`) into the Responses API's typed events as chunks
/// arrive, each `event: <type>` with an increasing `sequence_number`:
///
/// - `response.created`, `response.in_progress` (the response, `in_progress`, no output) at the first upstream event;
/// - text: `response.output_item.added` (a `message`), `response.content_part.added`, one
///   `response.output_text.delta` per chunk, then `response.output_text.done`, `response.content_part.done`,
///   `response.output_item.done` (refusals alike with `response.refusal.delta`/`.done`);
/// - each tool call: `response.output_item.added` (a `function_call`), `response.function_call_arguments.delta` per
///   chunk, `response.function_call_arguments.done`, `response.output_item.done`;
/// - `response.completed` (or `response.incomplete` after `length`/`content_filter`) carrying the whole response,
///   the same object `ChatToResponses.response` builds for the same answer, with the usage chunk's usage.
///
/// An item is finished when the next one starts or the upstream finishes (as OpenAI orders them). An upstream error
/// event, or a stream that ends without a finish reason, ends it with `response.failed`. The last response object
/// (completed, incomplete or failed) is `finalResponse`, and is handed to `onFinal` once, for storing.
public struct ChatToResponsesStream: Sendable {
    private enum Part { case text, refusal }

    private struct OpenMessage {
        let index: Int
        let id: String
        var parts: [JSONValue] = []
        var part: Part?
        var text = ""
    }

    private struct OpenCall {
        let index: Int
        let id: String
        let chatIndex: Int
        let callID: String
        var name: String
        var arguments = ""
    }

    var events = SSEEventBuffer()
    private let id: String
    private let model: String
    private let request: JSONValue
    private let createdAt: Int
    private let onFinal: (@Sendable (JSONValue) -> Void)?
    /// The response object of the last event (`response.completed`, `.incomplete` or `.failed`); nil before it.
    public private(set) var finalResponse: JSONValue?
    private var sequence = 0
    private var started = false
    private var output: [JSONValue] = []
    private var message: OpenMessage?
    private var call: OpenCall?
    private var chatCalls = Set<Int>()
    private var finishReason: String?
    private var usage: Usage?

    /// `id` is the response's id, `model` the public model name the client asked for, `request` the client's
    /// Responses body (for the settings the response echoes), `createdAt` Unix seconds.
    public init(id: String, model: String, request: JSONValue, createdAt: Int, onFinal: (@Sendable (JSONValue) -> Void)? = nil) {
        self.id = id
        self.model = model
        self.request = request
        self.createdAt = createdAt
        self.onFinal = onFinal
    }

    /// The end of the upstream stream: the last partial event, then `response.completed` if the model finished (a
    /// provider may leave out `[DONE]`), `response.failed` if it did not.
    public mutating func finish() -> ByteBuffer? {
        var out = ByteBuffer()
        if let data = events.finish() { translate(data, into: &out) }
        if finalResponse == nil {
            if finishReason != nil {
                end(into: &out)
            } else {
                fail(code: "server_error", message: "The upstream provider stopped the stream before it finished.", into: &out)
            }
        }
        return out.readableBytes > 0 ? out : nil
    }

    /// Ends the stream with `response.failed` (for a failure the translator cannot see, such as the upstream
    /// connection breaking); nil when the stream already ended. `code` is a Responses error code.
    public mutating func fail(code: String = "server_error", message: String) -> ByteBuffer? {
        guard finalResponse == nil else { return nil }
        var out = ByteBuffer()
        fail(code: code, message: message, into: &out)
        return out
    }

    mutating func translate(_ data: Data, into out: inout ByteBuffer) {
        guard finalResponse == nil else { return }        // nothing follows the last event
        if data == Data("[DONE]".utf8) {
            end(into: &out)
            return
        }
        guard let chunk = JSONValue.parse(data) else { return }
        begin(into: &out)
        if let e = chunk["error"], e.object != nil {
            let kind = (e["code"]?.string ?? "") + " " + (e["type"]?.string ?? "")
            fail(code: kind.contains("rate_limit") ? "rate_limit_exceeded" : "server_error",
                 message: e["message"]?.string ?? "The provider failed.", into: &out)
            return
        }
        if let u = chunk["usage"], u.object != nil, let parsed = Array(u.jsonText.utf8).withUnsafeBytes({ Usage.openAIUsageObject($0) }) {
            usage = parsed
        }
        guard let choice = chunk["choices"]?.array?.first else { return }
        let delta = choice["delta"]
        if let text = delta?["content"]?.string, !text.isEmpty { append(text, to: .text, into: &out) }
        if let refusal = delta?["refusal"]?.string, !refusal.isEmpty { append(refusal, to: .refusal, into: &out) }
        for c in delta?["tool_calls"]?.array ?? [] { toolCall(c, into: &out) }
        if let f = choice["finish_reason"]?.string {
            finishReason = f
            closeItem(status: status(), into: &out)
        }
    }

    // MARK: Items

    private mutating func append(_ text: String, to kind: Part, into out: inout ByteBuffer) {
        closeCall(status: "completed", into: &out)
        if message == nil { openMessage(into: &out) }
        guard var m = message else { return }
        if m.part != kind {
            closePart(&m, into: &out)
            m.part = kind
            write("response.content_part.added", ["item_id": .string(m.id), "output_index": .int(m.index), "content_index": .int(m.parts.count),
                                                  "part": Self.part(kind, "")], into: &out)
        }
        m.text += text
        var event: [String: JSONValue] = ["item_id": .string(m.id), "output_index": .int(m.index), "content_index": .int(m.parts.count), "delta": .string(text)]
        if kind == .text { event["logprobs"] = [] }
        write(kind == .text ? "response.output_text.delta" : "response.refusal.delta", .object(event), into: &out)
        message = m
    }

    private mutating func openMessage(into out: inout ByteBuffer) {
        let m = OpenMessage(index: output.count, id: ChatToResponses.itemID("msg", id, output.count))
        write("response.output_item.added", ["output_index": .int(m.index),
                                             "item": ChatToResponses.messageItem(id: m.id, content: [], status: "in_progress")], into: &out)
        message = m
    }

    private mutating func closePart(_ m: inout OpenMessage, into out: inout ByteBuffer) {
        guard let kind = m.part else { return }
        let common: [String: JSONValue] = ["item_id": .string(m.id), "output_index": .int(m.index), "content_index": .int(m.parts.count)]
        let part = Self.part(kind, m.text)
        var done = common
        switch kind {
        case .text:
            done["text"] = .string(m.text)
            done["logprobs"] = []
            write("response.output_text.done", .object(done), into: &out)
        case .refusal:
            done["refusal"] = .string(m.text)
            write("response.refusal.done", .object(done), into: &out)
        }
        var partDone = common
        partDone["part"] = part
        write("response.content_part.done", .object(partDone), into: &out)
        m.parts.append(part)
        m.part = nil
        m.text = ""
    }

    private static func part(_ kind: Part, _ text: String) -> JSONValue {
        kind == .text ? ChatToResponses.outputText(text) : ChatToResponses.refusalPart(text)
    }

    private mutating func closeMessage(status: String, into out: inout ByteBuffer) {
        guard var m = message else { return }
        closePart(&m, into: &out)
        let item = ChatToResponses.messageItem(id: m.id, content: m.parts, status: status)
        write("response.output_item.done", ["output_index": .int(m.index), "item": item], into: &out)
        output.append(item)
        message = nil
    }

    private mutating func toolCall(_ c: JSONValue, into out: inout ByteBuffer) {
        let function = c["function"]
        // Calls are told apart by `index`; without one, a new `id` starts a new call and anything else continues it.
        let chatIndex: Int
        if let i = c["index"]?.int {
            chatIndex = i
        } else if let open = call, c["id"]?.string == nil || c["id"]?.string == open.callID {
            chatIndex = open.chatIndex
        } else {
            chatIndex = (chatCalls.max() ?? -1) + 1
        }
        if call?.chatIndex != chatIndex {
            // A call that already finished does not start again: arguments an upstream interleaves late are dropped.
            guard !chatCalls.contains(chatIndex) else { return }
            closeItem(status: "completed", into: &out)
            chatCalls.insert(chatIndex)
            let index = output.count
            let opened = OpenCall(index: index, id: ChatToResponses.itemID("fc", id, index), chatIndex: chatIndex,
                                  callID: c["id"]?.string ?? ChatToResponses.fallbackCallID(id, index), name: function?["name"]?.string ?? "")
            write("response.output_item.added", ["output_index": .int(index), "item": ChatToResponses.functionCallItem(
                id: opened.id, callID: opened.callID, name: opened.name, arguments: "", status: "in_progress")], into: &out)
            call = opened
        }
        guard var open = call else { return }
        if open.name.isEmpty, let name = function?["name"]?.string { open.name = name }
        if let args = function?["arguments"]?.string, !args.isEmpty {
            open.arguments += args
            write("response.function_call_arguments.delta", ["item_id": .string(open.id), "output_index": .int(open.index), "delta": .string(args)], into: &out)
        }
        call = open
    }

    private mutating func closeCall(status: String, into out: inout ByteBuffer) {
        guard let c = call else { return }
        let arguments = c.arguments.isEmpty ? "{}" : c.arguments
        write("response.function_call_arguments.done", ["item_id": .string(c.id), "output_index": .int(c.index), "name": .string(c.name),
                                                        "arguments": .string(arguments)], into: &out)
        let item = ChatToResponses.functionCallItem(id: c.id, callID: c.callID, name: c.name, arguments: arguments, status: status)
        write("response.output_item.done", ["output_index": .int(c.index), "item": item], into: &out)
        output.append(item)
        call = nil
    }

    private mutating func closeItem(status: String, into out: inout ByteBuffer) {
        closeMessage(status: status, into: &out)
        closeCall(status: status, into: &out)
    }

    // MARK: Lifecycle

    /// The status of the item the finish closes: `incomplete` when the answer was cut.
    private func status() -> String { ChatToResponses.incompleteReason(finishReason) == nil ? "completed" : "incomplete" }

    private mutating func begin(into out: inout ByteBuffer) {
        guard !started else { return }
        started = true
        let r = ChatToResponses.object(id: id, model: model, createdAt: createdAt, request: request, status: .inProgress, output: [], usage: nil)
        write("response.created", ["response": r], into: &out)
        write("response.in_progress", ["response": r], into: &out)
    }

    private mutating func end(into out: inout ByteBuffer) {
        begin(into: &out)
        closeItem(status: status(), into: &out)
        if output.isEmpty {
            // No text and no call: an empty message, as the whole answer has.
            openMessage(into: &out)
            if var m = message {
                m.part = .text
                write("response.content_part.added", ["item_id": .string(m.id), "output_index": .int(m.index), "content_index": 0,
                                                      "part": ChatToResponses.outputText("")], into: &out)
                message = m
            }
            closeMessage(status: status(), into: &out)
        }
        let r = ChatToResponses.object(id: id, model: model, createdAt: createdAt, request: request, status: .finished(finishReason: finishReason),
                                       output: output, usage: usage ?? Usage())
        write(ChatToResponses.incompleteReason(finishReason) == nil ? "response.completed" : "response.incomplete", ["response": r], into: &out)
        conclude(r)
    }

    private mutating func fail(code: String, message text: String, into out: inout ByteBuffer) {
        begin(into: &out)
        // The items so far, the unfinished one as it stands.
        var items = output
        if let m = message {
            let content = m.parts + (m.part.map { [Self.part($0, m.text)] } ?? [])
            items.append(ChatToResponses.messageItem(id: m.id, content: content, status: "incomplete"))
        }
        if let c = call {
            items.append(ChatToResponses.functionCallItem(id: c.id, callID: c.callID, name: c.name, arguments: c.arguments, status: "incomplete"))
        }
        let r = ChatToResponses.object(id: id, model: model, createdAt: createdAt, request: request, status: .failed(code: code, message: text),
                                       output: items, usage: usage)
        write("response.failed", ["response": r], into: &out)
        conclude(r)
    }

    private mutating func conclude(_ response: JSONValue) {
        message = nil
        call = nil
        finalResponse = response
        onFinal?(response)
    }

    private mutating func write(_ type: String, _ payload: JSONValue, into out: inout ByteBuffer) {
        var event = payload.object ?? [:]
        event["type"] = .string(type)
        event["sequence_number"] = .int(sequence)
        sequence += 1
        out.writeString("event: \(type)\ndata: \(JSONValue.object(event).jsonText)\n\n")
    }
}

extension ChatToResponsesStream: EventTranslator {}
