import NIOCore
import SwitchboardCore

// The events of each answer format whose texts `AnswerStream` rewrites.
extension AnswerStream {
    private static let done = ByteBuffer(string: "[DONE]")

    /// An OpenAI chat-completion chunk: `choices[].delta.content` and `.tool_calls[].function.arguments`; a choice
    /// with a `finish_reason` ends its channels; `[DONE]` ends them all.
    mutating func openAIEvent(_ payload: ByteBuffer, _ before: inout String, rewrite: (String, TextPlace) -> String,
                              closing: (Int) -> [(TextPlace, String)]) -> ByteBuffer {
        if payload == Self.done {
            isEnd = true
            before = events(carrying: closing(-1))
            return payload
        }
        var texts: [(position: Int, tool: Int?, range: Range<Int>, text: String)] = []
        var choiceIndex: [Int: Int] = [:]
        var toolIndex: [[Int]: Int] = [:]
        var finished: [Int] = []
        payload.withUnsafeReadableBytes { bytes in
            try? JSONPeek.forEachScalar(bytes, enter: Self.enterChunk) { path, value in
                guard path.count >= 3, case .index(let position) = path[1] else {
                    if path.count == 1, let key = path[0].key, ["id", "created", "model"].contains(key) { noteHead(key, bytes, value.range) }
                    return
                }
                switch (path.count, path.last?.key) {
                case (3, "index"): choiceIndex[position] = JSONPeek.integer(bytes, value)
                case (3, "finish_reason") where value.kind == .string: finished.append(position)
                case (4, "content") where value.kind == .string:
                    texts.append((position, nil, value.range, JSONPeek.string(bytes, value) ?? ""))
                case (6, "index"):
                    if case .index(let j) = path[4] { toolIndex[[position, j]] = JSONPeek.integer(bytes, value) }
                case (7, "arguments") where value.kind == .string:
                    if case .index(let j) = path[4] { texts.append((position, j, value.range, JSONPeek.string(bytes, value) ?? "")) }
                default: break
                }
            }
        }
        guard !texts.isEmpty || !finished.isEmpty else { return payload }
        var edits: [TextPlace: (range: Range<Int>, text: String, original: String)] = [:]
        for t in texts {
            let place = TextPlace.openAI(choice: choiceIndex[t.position] ?? t.position, tool: t.tool.map { toolIndex[[t.position, $0]] ?? $0 })
            edits[place] = (t.range, rewrite(t.text, place), t.text)
        }
        for position in finished {
            for (place, text) in closing(choiceIndex[position] ?? position) where !text.isEmpty {
                if edits[place] != nil { edits[place]!.text += text } else { before += openAIChunk(place, text) }
            }
        }
        return JSONPeek.splice(payload, edits.values.filter { $0.text != $0.original }.map { ($0.range, JSONString.quote($0.text)) })
    }

    private static func enterChunk(_ path: [JSONPeek.PathStep]) -> Bool {
        switch path.count {
        case 1: return true
        case 2: return path[0].key == "choices"
        case 3: return path[2].key == "delta" || path[2].key == "finish_reason" || path[2].key == "index"
        case 4: return path[3].key == "content" || path[3].key == "tool_calls"
        case 5: return true
        case 6: return path[5].key == "function" || path[5].key == "index"
        default: return path.count == 7 && path[6].key == "arguments"
        }
    }

    private mutating func noteHead(_ key: String, _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        if key == "id" { head = "" }
        head += (head.isEmpty ? "" : ",") + JSONString.quote(key) + ":" + String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Events of our own carrying held text to its places.
    func events(carrying texts: [(TextPlace, String)]) -> String {
        texts.filter { !$0.1.isEmpty }.map { place, text in
            switch format {
            case .openAIChat:
                return openAIChunk(place, text)
            case .anthropicMessages:
                let delta = place.json ? #"{"type":"input_json_delta","partial_json":\#(JSONString.quote(text))}"#
                    : #"{"type":"text_delta","text":\#(JSONString.quote(text))}"#
                return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":\(place.channel),\"delta\":\(delta)}\n\n"
            }
        }.joined()
    }

    /// A chunk of our own carrying `text` on `place`.
    private func openAIChunk(_ place: TextPlace, _ text: String) -> String {
        let delta = place.tool.map { #"{"tool_calls":[{"index":\#($0),"function":{"arguments":\#(JSONString.quote(text))}}]}"# }
            ?? #"{"content":\#(JSONString.quote(text))}"#
        return "data: {\(head.isEmpty ? "" : head + ",")\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":\(place.choice),\"delta\":\(delta),\"finish_reason\":null}]}\n\n"
    }

    /// An Anthropic event: `content_block_delta`'s `text` or `partial_json`; `content_block_stop` ends its block's
    /// channel, `message_stop` all of them.
    mutating func anthropicEvent(_ payload: ByteBuffer, _ before: inout String, rewrite: (String, TextPlace) -> String,
                                 closing: (Int) -> [(TextPlace, String)]) -> ByteBuffer {
        payload.withUnsafeReadableBytes { bytes -> ByteBuffer in
            let keys: [[UInt8]] = ["type", "index", "delta"].map { Array($0.utf8) }
            guard let fields = try? JSONPeek.topLevel(bytes, keys: keys), let t = fields[0], let type = JSONPeek.string(bytes, t) else { return payload }
            let index = fields[1].flatMap { JSONPeek.integer(bytes, $0) } ?? 0
            switch type {
            case "content_block_delta":
                guard let delta = fields[2], delta.kind == .object else { return payload }
                let inner = UnsafeRawBufferPointer(rebasing: bytes[delta.range])
                let deltaKeys: [[UInt8]] = ["text", "partial_json"].map { Array($0.utf8) }
                guard let d = try? JSONPeek.topLevel(inner, keys: deltaKeys), let value = d[0] ?? d[1],
                      let text = JSONPeek.string(inner, value) else { return payload }
                let new = rewrite(text, TextPlace(channel: index, json: d[0] == nil))
                guard new != text else { return payload }
                let range = (delta.range.lowerBound + value.range.lowerBound)..<(delta.range.lowerBound + value.range.upperBound)
                return JSONPeek.splice(payload, [(range, JSONString.quote(new))])
            case "content_block_stop", "message_stop":
                isEnd = type == "message_stop"
                before = events(carrying: closing(type == "message_stop" ? -1 : index))
                return payload
            default:
                return payload
            }
        }
    }
}
