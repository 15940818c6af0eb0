import SwitchboardCore

/// The text of a request's turns, as rules read it.
public struct RequestText: Sendable, Equatable {
    /// The last user turn's text.
    public var lastUser: String
    /// Every turn's text (system prompt included), in order, one per line.
    public var all: String

    public init(lastUser: String, all: String) {
        self.lastUser = lastUser
        self.all = all
    }

    /// The text of a chat completion (`messages`), an Anthropic message (`system` and `messages`) or an
    /// embeddings request (`input`), from its decoded body. Only text parts count; images and tool calls do not.
    public init?(body: JSONValue) {
        var turns: [String] = []
        var lastUser: String?
        if let system = body["system"] { turns.append(Self.text(of: system)) }
        for message in body["messages"]?.array ?? [] {
            let text = Self.text(of: message["content"] ?? .null)
            turns.append(text)
            if message["role"]?.string == "user" { lastUser = text }
        }
        if let input = body["input"] {
            let parts = input.array?.compactMap(\.string) ?? input.string.map { [$0] } ?? []
            turns += parts
            lastUser = parts.last
        }
        guard !turns.isEmpty else { return nil }
        self.init(lastUser: lastUser ?? "", all: turns.filter { !$0.isEmpty }.joined(separator: "\n"))
    }

    /// A content value's text: a string, or the `text` of its text parts (OpenAI `type: text`, Anthropic text blocks).
    static func text(of content: JSONValue) -> String {
        if let s = content.string { return s }
        return (content.array ?? []).compactMap { part in
            part["type"]?.string == "text" ? part["text"]?.string : nil
        }.joined(separator: "\n")
    }
}
