import NIOCore

/// Token usage of one request, normalised across providers.
///
/// `promptTokens` counts every input token, cached and cache-writing ones included (OpenAI's `prompt_tokens`;
/// Anthropic's `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`). `completionTokens` counts
/// every output token, reasoning included.
public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Input tokens read from the provider's prompt cache (part of `promptTokens`).
    public var cachedTokens: Int
    /// Input tokens written to the provider's prompt cache (part of `promptTokens`; Anthropic bills them apart).
    public var cacheWriteTokens: Int
    /// Output tokens spent on reasoning (part of `completionTokens`).
    public var reasoningTokens: Int

    public init(promptTokens: Int = 0, completionTokens: Int = 0, cachedTokens: Int = 0, cacheWriteTokens: Int = 0, reasoningTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Prompt and completion tokens; never overflows (each count an upstream sends is bounded first, see
    /// `isPlausible`, and the sum saturates).
    public var totalTokens: Int { Usage.sum(promptTokens, completionTokens) }

    /// More tokens than this in one request's count is not believed: no model reads or writes 100 million tokens in
    /// one request, and an upstream that says so is broken or hostile.
    public static let maxTokens = 100_000_000
    /// Stands for a count an upstream sent that is not a token count (negative, fractional, absurd, not a number).
    public static let invalidCount = -1

    /// A token count as an upstream sent it: 0 when absent, itself when a whole number from 0 to `maxTokens`,
    /// `invalidCount` otherwise.
    public static func count(_ n: Int?) -> Int {
        guard let n else { return 0 }
        return (0...maxTokens).contains(n) ? n : invalidCount
    }

    /// A token count from a JSON value: 0 when absent or null, `invalidCount` when it is not a plausible count.
    public static func count(_ value: JSONValue?) -> Int {
        guard let value, !value.isNull else { return 0 }
        return count(value.int ?? invalidCount)
    }

    /// The sum of counts: `invalidCount` when any of them is, never more than `Int.max` (saturates).
    public static func sum(_ counts: Int...) -> Int {
        var total = 0
        for c in counts {
            if c < 0 { return invalidCount }
            let (s, overflow) = total.addingReportingOverflow(c)
            total = overflow ? .max : s
        }
        return total
    }

    /// True when every count is one an honest upstream could send: 0 to `maxTokens`, parts within their whole
    /// (cached and cache writes within the prompt, reasoning within the completion).
    public var isPlausible: Bool {
        let range = 0...Usage.maxTokens
        return range.contains(promptTokens) && range.contains(completionTokens) && range.contains(cachedTokens)
            && range.contains(cacheWriteTokens) && range.contains(reasoningTokens)
            && cachedTokens + cacheWriteTokens <= promptTokens && reasoningTokens <= completionTokens
    }
}

extension Usage {
    private static let usageKey: [[UInt8]] = [Array("usage".utf8)]
    private static let usageKeys: [[UInt8]] = ["prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details", "cache_creation_input_tokens"].map { Array($0.utf8) }
    private static let detailKeys: [[UInt8]] = [Array("cached_tokens".utf8)]
    private static let completionDetailKeys: [[UInt8]] = [Array("reasoning_tokens".utf8)]

    /// The token count at `value` in `bytes`: 0 when absent or null, `invalidCount` when not a plausible count.
    static func count(_ bytes: UnsafeRawBufferPointer, _ value: JSONPeek.Value?) -> Int {
        guard let value, value.kind != .null else { return 0 }
        return count(JSONPeek.integer(bytes, value) ?? invalidCount)
    }

    /// The top-level `usage` object of a whole answer, read by `read`, after checking in the same pass that the body
    /// is one JSON object: throws when it is not, nil when it has no `usage` object.
    public static func checkedAnswer(_ body: ByteBuffer, usage read: (UnsafeRawBufferPointer) -> Usage?) throws(JSONPeek.SyntaxError) -> Usage? {
        try body.withUnsafeReadableBytes { (bytes) throws(JSONPeek.SyntaxError) -> Usage? in
            guard let u = try JSONPeek.topLevel(bytes, keys: usageKey)[0], u.kind == .object else { return nil }
            return read(UnsafeRawBufferPointer(rebasing: bytes[u.range]))
        }
    }

    /// Usage from a non-streamed OpenAI response body (its top-level `usage` object); nil when there is none.
    public static func inOpenAIResponse(_ body: ByteBuffer) -> Usage? {
        (try? checkedAnswer(body, usage: openAIUsageObject)) ?? nil
    }

    /// Reads OpenAI's `usage` object (`prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`,
    /// `completion_tokens_details.reasoning_tokens`, and `cache_creation_input_tokens` where a translating gateway
    /// adds it) from its bytes, without a JSON decoder.
    public static func openAIUsageObject(_ bytes: UnsafeRawBufferPointer) -> Usage? {
        guard let f = try? JSONPeek.topLevel(bytes, keys: usageKeys) else { return nil }
        var usage = Usage()
        usage.promptTokens = count(bytes, f[0])
        usage.completionTokens = count(bytes, f[1])
        if let details = f[2], details.kind == .object {
            let inner = UnsafeRawBufferPointer(rebasing: bytes[details.range])
            if let d = try? JSONPeek.topLevel(inner, keys: detailKeys) { usage.cachedTokens = count(inner, d[0]) }
        }
        if let details = f[3], details.kind == .object {
            let inner = UnsafeRawBufferPointer(rebasing: bytes[details.range])
            if let d = try? JSONPeek.topLevel(inner, keys: completionDetailKeys) { usage.reasoningTokens = count(inner, d[0]) }
        }
        // Cache writes, as gateways that translate Anthropic usage report them (outside OpenAI's own fields).
        usage.cacheWriteTokens = count(bytes, f[4])
        return usage
    }
}

extension Usage {
    /// Both usages together, class by class.
    public func adding(_ other: Usage) -> Usage {
        Usage(promptTokens: promptTokens + other.promptTokens, completionTokens: completionTokens + other.completionTokens,
              cachedTokens: cachedTokens + other.cachedTokens, cacheWriteTokens: cacheWriteTokens + other.cacheWriteTokens,
              reasoningTokens: reasoningTokens + other.reasoningTokens)
    }

    /// This usage less `other`, class by class.
    public func subtracting(_ other: Usage) -> Usage {
        Usage(promptTokens: promptTokens - other.promptTokens, completionTokens: completionTokens - other.completionTokens,
              cachedTokens: cachedTokens - other.cachedTokens, cacheWriteTokens: cacheWriteTokens - other.cacheWriteTokens,
              reasoningTokens: reasoningTokens - other.reasoningTokens)
    }
}

/// Prices of a deployment in USD per one million tokens, per token class.
public struct Price: Sendable, Equatable {
    public var input: Double
    public var output: Double
    /// Cache-read input tokens; `input` when not set.
    public var cachedInput: Double?
    /// Cache-write input tokens; `input` when not set (Anthropic charges 1.25× input for 5-minute writes).
    public var cacheWrite: Double?
    /// Reasoning output tokens; `output` when not set.
    public var reasoning: Double?

    public init(input: Double = 0, output: Double = 0, cachedInput: Double? = nil, cacheWrite: Double? = nil, reasoning: Double? = nil) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.reasoning = reasoning
    }

    public static let free = Price()

    /// Cost in USD of `usage`: each token class at its own price (classes never overlap, so nothing is billed twice).
    /// Always finite and never negative, whatever the counts.
    public func cost(of usage: Usage) -> Double {
        let prompt = max(usage.promptTokens, 0)
        let cached = min(max(usage.cachedTokens, 0), prompt)
        let written = min(max(usage.cacheWriteTokens, 0), prompt - cached)
        let plainInput = prompt - cached - written
        let completion = max(usage.completionTokens, 0)
        let reasoning = min(max(usage.reasoningTokens, 0), completion)
        let micro = Double(plainInput) * input + Double(cached) * (cachedInput ?? input) + Double(written) * (cacheWrite ?? input)
            + Double(completion - reasoning) * output + Double(reasoning) * (self.reasoning ?? output)
        let usd = micro / 1_000_000
        return usd.isFinite && usd > 0 ? usd : 0
    }
}

