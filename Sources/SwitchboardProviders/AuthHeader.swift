import SwitchboardCore

/// How a provider kind presents its key: the header, and what comes before the key in its value.
public struct AuthHeader: Sendable, Equatable {
    public let name: String
    public let prefix: String

    /// The header carrying `key`.
    public func header(_ key: String) -> (name: String, value: String) { (name, prefix + key) }

    /// OpenAI and the OpenAI-compatible servers: `Authorization: Bearer KEY`.
    public static let bearer = AuthHeader(name: "authorization", prefix: "Bearer ")
    /// Azure OpenAI: `api-key: KEY`.
    public static let azure = AuthHeader(name: "api-key", prefix: "")
    /// Anthropic: `x-api-key: KEY`.
    public static let anthropic = AuthHeader(name: "x-api-key", prefix: "")
    /// Gemini: `x-goog-api-key: KEY`.
    public static let gemini = AuthHeader(name: "x-goog-api-key", prefix: "")

    /// The auth header of a configured provider kind; nil for kinds that take no key (mock).
    public static func of(_ kind: ProviderKind) -> AuthHeader? {
        switch kind {
        case .openai: .bearer
        case .azure: .azure
        case .anthropic: .anthropic
        case .gemini: .gemini
        case .mock: nil
        }
    }
}
