import Foundation
import NIOCore
import SwitchboardCore

/// A tier list's check of a whole (non-streamed) answer (`route.escalate`): JSON asked for but the answer's text does
/// not parse, or the text does not match `unless_match`. A rejected answer is not sent: the next tier is tried, and
/// what the rejected one cost is still charged.
struct OutputCheck: Sendable {
    let escalation: Escalation
    /// The request asked for JSON (`response_format`).
    let wantsJSON: Bool

    /// Why the answer in `body` does not pass (nil: it does).
    func rejects(_ body: ByteBuffer) -> String? {
        guard let decoded = JSONValue.parse(Data(buffer: body)) else { return nil }
        let text = Self.answerText(decoded)
        if escalation.invalidJSON, wantsJSON {
            guard let text, JSONValue.parse(Data(text.utf8)) != nil else { return "the answer is not the JSON asked for" }
        }
        if let pattern = escalation.unlessMatch, !pattern.matches(text ?? "") {
            return "the answer does not match \(pattern.source)"
        }
        return nil
    }

    /// The answer's text: a chat completion's first choice, an Anthropic message's text blocks, or a Responses API
    /// response's output text.
    static func answerText(_ answer: JSONValue) -> String? {
        if let choice = answer["choices"]?.array?.first { return choice["message"]?["content"]?.string }
        if answer["object"]?.string == "response", let output = answer["output"]?.array {
            return output.flatMap { $0["type"]?.string == "message" ? $0["content"]?.array ?? [] : [] }
                .compactMap { $0["type"]?.string == "output_text" ? $0["text"]?.string : nil }.joined()
        }
        if let blocks = answer["content"]?.array {
            return blocks.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }.joined()
        }
        return nil
    }
}
