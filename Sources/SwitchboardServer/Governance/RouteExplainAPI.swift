import Hummingbird
import SwitchboardCore

/// `POST /admin/route/explain`: where a request would go and why (`RouteExplainer`), against the running gateway's
/// rules and its deployments' health now. The body is the request as a client would send it; `api` (`chat`,
/// `messages`, `embeddings`; default `chat`) says which endpoint, `key` (a key from the configuration by name, or a
/// managed key by id or name) whose request it is, and the request's own headers are the ones rules see. Admin role.
enum RouteExplainAPI {
    static func add(to admin: RouterGroup<GatewayRequestContext>, explainer: RouteExplainer, config: GatewayConfig, service: KeyService, limit: Int) {
        admin.group("route").add(middleware: RoleMiddleware(.admin)).post("explain") { request, _ in
            let p = request.uri.queryParameters
            let apiName = p.get("api") ?? "chat"
            guard let api = RouteExplainer.API(rawValue: apiName) else {
                throw GatewayError.invalidParameter("api", "api: expected one of chat, messages, embeddings, found \"\(apiName)\"")
            }
            let identity = try await Self.identity(p.get("key"), config: config, service: service)
            let body = try await readBody(request, limit: limit)
            return jsonResponse(try explainer.explain(body: body, api: api, identity: identity, headers: request.headers).jsonText)
        }
    }

    /// The identity whose request is explained: a configured key by name, a managed key by id or name (with its team),
    /// or, without `key`, a caller that may use every model.
    static func identity(_ key: String?, config: GatewayConfig, service: KeyService) async throws(GatewayError) -> Identity {
        guard let key else { return Identity(name: "explain") }
        if let k = config.auth.keys.first(where: { $0.name == key }) { return Identity(name: k.name, allowedModels: k.models) }
        let record = try await service.key(idOrName: key)
        let team: TeamRecord?
        if let name = record.team { team = try await service.team(name) } else { team = nil }
        return Identity(key: record, team: team)
    }
}
