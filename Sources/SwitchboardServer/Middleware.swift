import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore
import Synchronization

/// Outermost middleware: gives every request an id, turns every error into a JSON error response (unknown paths
/// 404, wrong methods 405, never a bare 500), and puts `x-request-id` on every response.
struct FrontMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    /// Paths the gateway serves and their methods, to tell 404 from 405.
    let routes: [String: [HTTPRequest.Method]]
    /// `logging.access_log`: one info line per request.
    var accessLog = false

    /// The work before and after `next` is in functions of its own (`@inline(never)`): this frame stays allocated for
    /// the whole request, on the deepest chain of its task's memory, and is kept small.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let context = Self.identified(request, context)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = rendered(error, request, context)
        }
        finish(&response, request, context, started: started)
        return response
    }

    /// The context with the request's id, which every line logged about the request carries.
    @inline(never)
    static func identified(_ request: Request, _ context: Context) -> Context {
        var context = context
        context.requestID = requestID(from: request)
        context.logger[metadataKey: "request.id"] = .string(context.requestID)
        return context
    }

    /// Any error as a JSON error response: on the Anthropic routes in Anthropic's shape, everywhere else in OpenAI's.
    @inline(never)
    func rendered(_ error: any Error, _ request: Request, _ context: Context) -> Response {
        let anthropic = request.uri.path.hasPrefix("/v1/messages")
        func render(_ e: GatewayError, _ headers: HTTPFields = [:]) -> Response {
            e.response(body: anthropic ? e.anthropicBody : e.openAIBody, headers: headers)
        }
        switch error {
        case let error as GatewayError:
            return render(error)
        case let error as HTTPError where error.status == .notFound:
            let path = request.uri.path
            if let methods = Self.methods(for: path, in: routes) {
                var headers = HTTPFields()
                headers[.allow] = methods.map(\.rawValue).joined(separator: ", ")
                return render(GatewayError.methodNotAllowed(method: request.method.rawValue, path: path), headers)
            }
            // `/chat/completions` for `/v1/chat/completions`: an SDK whose base URL lacks `/v1`.
            let hint = routes["/v1" + path] != nil ? "/v1" + path : nil
            return render(GatewayError.notFound(path: path, didYouMean: hint))
        case let error as HTTPError:
            return render(GatewayError(.forStatus(Int(error.status.code)), error.body ?? error.status.reasonPhrase))
        default:
            context.logger.error("Unhandled error", metadata: ["error.type": "\(type(of: error))", "request.id": "\(context.requestID)"])
            return render(GatewayError.internalError("unexpected \(type(of: error))"))
        }
    }

    /// `x-request-id` on the response, and the access log's line.
    @inline(never)
    func finish(_ response: inout Response, _ request: Request, _ context: Context, started: ContinuousClock.Instant) {
        response.headers[.requestID] = context.requestID
        if accessLog {
            // The status and the time to the response head (a stream goes on after this).
            context.logger.info("Request", metadata: [
                "request.id": "\(context.requestID)", "http.method": "\(request.method.rawValue)", "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)", "duration_ms": "\(String(format: "%.3f", Exchange.ms(ContinuousClock.now - started)))",
            ])
        }
    }

    /// The methods of the route `path` matches: exactly, or a pattern whose `*` segments match any one segment.
    static func methods(for path: String, in routes: [String: [HTTPRequest.Method]]) -> [HTTPRequest.Method]? {
        if let exact = routes[path] { return exact }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for (pattern, methods) in routes where pattern.contains("*") {
            let p = pattern.split(separator: "/", omittingEmptySubsequences: false)
            if p.count == segments.count, zip(p, segments).allSatisfy({ $0 == "*" ? !$1.isEmpty : $0 == $1 }) { return methods }
        }
        return nil
    }

    /// The client's `x-request-id` when it is short and printable, else a new one.
    static func requestID(from request: Request) -> String {
        if let given = request.headers.value(.requestID), !given.isEmpty, given.utf8.count <= 128,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return newRequestID()
    }
}

/// `req_` + 24 hex digits: the process's count of ids so far, scrambled from two random starts drawn once
/// (SplitMix64 is one-to-one on its state, so no two ids of a process are the same; with random starts, no two
/// processes' either, short of a 1 in 2^64 chance). No system call per request, as drawing from the system's
/// generator each time was; the ids are no secret (a client may send its own `x-request-id`).
func newRequestID() -> String {
    let n = RequestIDs.count.wrappingAdd(1, ordering: .relaxed).oldValue &* 0x9E37_79B9_7F4A_7C15
    var a = SplitMix64(seed: RequestIDs.starts.0 &+ n), b = SplitMix64(seed: RequestIDs.starts.1 &+ n)
    let high = a.next(), low = UInt32(truncatingIfNeeded: b.next())
    return String(unsafeUninitializedCapacity: 28) { out in
        for (i, c) in "req_".utf8.enumerated() { out[i] = c }
        for i in 0..<16 { out[4 + i] = KeyHash.hexDigits[Int((high >> UInt64(60 - 4 * i)) & 0xF)] }
        for i in 0..<8 { out[20 + i] = KeyHash.hexDigits[Int((low >> UInt32(28 - 4 * i)) & 0xF)] }
        return 28
    }
}

private enum RequestIDs {
    static let count = Atomic<UInt64>(0)
    static let starts: (UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next(), g.next())
    }()
}

/// Resolves the client key (`Authorization: Bearer` or `x-api-key`) to an identity; 401 otherwise.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let keys: KeyDirectory
    var metrics: GatewayMetrics? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.identity = try await authenticate(request, context)
        return try await next(request, context)
    }

    /// The caller's identity, or the error that refuses it. Apart from `handle`, whose async frame stays allocated
    /// for the whole request (and on the connection's task after it): the key's records are not kept in it.
    @inline(never)
    func authenticate(_ request: Request, _ context: Context) async throws -> Identity {
        guard let presented = Self.presentedKey(request) else { throw GatewayError.missingKey }
        let resolution: KeyResolution
        switch keys.lookup(presented) {
        case .decided(let known):
            resolution = known   // a static or cached key: no suspension
        case .fetch(let id, let secret, let t):
            do {
                resolution = try await keys.fetch(id: id, secret: secret, at: t)
            } catch {
                context.logger.error("Key lookup failed: storage unreachable", metadata: ["error.type": "\(type(of: error))"])
                throw GatewayError(.storageUnavailable,
                                   "Your key could not be checked: storage is not reachable.", retryAfterSeconds: 1)
            }
        }
        switch resolution {
        case .identity(let identity):
            // A key held to networks (`allowed_ips`) works only from them; an address the gateway cannot tell is outside.
            if !identity.allowedIPs.isEmpty, !(context.clientAddress.map { identity.allowedIPs.contains(address: $0) } ?? false) {
                metrics?.refusedAtEdge(GatewayError.Code.ipNotAllowed.name)
                context.logger.notice("Key used from an address it is not allowed from", metadata: [
                    "key": "\(identity.name)", "client.address": "\(context.clientAddress ?? "unknown")"])
                throw GatewayError(.ipNotAllowed, "This key may not be used from this address.")
            }
            return identity
        case .refused(let why):
            throw GatewayError(.invalidAPIKey, why)
        case .unknown:
            throw GatewayError.invalidKey
        }
    }

    /// The key from `Authorization: Bearer KEY` (scheme case-insensitive) or else `x-api-key`.
    static func presentedKey(_ request: Request) -> String? {
        if let auth = request.headers.value(.authorization), let key = bearerToken(auth) { return key }
        if let key = request.headers.value(.xAPIKey), !key.isEmpty { return key }
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
