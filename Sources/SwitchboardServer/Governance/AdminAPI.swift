import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import SwitchboardCore
import SwitchboardStore

/// Lets a request through only when its identity has one of `roles` (the master key has every role); 403 otherwise.
struct RoleMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let roles: [Role]

    init(_ roles: Role...) { self.roles = roles }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let identity = context.identity, roles.contains(where: identity.has) else {
            let names = roles.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            throw GatewayError(.forbidden,
                               "This endpoint needs a key with the \(names) role.")
        }
        return try await next(request, context)
    }
}

/// `/admin/keys` and `/admin/teams`: managed keys and teams as JSON.
enum AdminAPI {
    static let maxBody = 64 << 10

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        jsonResponse(value.jsonText, status: status)
    }

    static func list(_ items: [JSONValue]) -> Response { json(.object(["object": "list", "data": .array(items)])) }

    /// The request body as JSON (an empty body is `{}`); 400 when it is not a JSON object.
    static func body(_ request: Request) async throws(GatewayError) -> JSONValue {
        let buffer = try await readBody(request, limit: maxBody)
        if buffer.readableBytes == 0 { return .object([:]) }
        guard let value = JSONValue.parse(Data(buffer.readableBytesView)), value.object != nil else {
            throw GatewayError.invalidJSON("expected a JSON object")
        }
        return value
    }

    static func keySpec(_ request: Request, now: Double) async throws(GatewayError) -> KeySpec {
        try keySpec(try await body(request), now: now)
    }

    static func keySpec(_ json: JSONValue, now: Double) throws(GatewayError) -> KeySpec {
        do { return try GovernanceSpec.key(json: json, now: now) } catch { throw KeyService.invalid(error) }
    }

    /// A new key's body without its `key` (the text the operator supplies, when it does): 400 naming `key` when it
    /// is there but not a string.
    static func suppliedKey(_ json: JSONValue) throws(GatewayError) -> (spec: JSONValue, key: String?) {
        guard var o = json.object, let value = o.removeValue(forKey: "key") else { return (json, nil) }
        guard let text = value.string else {
            throw GatewayError(.invalidParameter, "key: expected a string of \(SuppliedKey.rule).", param: "key")
        }
        return (.object(o), text)
    }

    /// Creates a key: with the text the body supplies (shown only as a hint), else a new one (its text shown once).
    static func createKey(_ json: JSONValue, service: KeyService, storage: any Storage, by actor: AuditActor) async throws(GatewayError) -> JSONValue {
        let (specJSON, supplied) = try suppliedKey(json)
        let spec = try keySpec(specJSON, now: service.now())
        if let supplied { return await keyJSON(try await service.create(spec, supplied: supplied, by: actor), storage: storage) }
        let (key, text) = try await service.create(spec, by: actor)
        return await keyJSON(key, storage: storage, text: text)
    }

    static func teamSpec(_ request: Request) async throws(GatewayError) -> TeamSpec {
        do { return try GovernanceSpec.team(json: try await body(request)) } catch let e as ConfigError { throw KeyService.invalid(e) } catch let e as GatewayError { throw e } catch { throw .invalidJSON("\(error)") }
    }

    /// A key with its spend so far in each budget period (and the key text when it was just made).
    static func keyJSON(_ key: KeyRecord, storage: any Storage, text: String? = nil) async -> JSONValue {
        var o = SuppliedKey.json(key).object ?? [:]
        if let text { o["key"] = .string(text) }
        o["spend"] = await spendJSON("key:" + key.id, storage: storage)
        return .object(o)
    }

    static func spendJSON(_ scope: String, storage: any Storage) async -> JSONValue {
        let today = BudgetCalendar.day(Date().timeIntervalSince1970)
        guard let ledger = try? await storage.spend(scope: scope, fromDay: today - 62) else { return .null }
        var o: [String: JSONValue] = [:]
        for p in BudgetPeriod.allCases { o[p.rawValue + "_usd"] = .double(ledger.spent(p, today: today)) }
        return .object(o)
    }

    static func add(to admin: RouterGroup<GatewayRequestContext>, service: KeyService, storage: any Storage) {
        let keys = admin.group("keys").add(middleware: RoleMiddleware(.admin))
        keys.post { request, context in
            json(try await createKey(try await body(request), service: service, storage: storage, by: AuditActor(context)), status: .created)
        }
        keys.get { request, _ in
            let team = request.uri.queryParameters.get("team")
            let includeRevoked = request.uri.queryParameters.get("include_revoked") == "true"
            let all = try await service.keys().filter { (team == nil || $0.team == team) && (includeRevoked || $0.revokedAt == nil) }
            return list(all.map(SuppliedKey.json))
        }
        keys.get(":id") { _, context in
            json(await keyJSON(try await service.key(context.parameters.get("id") ?? ""), storage: storage))
        }
        keys.patch(":id") { request, context in
            let id = context.parameters.get("id") ?? ""
            _ = try await service.key(id)
            return json(await keyJSON(try await service.update(id, try await keySpec(request, now: service.now()), by: AuditActor(context)),
                                      storage: storage))
        }
        keys.delete(":id") { _, context in
            json(SuppliedKey.json(try await service.revoke(context.parameters.get("id") ?? "", by: AuditActor(context))))
        }
        keys.post(":id/revoke") { _, context in
            json(SuppliedKey.json(try await service.revoke(context.parameters.get("id") ?? "", by: AuditActor(context))))
        }
        keys.post(":id/rotate") { _, context in
            let (key, text) = try await service.rotate(context.parameters.get("id") ?? "", by: AuditActor(context))
            return json(await keyJSON(key, storage: storage, text: text))
        }

        let teams = admin.group("teams").add(middleware: RoleMiddleware(.admin))
        teams.post { request, context in
            let team = try await service.createTeam(try await teamSpec(request), by: AuditActor(context))
            return json(GovernanceSpec.json(team), status: .created)
        }
        teams.get { _, _ in list(try await service.teams().map(GovernanceSpec.json)) }
        teams.get(":name") { _, context in
            let team = try await service.team(context.parameters.get("name") ?? "")
            var o = GovernanceSpec.json(team).object ?? [:]
            o["spend"] = await spendJSON("team:" + team.name, storage: storage)
            return json(.object(o))
        }
        teams.patch(":name") { request, context in
            json(GovernanceSpec.json(try await service.updateTeam(context.parameters.get("name") ?? "", try await teamSpec(request),
                                                                  by: AuditActor(context))))
        }
        teams.delete(":name") { _, context in
            let name = context.parameters.get("name") ?? ""
            try await service.deleteTeam(name, by: AuditActor(context))
            return json(.object(["name": .string(name), "deleted": true]))
        }
    }
}
