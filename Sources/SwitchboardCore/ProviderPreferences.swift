/// OpenRouter's `provider` object in a chat completion body: which providers may serve the request, in what order,
/// and at what price. The gateway honours it and removes it before the request goes upstream.
public struct ProviderPreferences: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        /// Cheapest first (input + output price per million tokens).
        case price
        /// Fastest first (median time to first token seen lately).
        case latency
        /// As `latency` (no throughput is measured apart from it).
        case throughput
    }

    public var order: [String] = []
    public var allowFallbacks = true
    public var only: [String]?
    public var ignore: [String] = []
    public var sort: Sort?
    /// `max_price.prompt` and `max_price.completion`: USD per million tokens.
    public var maxPromptPrice: Double?
    public var maxCompletionPrice: Double?

    public init() {}

    static let known = ["order", "allow_fallbacks", "only", "ignore", "sort", "max_price", "data_collection", "require_parameters",
                        "quantizations"]

    /// Reads the object; the 400 a client should get when it is malformed. `data_collection`, `require_parameters`
    /// and `quantizations` are accepted and have no effect here.
    public init(json: JSONValue) throws(GatewayError) {
        guard let o = json.object else { throw Self.bad("provider", "expected an object") }
        for key in o.keys where !Self.known.contains(key) {
            throw Self.bad("provider.\(key)", "unknown field (known: \(Self.known.joined(separator: ", ")))")
        }
        order = try Self.names(o["order"], "order") ?? []
        only = try Self.names(o["only"], "only")
        ignore = try Self.names(o["ignore"], "ignore") ?? []
        if let v = o["allow_fallbacks"], v != .null {
            guard let b = v.bool else { throw Self.bad("provider.allow_fallbacks", "expected true or false") }
            allowFallbacks = b
        }
        if let v = o["sort"], v != .null {
            guard let s = v.string.flatMap(Sort.init(rawValue:)) else { throw Self.bad("provider.sort", "expected price, latency or throughput") }
            sort = s
        }
        if let v = o["max_price"], v != .null {
            guard let m = v.object else { throw Self.bad("provider.max_price", "expected an object with prompt and completion") }
            maxPromptPrice = try Self.price(m["prompt"], "prompt")
            maxCompletionPrice = try Self.price(m["completion"], "completion")
        }
    }

    /// The object as a request would send it.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["allow_fallbacks": .bool(allowFallbacks)]
        if !order.isEmpty { o["order"] = .array(order.map(JSONValue.string)) }
        if let only { o["only"] = .array(only.map(JSONValue.string)) }
        if !ignore.isEmpty { o["ignore"] = .array(ignore.map(JSONValue.string)) }
        if let sort { o["sort"] = .string(sort.rawValue) }
        if maxPromptPrice != nil || maxCompletionPrice != nil {
            o["max_price"] = .object(["prompt": maxPromptPrice.map(JSONValue.double) ?? .null, "completion": maxCompletionPrice.map(JSONValue.double) ?? .null])
        }
        return .object(o)
    }

    static func names(_ v: JSONValue?, _ field: String) throws(GatewayError) -> [String]? {
        guard let v, v != .null else { return nil }
        guard let a = v.array else { throw bad("provider.\(field)", "expected a list of provider names") }
        var out: [String] = []
        for item in a {
            guard let s = item.string, !s.isEmpty else { throw bad("provider.\(field)", "expected a list of provider names") }
            out.append(s)
        }
        return out
    }

    static func price(_ v: JSONValue?, _ field: String) throws(GatewayError) -> Double? {
        guard let v, v != .null else { return nil }
        guard let n = v.number, n.isFinite, n >= 0 else { throw bad("provider.max_price.\(field)", "expected a price in USD per million tokens, 0 or more") }
        return n
    }

    static func bad(_ param: String, _ message: String) -> GatewayError {
        .invalidParameter(param, "Invalid '\(param)': \(message).")
    }
}
