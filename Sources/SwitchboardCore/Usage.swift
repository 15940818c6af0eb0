import NIOCore

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
    private static let usageKey: [[UInt8]] = [Array("usage".utf8)]
    private static let usageKeys: [[UInt8]] = ["prompt_tokens", "completion_tokens", "prompt_tokens_details"].map { Array($0.utf8) }
    private static let detailKeys: [[UInt8]] = [Array("cached_tokens".utf8)]

    /// Usage from a non-streamed OpenAI response body (its top-level `usage` object); nil when there is none.
    public static func inOpenAIResponse(_ body: ByteBuffer) -> Usage? {
        body.withUnsafeReadableBytes { bytes in
            guard let fields = try? JSONPeek.topLevel(bytes, keys: usageKey), let u = fields[0], u.kind == .object else { return nil }
            return openAIUsageObject(UnsafeRawBufferPointer(rebasing: bytes[u.range]))
        }
    }

    /// Reads OpenAI's `usage` object (`prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`)
    /// from its bytes, without a JSON decoder.
    public static func openAIUsageObject(_ bytes: UnsafeRawBufferPointer) -> Usage? {
        guard let f = try? JSONPeek.topLevel(bytes, keys: usageKeys) else { return nil }
        var usage = Usage()
        usage.promptTokens = f[0].flatMap { JSONPeek.integer(bytes, $0) } ?? 0
        usage.completionTokens = f[1].flatMap { JSONPeek.integer(bytes, $0) } ?? 0
        if let details = f[2], details.kind == .object {
            let inner = UnsafeRawBufferPointer(rebasing: bytes[details.range])
            if let d = try? JSONPeek.topLevel(inner, keys: detailKeys), let cached = d[0] {
                usage.cachedTokens = JSONPeek.integer(inner, cached) ?? 0
            }
        }
        return usage
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
