/// Rough token counts for when no provider can count exactly: about four characters of text per token, a few
/// tokens of framing per message, and a fixed allowance per image (Anthropic's cost for a ~1.2-megapixel image).
public enum TokenEstimate {
    public static let perMessage = 3
    public static let perImage = 1600

    static func text(_ s: String) -> Int { (s.unicodeScalars.count + 3) / 4 }

    /// Input tokens of an Anthropic Messages request: system, messages (text, tool calls and results, images), tools.
    public static func anthropicInput(_ request: JSONValue) -> Int {
        var total = 0
        func content(_ c: JSONValue?) {
            switch c {
            case .string(let s)?: total += text(s)
            case .array(let blocks)?:
                for b in blocks {
                    switch b["type"]?.string {
                    case "image", "document": total += perImage
                    case "tool_use": total += text(b["name"]?.string ?? "") + text((b["input"] ?? [:]).jsonText)
                    case "tool_result": content(b["content"])
                    case "thinking": total += text(b["thinking"]?.string ?? "")
                    default: total += text(b["text"]?.string ?? "")
                    }
                }
            default: break
            }
        }
        content(request["system"])
        for m in request["messages"]?.array ?? [] {
            total += perMessage
            content(m["content"])
        }
        for tool in request["tools"]?.array ?? [] { total += text(tool.jsonText) }
        return max(total, 1)
    }
}
