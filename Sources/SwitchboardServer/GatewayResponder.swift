import Hummingbird

/// What answers the gateway's requests: its router, with the client API's busiest routes (`POST` to
/// `/v1/chat/completions`, `/v1/embeddings` and `/v1/messages`) found first in a table by their exact path.
///
/// Those run the same middleware, in the same order (`ClientMiddleware`, which the router's `/v1` routes are built
/// from too), and the same handlers (`ClientRoutes.direct`) as through the router, which still has them for any other
/// spelling of their paths. What the table leaves out is the router's own work on every request: the path split and
/// walked through its trie, a responder around each middleware layer, and the context copied between them.
public struct GatewayResponder: HTTPResponder {
    public typealias Context = GatewayRequestContext
    typealias Handler = @Sendable (Request, Context) async throws -> Response

    let router: RouterResponder<Context>
    /// `POST` routes by their exact path, each through the client API's middleware.
    let direct: [String: Handler]

    public func respond(to request: Request, context: Context) async throws -> Response {
        if request.method == .post, let handler = direct[request.uri.path] { return try await handler(request, context) }
        return try await router.respond(to: request, context: context)
    }
}

/// The middleware a `/v1` request passes through, in this order (DESIGN §3): request id and JSON errors (`FrontMiddleware`),
/// the web firewall when `waf` is on (`EdgeMiddleware`), the key (`AuthMiddleware`), its role (`RoleMiddleware`).
/// One value of each: the router's and the direct routes' share them (the firewall's record of failed keys among them).
struct ClientMiddleware: Sendable {
    let front: FrontMiddleware
    let edge: EdgeMiddleware?
    let auth: AuthMiddleware
    let role = RoleMiddleware(.user, .admin)

    /// Puts the middleware in front of every route of `router`, and the key's checks in front of its `/v1` group.
    func add(to router: Router<GatewayRequestContext>) -> RouterGroup<GatewayRequestContext> {
        router.add(middleware: front)
        if let edge { router.add(middleware: edge) }
        return router.group("v1").add(middleware: auth).add(middleware: role)
    }

    /// `handler` behind the same middleware, without the router.
    func direct(_ handler: @escaping GatewayResponder.Handler) -> GatewayResponder.Handler {
        { request, context in
            try await front.handle(request, context: context) { request, context in
                guard let edge else { return try await checked(request, context, handler) }
                return try await edge.handle(request, context: context) { try await checked($0, $1, handler) }
            }
        }
    }

    private func checked(_ request: Request, _ context: GatewayRequestContext, _ handler: GatewayResponder.Handler) async throws -> Response {
        try await auth.handle(request, context: context) { request, context in
            try await role.handle(request, context: context, next: handler)
        }
    }
}
