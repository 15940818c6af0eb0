/// An error the gateway answers with: one of a closed set of codes, each with a fixed HTTP status and type, and a
/// message written for the client that never contains a secret. It renders itself in OpenAI's and Anthropic's shapes.
///
/// When the error is an upstream's, what the upstream said (its status, type and code) is kept in `upstream`, apart
/// from `code`: clients see the upstream's type and code on a relayed 4xx, while `code` — the only one used as a
/// metric label or in the request log — stays in the closed set.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Code
    public var message: String
    public var param: String?
    /// Seconds the client should wait before trying again (429/503), sent as `Retry-After`.
    public var retryAfterSeconds: Int?
    /// What the upstream said, when the error is an upstream's answer.
    public var upstream: Upstream?

    /// An upstream's own words for an error: its HTTP status, and the type and code it gave (scrubbed, bounded).
    public struct Upstream: Sendable, Equatable {
        public var status: Int
        public var type: String?
        public var code: String?
        public init(status: Int, type: String? = nil, code: String? = nil) {
            self.status = status
            self.type = type
            self.code = code
        }
    }

    public init(_ code: Code, _ message: String, param: String? = nil, retryAfterSeconds: Int? = nil, upstream: Upstream? = nil) {
        self.code = code
        self.message = message
        self.param = param
        self.retryAfterSeconds = retryAfterSeconds
        self.upstream = upstream
    }

    /// The HTTP status: the code's own, except a request an upstream rejected, which keeps the upstream's 4xx.
    public var status: Int {
        if code == .upstreamRejected, let s = upstream?.status, (400..<500).contains(s) { return s }
        return code.status
    }

    /// The error's type as the client sees it: the upstream's on a relayed 4xx, else the code's.
    public var type: String {
        if status < 500, let t = upstream?.type { return t }
        return code.type
    }

    /// The error's code as the client sees it: the upstream's on a relayed 4xx, else the gateway's.
    public var clientCode: String {
        if status < 500, let c = upstream?.code { return c }
        return code.name
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// Anthropic's error types; the error's own `type` when it is one of them, else the one for its status.
    public var anthropicType: String { ErrorBody.anthropicType(type, status: status) }

    /// The Anthropic error body: `{"type":"error","error":{"type","message"}}`.
    public var anthropicBody: String { ErrorBody.anthropic(type: anthropicType, message: message) }

    /// The OpenAI error body: `{"error":{"message","type","param","code"}}`.
    public var openAIBody: String { ErrorBody.openAI(message: message, type: type, param: param, code: clientCode) }
}

/// Error bodies in each API's wire shape, from plain fields (also for fakes and translations of upstream errors).
public enum ErrorBody {
    /// `{"error":{"message","type","param","code"}}`.
    public static func openAI(message: String, type: String, param: String? = nil, code: String?) -> String {
        var out = #"{"error":{"message":"#
        out += JSONString.quote(message)
        out += #","type":"# + JSONString.quote(type)
        out += #","param":"# + (param.map(JSONString.quote) ?? "null")
        out += #","code":"# + (code.map(JSONString.quote) ?? "null") + "}}"
        return out
    }

    /// `{"type":"error","error":{"type","message"}}`.
    public static func anthropic(type: String, message: String) -> String {
        #"{"type":"error","error":{"type":"# + JSONString.quote(type) + #","message":"# + JSONString.quote(message) + "}}"
    }

    /// Anthropic's error type for an error of `type` (any API's) and `status`: `type` when Anthropic has it, else the
    /// one for the status.
    public static func anthropicType(_ type: String?, status: Int) -> String {
        let known: Set = ["invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large",
                          "rate_limit_error", "api_error", "overloaded_error", "timeout_error"]
        // OpenAI (and the gateway) label 401/403/404/413 "invalid_request_error": those map by status.
        if let type, known.contains(type), type != "invalid_request_error" || status == 400 { return type }
        return anthropicType(status: status)
    }

    /// Anthropic's error type for an HTTP status.
    public static func anthropicType(status: Int) -> String {
        switch status {
        case 400, 405, 408, 431: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        case 504: "timeout_error"
        default: "api_error"
        }
    }
}

/// Minimal JSON string quoting for hand-written response bodies.
public enum JSONString {
    public static func quote(_ s: String) -> String {
        // Most texts need no escape: one pass over the bytes, then one copy.
        func plain(_ c: UInt8) -> Bool { c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") }
        if s.utf8.withContiguousStorageIfAvailable({ $0.allSatisfy(plain) }) ?? s.utf8.allSatisfy(plain) { return "\"" + s + "\"" }
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}
