/// What one request body may hold (`waf.max_json_depth`, `max_messages`, `max_content_bytes`), checked during the
/// one scan that reads the request: the depth by the scanner itself, the counts and sizes from the ranges it found.
/// An unset limit checks nothing beyond the parser's own bounds (`JSONPeek.maxDepth`, 2,048 embedding inputs).
public struct RequestLimits: Sendable, Equatable {
    /// `max_json_depth`: the deepest nesting of the body (its object is level 1); past it 400 `json_too_deep`.
    public var maxJSONDepth: Int?
    /// `max_messages`: entries of `messages` (chat completions, Anthropic messages) or of an `input` array
    /// (embeddings); past it 400 `too_many_messages`.
    public var maxMessages: Int?
    /// `max_content_bytes`: bytes of the conversation as sent — `messages` (with `system` for Anthropic messages) or
    /// `input` for embeddings, JSON encoding included; past it 413 `content_too_large`.
    public var maxContentBytes: Int?

    public init(maxJSONDepth: Int? = nil, maxMessages: Int? = nil, maxContentBytes: Int? = nil) {
        self.maxJSONDepth = maxJSONDepth
        self.maxMessages = maxMessages
        self.maxContentBytes = maxContentBytes
    }

    /// No limits but the parser's own.
    public static let none = RequestLimits()

    /// Whether any limit is set.
    public var isActive: Bool { maxJSONDepth != nil || maxMessages != nil || maxContentBytes != nil }

    /// The nesting the scan allows.
    var depth: Int { maxJSONDepth ?? JSONPeek.maxDepth }

    /// Checks the count of an array `field` (`messages`, `input`); a non-array counts as one entry.
    func check(entries value: JSONPeek.Value, of field: String) throws(GatewayError) {
        guard let max = maxMessages else { return }
        let n = value.kind == .array ? value.count : 1
        guard n <= max else {
            throw GatewayError(.tooManyMessages, "'\(field)' has \(n) entries; this gateway accepts at most \(max).", param: field)
        }
    }

    /// Checks the size of the conversation (`bytes` of `field` as sent).
    func check(contentBytes bytes: Int, of field: String) throws(GatewayError) {
        guard let max = maxContentBytes, bytes > max else { return }
        throw GatewayError(.contentTooLarge, "'\(field)' is \(bytes) bytes; this gateway accepts at most \(max).", param: field)
    }

    /// The error for a body the scan refused: `json_too_deep` when it nests past a configured limit, else `invalid_json`.
    func error(_ syntax: JSONPeek.SyntaxError) -> GatewayError {
        if syntax.tooDeep, let max = maxJSONDepth {
            return GatewayError(.jsonTooDeep, "The body nests deeper than \(max) levels, the most this gateway accepts.")
        }
        return .invalidJSON(syntax.description)
    }
}
