import Foundation
import Synchronization
import SwitchboardCore
import SwitchboardStore

/// Who owns a file or a batch, as stored: `key:ID` (a managed key), `static:NAME` (a key of the configuration) or
/// `master`; and the identity a batch's lines are served with, rebuilt from storage when they run (so a batch
/// survives a restart, and a key revoked meanwhile fails its remaining lines).
enum BatchOwner {
    static func of(_ identity: Identity) -> String {
        if identity.isMaster { return "master" }
        if let id = identity.keyID { return "key:" + id }
        return "static:" + identity.name
    }

    /// Whether `identity` may see what `owner` owns: its own, or everything for the master key and admins.
    static func canSee(_ identity: Identity, _ owner: String) -> Bool {
        identity.has(.admin) || of(identity) == owner
    }

    /// The owner filter of a listing: nil (all) for the master key and admins.
    static func filter(_ identity: Identity) -> String? {
        identity.has(.admin) ? nil : of(identity)
    }
}

/// Rebuilds batch owners' identities, cached for a few seconds (a key revoked elsewhere takes effect within that time).
final class BatchIdentities: Sendable {
    enum Resolution: Sendable {
        case identity(Identity)
        /// The key may not be used any more: why.
        case refused(String)
    }

    private let storage: any Storage
    private let auth: AuthConfig
    private let now: @Sendable () -> Double
    private let ttl: Double
    private let cache = Mutex<[String: (Resolution, Double)]>([:])

    init(storage: any Storage, auth: AuthConfig, now: @escaping @Sendable () -> Double, ttl: Double = 5) {
        self.storage = storage
        self.auth = auth
        self.now = now
        self.ttl = ttl
    }

    /// The identity for `owner`, in the `batch` priority class.
    func resolve(_ owner: String) async throws -> Resolution {
        let t = now()
        if let (cached, at) = cache.withLock({ $0[owner] }), t - at <= ttl { return cached }
        let resolution = try await lookUp(owner, at: t)
        cache.withLock { c in
            if c.count > 10_000 { c.removeAll(keepingCapacity: true) }
            c[owner] = (resolution, t)
        }
        return resolution
    }

    private func lookUp(_ owner: String, at t: Double) async throws -> Resolution {
        var identity: Identity
        if owner == "master" {
            guard auth.masterKey != nil else { return .refused("The master key is no longer configured.") }
            identity = Identity(name: "master", isMaster: true, roles: Role.allCases)
        } else if owner.hasPrefix("static:") {
            let name = String(owner.dropFirst("static:".count))
            guard let key = auth.keys.first(where: { $0.name == name }) else {
                return .refused("The API key '\(name)' is no longer configured.")
            }
            // As KeyDirectory makes it: its limits and budgets are kept under the same scope as its own requests'.
            identity = Identity(name: key.name, allowedModels: key.models, limits: key.limits)
            identity.staticScope = "static:" + key.name
        } else if owner.hasPrefix("key:") {
            let id = String(owner.dropFirst("key:".count))
            guard let key = try await storage.key(id: id) else { return .refused("The API key that created this batch no longer exists.") }
            if let why = key.refusal(at: t) { return .refused(why) }
            let team = try await key.team.asyncFlatMap { try await storage.team(name: $0) }
            identity = Identity(key: key, team: team)
        } else {
            return .refused("The batch's owner is unknown.")
        }
        identity.priority = .batch
        return .identity(identity)
    }
}