/// Formats a USD amount for headers and logs: plain decimal, no exponent, at most 10 decimals, trailing zeros cut.
/// In integers, written once into its string (it is on every answer, as `x-switchboard-cost`).
public func formatUSD(_ amount: Double) -> String {
    guard amount.isFinite, amount > 0 else { return "0" }
    // Past a billion dollars cents are noise, and `amount * 1e10` would not fit a UInt64.
    guard amount < 1e9 else { return String(format: "%.0f", amount) }
    let scaled = UInt64((amount * 1e10).rounded())
    let whole = scaled / 10_000_000_000
    var fraction = scaled % 10_000_000_000, places = 10
    guard fraction > 0 else { return String(whole) }
    while fraction % 10 == 0 { (fraction, places) = (fraction / 10, places - 1) }
    var wholeDigits = 1
    while whole >= pow10(wholeDigits) { wholeDigits += 1 }
    return String(unsafeUninitializedCapacity: wholeDigits + 1 + places) { out in
        var (w, f, i) = (whole, fraction, wholeDigits + places)
        for _ in 0..<places { (out[i], f, i) = (UInt8(ascii: "0") + UInt8(f % 10), f / 10, i - 1) }
        out[i] = UInt8(ascii: ".")
        for j in stride(from: wholeDigits - 1, through: 0, by: -1) { (out[j], w) = (UInt8(ascii: "0") + UInt8(w % 10), w / 10) }
        return wholeDigits + 1 + places
    }
}

private func pow10(_ n: Int) -> UInt64 {
    var p: UInt64 = 1
    for _ in 0..<n { p *= 10 }
    return p
}
