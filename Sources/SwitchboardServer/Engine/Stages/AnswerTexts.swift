import Foundation
import NIOCore
import SwitchboardCore

/// The shape of the answers a client gets, for response stages that read or rewrite their texts.
enum AnswerFormat: Sendable {
    /// OpenAI chat completions: `choices[].message` / streamed `choices[].delta` — `content` and tool calls' `arguments`.
    case openAIChat
    /// Anthropic messages: `content[]` blocks — `text` and `tool_use.input` / streamed `text_delta` and `input_json_delta`.
    case anthropicMessages
}

/// Where a piece of answer text belongs: its channel (a choice, a content block, a tool call's arguments; pieces of one
/// channel come in order) and whether it is a fragment of JSON (streamed tool arguments: what is put into it must be
/// JSON-escaped).
struct TextPlace: Hashable, Sendable {
    var channel: Int
    var json: Bool

    /// OpenAI: choice `choice`'s content (`tool` nil) or its `tool`-th tool call's arguments.
    static func openAI(choice: Int, tool: Int?) -> TextPlace {
        TextPlace(channel: choice * 1024 + (tool.map { $0 + 1 } ?? 0), json: tool != nil)
    }

    var choice: Int { channel / 1024 }
    var tool: Int? { channel % 1024 == 0 ? nil : channel % 1024 - 1 }
}

/// Rewrites the texts of answers in place, leaving every other byte as the upstream sent it.
enum AnswerTexts {
    /// A whole answer with each of its texts replaced by `rewrite(text, place)`.
    static func rewrite(_ body: ByteBuffer, _ format: AnswerFormat, _ rewrite: (String, TextPlace) -> String) -> ByteBuffer {
        var edits: [(range: Range<Int>, replacement: String)] = []
        body.withUnsafeReadableBytes { bytes in
            try? JSONPeek.forEachScalar(bytes, enter: { enterWhole($0, format) }) { path, value in
                guard let place = wholePlace(path, format), let text = JSONPeek.string(bytes, value) else { return }
                let new = rewrite(text, place)
                if new != text { edits.append((value.range, JSONString.quote(new))) }
            }
        }
        return JSONPeek.splice(body, edits)
    }

    private static func enterWhole(_ path: [JSONPeek.PathStep], _ format: AnswerFormat) -> Bool {
        switch format {
        case .openAIChat:
            switch path.count {
            case 1: return path[0].key == "choices"
            case 2: return true
            case 3: return path[2].key == "message"
            case 4: return path[3].key == "content" || path[3].key == "tool_calls"
            case 5: return true
            case 6: return path[5].key == "function"
            default: return path.count == 7 && path[6].key == "arguments"
            }
        case .anthropicMessages:
            switch path.count {
            case 1: return path[0].key == "content"
            case 2: return true
            case 3: return path[2].key == "text" || path[2].key == "input"
            default: return path[2].key == "input"
            }
        }
    }

    private static func wholePlace(_ path: [JSONPeek.PathStep], _ format: AnswerFormat) -> TextPlace? {
        guard path.count >= 3, case .index(let i) = path[1] else { return nil }
        switch format {
        case .openAIChat:
            if path.count == 4 { return .openAI(choice: i, tool: nil) }
            if path.count == 7, case .index(let j) = path[4] { return .openAI(choice: i, tool: j) }
            return nil
        case .anthropicMessages:
            return TextPlace(channel: i, json: false)
        }
    }
}

/// Rewrites the texts of a streamed answer event by event. Bytes are held only while an event is incomplete. A stage
/// that holds text back on a channel gets asked for it when the channel ends (`closing`): what it returns is added to
/// the channel's last piece, or sent as an event of its own just before the one that ends the channel.
struct AnswerStream: Sendable {
    let format: AnswerFormat
    private var pending = ByteBuffer()
    /// OpenAI: the last chunk's `id`, `created` and `model`, as raw JSON, for an event of our own.
    var head = ""
    /// Whether the event that ends the answer (`[DONE]`, `message_stop`) is held back until `releaseEnd()`.
    let holdsEnd: Bool
    /// Set while an event is rewritten when it is the one that ends the answer.
    var isEnd = false
    private var heldEnd: ByteBuffer?

