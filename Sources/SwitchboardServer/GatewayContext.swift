import Hummingbird
import Logging
import NIOCore

/// Per-request state, typed: the request id and, once authenticated, who is calling.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `x-request-id`: the client's when it sent a sane one, else generated.
    public var requestID: String = ""
    /// Set by `AuthMiddleware`.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// An authenticated caller.
public struct Identity: Sendable, Equatable {
    /// The key's name (safe to log and record), never the key.
    public var name: String
    /// Public model names or globs (`*`, `?`) this caller may use; empty means every model.
    public var allowedModels: [String]
    /// Authenticated with the master key (admin API).
    public var isMaster: Bool

    public init(name: String, allowedModels: [String] = [], isMaster: Bool = false) {
        self.name = name
        self.allowedModels = allowedModels
        self.isMaster = isMaster
    }

    public func allows(model: String) -> Bool {
        allowedModels.isEmpty || allowedModels.contains { globMatch($0, model) }
    }
}

/// Matches `text` against a glob with `*` (any run) and `?` (any one character).
public func globMatch(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
            pi += 1
            ti += 1
        } else if pi < p.count, p[pi] == "*" {
            star = pi
            mark = ti
            pi += 1
        } else if star >= 0 {
            pi = star + 1
            mark += 1
            ti = mark
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
}
