/// Token usage of one request, normalised across providers.
public struct Usage: Sendable, Equatable, Codable {
    /// All input tokens, cached ones included.
    public var promptTokens: Int
    public var completionTokens: Int
    /// Input tokens served from the provider's prompt cache (a subset of `promptTokens`).
    public var cachedTokens: Int

    public init(promptTokens: Int = 0, completionTokens: Int = 0, cachedTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}

extension Usage {
    /// OpenAI's `usage` object as it appears in responses and the final stream chunk.
    public struct OpenAIWire: Decodable, Sendable {
        struct PromptDetails: Decodable { var cached_tokens: Int? }
        var prompt_tokens: Int?
        var completion_tokens: Int?
        var prompt_tokens_details: PromptDetails?

        public var usage: Usage { Usage(openAI: self) }
    }

    init(openAI wire: OpenAIWire) {
        self.init(promptTokens: wire.prompt_tokens ?? 0, completionTokens: wire.completion_tokens ?? 0,
                  cachedTokens: wire.prompt_tokens_details?.cached_tokens ?? 0)
    }
}

/// Prices of a deployment in USD per one million tokens.
public struct Price: Sendable, Equatable {
    public var input: Double
    public var output: Double
    /// Price of cached input tokens; the input price when not set.
    public var cachedInput: Double?

    public init(input: Double = 0, output: Double = 0, cachedInput: Double? = nil) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput
    }

    public static let free = Price()

    /// Cost in USD of `usage` at these prices. Cached tokens are charged at `cachedInput`, the rest at `input`.
    public func cost(of usage: Usage) -> Double {
        let cached = min(max(usage.cachedTokens, 0), max(usage.promptTokens, 0))
        let uncached = max(usage.promptTokens, 0) - cached
        let micro = Double(uncached) * input + Double(cached) * (cachedInput ?? input)
            + Double(max(usage.completionTokens, 0)) * output
        return micro / 1_000_000
    }
}

/// Formats a USD amount for headers and logs: plain decimal, no exponent, at most 10 decimals, trailing zeros cut.
public func formatUSD(_ amount: Double) -> String {
    guard amount.isFinite, amount > 0 else { return "0" }
    let scaled = (amount * 1e10).rounded()
    var digits = String(UInt64(scaled))
    if digits.count <= 10 { digits = String(repeating: "0", count: 11 - digits.count) + digits }
    let split = digits.index(digits.endIndex, offsetBy: -10)
    var fraction = String(digits[split...])
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return fraction.isEmpty ? String(digits[..<split]) : "\(digits[..<split]).\(fraction)"
}