    init(format: AnswerFormat, holdsEnd: Bool = false) {
        self.format = format
        self.holdsEnd = holdsEnd
    }

    /// The held end event, if any (it is given out once).
    mutating func releaseEnd() -> ByteBuffer? {
        defer { heldEnd = nil }
        return heldEnd
    }

    /// The complete events among the bytes so far, rewritten.
    mutating func feed(_ chunk: ByteBuffer, rewrite: (String, TextPlace) -> String, closing: (Int) -> [(TextPlace, String)]) -> ByteBuffer {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        let ends = pending.withUnsafeReadableBytes { SSEFraming.eventEnds(in: $0) }
        guard let last = ends.last else {
            if pending.readableBytes > SSERelay.maxEventBytes { return flushPending() }     // not SSE: let the relay judge it
            return ByteBuffer()
        }
        let complete = pending.getSlice(at: pending.readerIndex, length: last)!
        pending.moveReaderIndex(forwardBy: last)
        pending.discardReadBytes()
        return rewriteEvents(complete, ends: ends, rewrite: rewrite, closing: closing)
    }

    /// What is left at the end of the stream (an event without its blank line), rewritten.
    mutating func finish(rewrite: (String, TextPlace) -> String, closing: (Int) -> [(TextPlace, String)]) -> ByteBuffer {
        rewriteEvents(flushPending(), rewrite: rewrite, closing: closing)
    }

    private mutating func flushPending() -> ByteBuffer {
        defer { pending = ByteBuffer() }
        return pending
    }

    /// `ends`: where the events in `bytes` end, when the caller framed them already.
    private mutating func rewriteEvents(_ bytes: ByteBuffer, ends known: [Int]? = nil, rewrite: (String, TextPlace) -> String,
                                        closing: (Int) -> [(TextPlace, String)]) -> ByteBuffer {
        guard bytes.readableBytes > 0 else { return bytes }
        let ends = known ?? bytes.withUnsafeReadableBytes { SSEFraming.eventEnds(in: $0) }
        var out = ByteBufferAllocator().buffer(capacity: bytes.readableBytes + 64)
        var start = 0
        for end in ends + (ends.last == bytes.readableBytes ? [] : [bytes.readableBytes]) {
            let event = bytes.getSlice(at: bytes.readerIndex + start, length: end - start)!
            start = end
            isEnd = false
            var rewritten = rewriteEvent(event, rewrite: rewrite, closing: closing)
            if holdsEnd, isEnd {
                heldEnd = rewritten
            } else {
                out.writeBuffer(&rewritten)
            }
        }
        return out
    }

    /// One event: its `data:` JSON with the texts rewritten (and, before it, events carrying held text of the
    /// channels it ends).
    private mutating func rewriteEvent(_ event: ByteBuffer, rewrite: (String, TextPlace) -> String,
                                       closing: (Int) -> [(TextPlace, String)]) -> ByteBuffer {
        let data = event.withUnsafeReadableBytes { SSEFraming.fields(of: $0).data }
        guard let data, !data.isEmpty else { return event }
        let payload = event.getSlice(at: event.readerIndex + data.lowerBound, length: data.count)!
        var before = ""
        let edited: ByteBuffer
        switch format {
        case .openAIChat: edited = openAIEvent(payload, &before, rewrite: rewrite, closing: closing)
        case .anthropicMessages: edited = anthropicEvent(payload, &before, rewrite: rewrite, closing: closing)
        }
        if before.isEmpty, edited == payload { return event }
        var out = ByteBuffer(string: before)
        var prefix = event.getSlice(at: event.readerIndex, length: data.lowerBound)!
        var body = edited
        var suffix = event.getSlice(at: event.readerIndex + data.upperBound, length: event.readableBytes - data.upperBound)!
        out.writeBuffer(&prefix)
        out.writeBuffer(&body)
        out.writeBuffer(&suffix)
        return out
    }
}
