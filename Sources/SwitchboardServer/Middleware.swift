import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore

/// Outermost middleware: gives every request an id, turns every error into a JSON error response (unknown paths
/// 404, wrong methods 405, never a bare 500), and puts `x-request-id` on every response.
struct FrontMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    /// Paths the gateway serves and their methods, to tell 404 from 405.
    let routes: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(from: request)
        // Errors on the Anthropic routes come in Anthropic's shape, everywhere else in OpenAI's.
        let anthropic = request.uri.path.hasPrefix("/v1/messages")
        func render(_ e: GatewayError, _ headers: HTTPFields = [:]) -> Response {
            e.response(body: anthropic ? e.anthropicBody : e.openAIBody, headers: headers)
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as GatewayError {
            response = render(error)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            if let methods = routes[path] {
                var headers = HTTPFields()
                headers[.allow] = methods.map(\.rawValue).joined(separator: ", ")
                response = render(GatewayError.methodNotAllowed(method: request.method.rawValue, path: path), headers)
            } else {
                response = render(GatewayError.notFound(path: path))
            }
        } catch let error as HTTPError {
            response = render(GatewayError(status: Int(error.status.code), type: "invalid_request_error", code: "http_error",
                                           message: error.body ?? error.status.reasonPhrase))
        } catch {
            context.logger.error("Unhandled error", metadata: ["error.type": "\(type(of: error))", "request.id": "\(context.requestID)"])
            response = render(GatewayError.internalError("unexpected \(type(of: error))"))
        }
        response.headers[.requestID] = context.requestID
        return response
    }

    /// The client's `x-request-id` when it is short and printable, else a new one.
    static func requestID(from request: Request) -> String {
        if let given = request.headers[.requestID], !given.isEmpty, given.utf8.count <= 128,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return newRequestID()
    }
}

/// `req_` + 24 hex digits from the system generator.
func newRequestID() -> String {
    var g = SystemRandomNumberGenerator()
    let a = g.next() as UInt64, b = g.next() as UInt32
    let hex = String(a, radix: 16), hex2 = String(b, radix: 16)
    return "req_" + String(repeating: "0", count: 16 - hex.count) + hex + String(repeating: "0", count: 8 - hex2.count) + hex2
}

/// Resolves the client key (`Authorization: Bearer` or `x-api-key`) to an identity; 401 otherwise.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let keys: KeyTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = Self.presentedKey(request) else { throw GatewayError.missingKey }
        guard let identity = keys.identity(for: presented) else { throw GatewayError.invalidKey }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }

    /// The key from `Authorization: Bearer KEY` (scheme case-insensitive) or else `x-api-key`.
    static func presentedKey(_ request: Request) -> String? {
        if let auth = request.headers[.authorization], let key = bearerToken(auth) { return key }
        if let key = request.headers[.xAPIKey], !key.isEmpty { return key }
        return nil
    }

    static func bearerToken(_ header: String) -> String? {
        var utf8 = Substring(header).utf8
        let scheme = "bearer".utf8
        guard utf8.count > scheme.count,
              zip(utf8.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
              utf8.dropFirst(scheme.count).first == UInt8(ascii: " ") else { return nil }
        utf8 = utf8.dropFirst(scheme.count + 1)
        while let c = utf8.first, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { utf8 = utf8.dropFirst() }
        while let c = utf8.last, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { utf8 = utf8.dropLast() }
        return utf8.isEmpty ? nil : String(Substring(utf8))
    }
}

/// The static keys of the configuration, by key.
struct KeyTable: Sendable {
    private let byKey: [String: Identity]

    init(_ auth: AuthConfig) {
        var table: [String: Identity] = [:]
        for k in auth.keys { table[k.key] = Identity(name: k.name, allowedModels: k.models) }
        if let master = auth.masterKey { table[master] = Identity(name: "master", isMaster: true) }
        byKey = table
    }

    func identity(for key: String) -> Identity? { byKey[key] }
}
