import Foundation

/// A price list in OpenRouter's `/api/v1/models` format — `{"data": [{"id": "openai/gpt-4o", "pricing": {"prompt":
/// "0.0000025", "completion": "0.00001", "input_cache_read": "0.00000125", "input_cache_write": "…", "internal_reasoning":
/// "…"}}, …]}`, USD per token as strings (or numbers) — read into prices per million tokens, by model id. What a
/// pricing source sends is untrusted: a malformed list is refused whole, an entry with a price that is not a finite
/// number from 0 to $1,000 per token is left out.
public enum PriceList {
    /// At most this many entries are read (OpenRouter lists a few hundred).
    public static let maxEntries = 20_000

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ data: Data) throws(Invalid) -> [String: Price] {
        guard let root = JSONValue.parse(data) else { throw Invalid(description: "not JSON") }
        guard let entries = root["data"]?.array else { throw Invalid(description: "no \"data\" list") }
        guard entries.count <= maxEntries else { throw Invalid(description: "\(entries.count) entries, more than \(maxEntries)") }
        var prices: [String: Price] = [:]
        for entry in entries {
            guard let id = entry["id"]?.string, !id.isEmpty, id.utf8.count <= 256, let pricing = entry["pricing"]?.object,
                  let input = perMillion(pricing["prompt"]), let output = perMillion(pricing["completion"]) else { continue }
            var price = Price(input: input, output: output)
            price.cachedInput = perMillion(pricing["input_cache_read"])
            price.cacheWrite = perMillion(pricing["input_cache_write"])
            price.reasoning = perMillion(pricing["internal_reasoning"]).flatMap { $0 > 0 ? $0 : nil }
            prices[id] = price
        }
        guard !prices.isEmpty else { throw Invalid(description: "no entry has a usable price") }
        return prices
    }

    /// USD per token (a string or a number) as USD per million tokens; nil unless finite and from 0 to 1,000 per token.
    static func perMillion(_ value: JSONValue?) -> Double? {
        guard let value else { return nil }
        let perToken: Double? = value.string.flatMap(Double.init) ?? value.number
        guard let v = perToken, v.isFinite, v >= 0, v <= 1000 else { return nil }
        return v * 1_000_000
    }

    /// The entry for a deployment: `id` itself when given, else the entry named like its upstream model — exactly,
    /// or as `vendor/model` when one vendor alone has it.
    public static func entry(_ prices: [String: Price], id: String?, upstreamModel: String) -> (id: String, price: Price)? {
        if let id { return prices[id].map { (id, $0) } }
        if let exact = prices[upstreamModel] { return (upstreamModel, exact) }
        let suffix = "/" + upstreamModel
        let matches = prices.filter { $0.key.hasSuffix(suffix) }
        guard matches.count == 1, let only = matches.first else { return nil }
        return (only.key, only.value)
    }
}
