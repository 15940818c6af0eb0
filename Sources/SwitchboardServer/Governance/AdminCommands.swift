import Foundation
import SwitchboardCore
import SwitchboardStore

/// The key and team operations of the admin API, for the `switchboard keys` and `switchboard teams` commands,
/// which work on the configured storage directly (a running gateway sees their changes within `auth.key_cache_s`).
/// Their changes are audited with the actor `cli`.
public enum AdminCommand: Sendable {
    case createKey(JSONValue)
    case listKeys(team: String?, includeRevoked: Bool)
    case showKey(String)
    case updateKey(String, JSONValue)
    case revokeKey(String)
    case rotateKey(String)
    case createTeam(JSONValue)
    case listTeams
    case showTeam(String)
    case updateTeam(String, JSONValue)
    case deleteTeam(String)

    /// Runs the command; the answer is what the admin API would send, or its error.
    /// `reserved`: whether a text is a key of the configuration or its master key (a supplied key may not be one).
    public func run(storage: any Storage, reserved: @escaping @Sendable (String) -> Bool = { _ in false }) async -> Result<JSONValue, GatewayError> {
        let service = KeyService(storage: storage, isReserved: reserved)
        do throws(GatewayError) {
            func spec(_ json: JSONValue) throws(GatewayError) -> KeySpec {
                do { return try GovernanceSpec.key(json: json, now: service.now()) } catch { throw KeyService.invalid(error) }
            }
            func teamSpec(_ json: JSONValue) throws(GatewayError) -> TeamSpec {
                do { return try GovernanceSpec.team(json: json) } catch { throw KeyService.invalid(error) }
            }
            switch self {
            case .createKey(let json):
                return .success(try await AdminAPI.createKey(json, service: service, storage: storage, by: .cli))
            case .listKeys(let team, let includeRevoked):
                let keys = try await service.keys().filter { (team == nil || $0.team == team) && (includeRevoked || $0.revokedAt == nil) }
                return .success(.array(keys.map(SuppliedKey.json)))
            case .showKey(let idOrName):
                return .success(await AdminAPI.keyJSON(try await service.key(idOrName: idOrName), storage: storage))
            case .updateKey(let idOrName, let json):
                let key = try await service.key(idOrName: idOrName)
                return .success(await AdminAPI.keyJSON(try await service.update(key.id, try spec(json), by: .cli), storage: storage))
            case .revokeKey(let idOrName):
                return .success(SuppliedKey.json(try await service.revoke(try await service.key(idOrName: idOrName).id, by: .cli)))
            case .rotateKey(let idOrName):
                let (key, text) = try await service.rotate(try await service.key(idOrName: idOrName).id, by: .cli)
                return .success(await AdminAPI.keyJSON(key, storage: storage, text: text))
            case .createTeam(let json):
                return .success(GovernanceSpec.json(try await service.createTeam(try teamSpec(json), by: .cli)))
            case .listTeams:
                return .success(.array(try await service.teams().map(GovernanceSpec.json)))
            case .showTeam(let name):
                let team = try await service.team(name)
                var o = GovernanceSpec.json(team).object ?? [:]
                o["spend"] = await AdminAPI.spendJSON("team:" + name, storage: storage)
                return .success(.object(o))
            case .updateTeam(let name, let json):
                return .success(GovernanceSpec.json(try await service.updateTeam(name, try teamSpec(json), by: .cli)))
            case .deleteTeam(let name):
                try await service.deleteTeam(name, by: .cli)
                return .success(.object(["name": .string(name), "deleted": true]))
            }
        } catch {
            return .failure(error)
        }
    }
}
