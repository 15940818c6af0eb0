// ConfigLoader: the `responses:` section (stored Responses API responses).
import Yams

/// `responses:` — how long the gateway keeps Responses API responses stored with `store` (the default).
public struct ResponsesConfig: Sendable, Equatable {
    /// `retention_days`: stored responses older than this are deleted (0: kept until deleted).
    public var retentionDays = 30.0

    public init() {}
}

extension Walker {
    mutating func responsesConfig(_ node: Node) -> ResponsesConfig {
        var responses = ResponsesConfig()
        guard let m = mapping(node, "responses", allowed: ["retention_days"]) else { return responses }
        if let v = number(m, "retention_days", "responses", range: 0...36_500) { responses.retentionDays = v }
        return responses
    }
}
