import Synchronization

/// Removes credentials from text that came from an upstream before a client (or the request log) sees it: the
/// provider keys the gateway itself holds, by value, and anything shaped like a credential.
///
/// An upstream's error message may quote the `Authorization` it received; an upstream is untrusted input, so every
/// error text it sends passes through here, whatever its status.
public final class SecretScrubber: Sendable {
    /// Values shorter than this are not treated as secrets (they would match ordinary words).
    public static let minimumLength = 8
    private let literals = Mutex<[String]>([])
    private let patterns = Redactor(kinds: [.secret])

    public init(literals: [String] = []) {
        add(literals)
    }

    /// Knows the secrets of `providers` (their keys and header values) by value.
    public convenience init(providers: [ProviderConfig]) {
        self.init(literals: providers.flatMap(\.kind.secrets))
    }

    /// Adds secrets known by value (a provider key stored through the admin API).
    public func add(_ values: [String]) {
        literals.withLock { known in
            known = Set(known + values.filter { $0.utf8.count >= Self.minimumLength }).sorted { $0.utf8.count > $1.utf8.count }
        }
    }

    /// The secrets known by value, longest first.
    public var known: [String] { literals.withLock { $0 } }

    /// `text` with every known secret and every credential-shaped value replaced by `[REDACTED:secret]`.
    public func scrub(_ text: String) -> String {
        var text = Self.removing(known, from: text)
        text = patterns.redact(text)
        // Header or parameter names followed by a value: `x-api-key: …`, `api_key=…`, `key=…` in a quoted URL.
        text.replace(#/(?i)((?:authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key|api_key|apikey|access_token|[?&]key)["']?\s{0,4}+[:=]\s{0,4}+["']?)(?:basic\s{1,4}+)?[^\s"',;&}]{6,2048}+/#) {
            $0.output.1 + "[REDACTED:secret]"
        }
        return text
    }

    /// `text` with each of `secrets` (longest first, as `known` has them) replaced by `[REDACTED:secret]`.
    public static func removing(_ secrets: [String], from text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) { text = text.replacing(secret, with: "[REDACTED:secret]") }
        return text
    }

    /// A short upstream field (type, code, param) fit to pass on: scrubbed and at most `limit` characters.
    public func field(_ text: String, limit: Int = 200) -> String {
        let scrubbed = scrub(text)
        return scrubbed.count > limit ? String(scrubbed.prefix(limit)) + "…" : scrubbed
    }
}

extension ProviderKind {
    /// The secrets this provider's configuration holds: its API key and the values of its extra headers.
    public var secrets: [String] {
        switch self {
        case .openai(let c): [c.apiKey].compactMap { $0 } + c.headers.map(\.value)
        case .anthropic(let c): [c.apiKey].compactMap { $0 } + c.headers.map(\.value)
        case .azure(let c): [c.apiKey].compactMap { $0 } + c.headers.map(\.value)
        case .gemini(let c): [c.apiKey].compactMap { $0 } + c.headers.map(\.value)
        case .mock: []
        }
    }
}
