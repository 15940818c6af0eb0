import Crypto
import Foundation
import Synchronization
import SwitchboardCore
import SwitchboardStore

/// Salted SHA-256 of a key's secret: the only form in which a managed key is stored.
enum KeyHash {
    static func hash(secret: String, salt: String) -> String { hex(digest(secret: secret, salt: salt)) }

    static func digest(secret: String, salt: String) -> SHA256.Digest {
        var h = SHA256()
        var (salt, secret) = (salt, secret)
        salt.withUTF8 { h.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        secret.withUTF8 { h.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return h.finalize()
    }

    /// Lower-case hex, two digits a byte (this runs for every request of a managed key: no `String(format:)`).
    static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func newSalt() -> String {
        var g = SystemRandomNumberGenerator()
        return hex((0..<16).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// Compares in time independent of where the texts differ: the digest's hex digits against the stored ones as
    /// they are made (this runs for every request of a managed key: no texts or arrays built for it).
    static func matches(secret: String, _ key: KeyRecord) -> Bool {
        let stored = key.secretHash.utf8
        guard stored.count == 2 * SHA256.byteCount else { return false }
        var diff: UInt8 = 0
        var i = stored.startIndex
        for b in digest(secret: secret, salt: key.salt) {
            diff |= hexDigits[Int(b >> 4)] ^ stored[i]
            i = stored.index(after: i)
            diff |= hexDigits[Int(b & 0x0F)] ^ stored[i]
            i = stored.index(after: i)
        }
        return diff == 0
    }
}

/// What presenting a key yields.
enum KeyResolution: Sendable {
    case identity(Identity)
    /// A managed key that exists but may not be used (revoked, expired): the message says why.
    case refused(String)
    case unknown
}

/// Resolves presented keys to identities: the master key and the configuration's keys from a table built once,
/// managed keys from storage through a small cache (entries live `ttl` seconds, so a key revoked or changed by
/// another replica or the CLI takes effect within that time; changes through this process's admin API at once).
final class KeyDirectory: Sendable {
    private struct Entry {
        var key: KeyRecord?
        /// The key's identity (with its team's limits), made once per fetch.
        var identity: Identity?
        var fetched: Double
        /// The secret last found to match the key's hash: the same text again is compared as it is, not hashed
        /// again (kept as long as the entry, `ttl` seconds; the configuration's keys are kept as they are too).
        var verified: String?
    }

    private let staticKeys: [String: Identity]
    /// The static keys of the configuration a reload put in force (nil: still those of the start).
    private let reloadedStaticKeys = Mutex<[String: Identity]?>(nil)
    private let storage: any Storage
    private let cache = Mutex<[String: Entry]>([:])
    let ttl: Double
    let maxEntries = 100_000
    let now: @Sendable () -> Double

    init(auth: AuthConfig, storage: any Storage, ttl: Double = 5, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        var table: [String: Identity] = [:]
        for k in auth.keys {
            var identity = Identity(name: k.name, allowedModels: k.models, limits: k.limits)
            identity.staticScope = "static:" + k.name
            table[k.key] = identity
        }
        if let master = auth.masterKey { table[master] = Identity(name: "master", isMaster: true, roles: Role.allCases) }
        staticKeys = table
        self.storage = storage
        self.ttl = ttl
        self.now = now
    }

    /// What `presented` resolves to when no storage is needed (a static key, a cached one: `decided`, without a
    /// suspension), or the stored key to `fetch`.
    enum Lookup {
        case decided(KeyResolution)
        case fetch(id: String, secret: String, at: Double)
    }

    /// Neither this nor `fetch` is inlined into `AuthMiddleware`, whose async frame lives as long as the request (and
    /// its task's memory as long as the connection): the key and team records read here would stay in it. Only a
    /// fetch from storage takes an async frame of its own, which holds the records.
    @inline(never)
    func lookup(_ presented: String) -> Lookup {
        if let identity = reloadedStaticKeys.withLock({ $0.map { $0[presented] } ?? staticKeys[presented] }) { return .decided(.identity(identity)) }
        // Switchboard's own form by its id; a supplied text by the id drawn from it (garbage never reaches storage).
        guard let (id, secret) = SuppliedKey.lookup(presented) else { return .decided(.unknown) }
        let t = now()
        guard let entry = cache.withLock({ $0[id] }), t - entry.fetched <= ttl else { return .fetch(id: id, secret: secret, at: t) }
        if let verified = entry.verified, Self.same(verified, secret) { return .decided(Self.decide(entry, at: t)) }
        guard let key = entry.key, KeyHash.matches(secret: secret, key) else { return .decided(.unknown) }
        cache.withLock { c in if c[id]?.fetched == entry.fetched { c[id]?.verified = secret } }
        return .decided(Self.decide(entry, at: t))
    }

    @inline(never)
    func fetch(id: String, secret: String, at t: Double) async throws -> KeyResolution {
        let key = try await storage.key(id: id)
        let team = try await key?.team.asyncFlatMap { try await storage.team(name: $0) }
        let matches = key.map { KeyHash.matches(secret: secret, $0) } ?? false
        let entry = Entry(key: key, identity: key.map { Identity(key: $0, team: team) }, fetched: t, verified: matches ? secret : nil)
        cache.withLock { c in
            if c.count >= maxEntries { c.removeAll(keepingCapacity: true) }
            c[id] = entry
        }
        return matches ? Self.decide(entry, at: t) : .unknown
    }

    /// A key whose secret matched: its identity, or why it may not be used now.
    private static func decide(_ entry: Entry, at t: Double) -> KeyResolution {
        guard let key = entry.key, let identity = entry.identity else { return .unknown }
        if let why = key.refusal(at: t) { return .refused(why) }
        return .identity(identity)
    }

    /// Whether two texts are the same, in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a.utf8, b.utf8) { diff |= x ^ y }
        return diff == 0
    }

    /// Whether `text` is the master key or a key of the configuration (a supplied key may not repeat one).
    func isStatic(_ text: String) -> Bool { staticKeys[text] != nil }

    /// The static keys of a reloaded configuration: added ones authenticate from now on, removed ones no longer do.
    func replaceStaticKeys(_ auth: AuthConfig) {
        let fresh = KeyDirectory(auth: auth, storage: storage, ttl: ttl, now: now).staticKeys
        reloadedStaticKeys.withLock { $0 = fresh }
    }

    /// Forgets cached keys (all of a team's when `team` is given).
    func invalidate(keyID: String? = nil, team: String? = nil) {
        cache.withLock { c in
            if let keyID { c[keyID] = nil }
            if let team { c = c.filter { $0.value.key?.team != team } }
        }
    }
}

extension Optional {
    func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}

/// Creates, changes, revokes and rotates managed keys and teams: the one place the admin API and the CLI go
/// through, so every change is audited here (after it succeeded: `Auditor`). Errors are `GatewayError`s with the
/// admin API's statuses.
struct KeyService: Sendable {
    let storage: any Storage
    /// Told about every change (the gateway's key cache).
    var onChange: @Sendable (_ keyID: String?, _ team: String?) -> Void = { _, _ in }
    var now: @Sendable () -> Double = { Date().timeIntervalSince1970 }
    /// Writes the audit log (nil: one over `storage` with its own logger).
    var auditor: Auditor?
    /// Whether a text is already a key outside storage (the configuration's keys, the master key).
    var isReserved: @Sendable (String) -> Bool = { _ in false }

    var audit: Auditor { auditor ?? Auditor(storage: storage, now: now) }

    /// Every problem of a spec in one 400; `param` is the first problem's key path.
    static func invalid(_ problems: ConfigError) -> GatewayError {
        let path = problems.problems.first?.path ?? ""
        return GatewayError(.invalidParameter,
                            problems.problems.map(\.description).joined(separator: "; "), param: path.isEmpty ? nil : path)
    }

    static func notFound(_ what: String) -> GatewayError {
        GatewayError(.notFound, "No \(what).")
    }

    static func conflict(_ e: StorageError) -> GatewayError {
        GatewayError(.conflict, "Conflict: \(e.description).")
    }

    func storageCall<T>(_ body: () async throws -> T) async throws(GatewayError) -> T {
        do {
            return try await body()
        } catch let e as StorageError {
            if case .conflict = e { throw Self.conflict(e) }
            throw GatewayError(.storageError, "Storage error: \(e.description).")
        } catch let e as GatewayError {
            throw e
        } catch {
            throw GatewayError.storageUnavailable
        }
    }

    func checkTeam(_ spec: KeySpec) async throws(GatewayError) {
        if case .some(.some(let team)) = spec.team {
            let exists = try await storageCall { try await storage.team(name: team) } != nil
            if !exists {
                throw GatewayError(.invalidParameter,
                                   "team: no team named \"\(team)\"; create it first.", param: "team")
            }
        }
    }

    // MARK: Keys

    /// A new key and its text (shown once).
    func create(_ spec: KeySpec, by actor: AuditActor) async throws(GatewayError) -> (KeyRecord, String) {
        guard let name = spec.name else {
            throw GatewayError(.missingParameter, "Missing required parameter: 'name'.", param: "name")
        }
        try await checkTeam(spec)
        let t = now()
        for _ in 0..<5 {
            let id = KeyText.random(KeyText.idLength, alphabet: KeyText.idAlphabet)
            let secret = KeyText.random(KeyText.secretLength, alphabet: KeyText.secretAlphabet)
            let salt = KeyHash.newSalt()
            var key = KeyRecord(id: id, name: name, createdAt: t, secretHash: KeyHash.hash(secret: secret, salt: salt), salt: salt)
            spec.apply(to: &key)
            if let e = key.expiresAt, e <= t {
                throw GatewayError(.invalidParameter, "expires_at: must be in the future.", param: "expires_at")
            }
            if try await storageCall({ try await storage.key(id: id) }) != nil { continue }
            try await storageCall { try await storage.insertKey(key) }
            onChange(id, nil)
            await audit.record(.keyCreate, .key(key), by: actor, detail: ["fields": Auditor.fields(GovernanceSpec.json(key))])
            return (key, KeyText.make(id: id, secret: secret))
        }
        throw GatewayError.internalError("could not draw a free key id")
    }

    func key(_ id: String) async throws(GatewayError) -> KeyRecord {
        guard KeyText.isValidID(id), let key = try await storageCall({ try await storage.key(id: id) }) else { throw Self.notFound("key with id '\(id)'") }
        return key
    }

    /// A key by id, or by name among keys that are not revoked (CLI convenience).
    func key(idOrName: String) async throws(GatewayError) -> KeyRecord {
        if KeyText.isValidID(idOrName), let key = try await storageCall({ try await storage.key(id: idOrName) }) { return key }
        let matches = try await storageCall { try await storage.keys() }.filter { $0.name == idOrName && $0.revokedAt == nil }
        guard let key = matches.first else { throw Self.notFound("key with id or name '\(idOrName)'") }
        return key
    }

    func keys() async throws(GatewayError) -> [KeyRecord] { try await storageCall { try await storage.keys() } }

    func update(_ id: String, _ spec: KeySpec, by actor: AuditActor) async throws(GatewayError) -> KeyRecord {
        var key = try await key(id)
        let old = key
        guard key.revokedAt == nil else {
            throw GatewayError(.keyRevoked, "The key '\(id)' is revoked; it cannot be changed.")
        }
        try await checkTeam(spec)
        spec.apply(to: &key)
        key.updatedAt = now()
        try await storageCall { try await storage.updateKey(key) }
        onChange(id, nil)
        await audit.record(.keyUpdate, .key(key), by: actor,
                           detail: ["changed": Auditor.changes(from: GovernanceSpec.json(old), to: GovernanceSpec.json(key))])
        return key
    }

    /// Revokes a key; one already revoked is left as it is (and nothing is audited: nothing changed).
    func revoke(_ id: String, by actor: AuditActor) async throws(GatewayError) -> KeyRecord {
        var key = try await key(id)
        if key.revokedAt == nil {
            key.revokedAt = now()
            key.updatedAt = key.revokedAt!
            try await storageCall { try await storage.updateKey(key) }
            onChange(id, nil)
            await audit.record(.keyRevoke, .key(key), by: actor)
        }
        return key
    }

    /// A new secret for the same key (same id, settings, limits and spend); the old text stops working at once.
    func rotate(_ id: String, by actor: AuditActor) async throws(GatewayError) -> (KeyRecord, String) {
        var key = try await key(id)
        guard key.revokedAt == nil else {
            throw GatewayError(.keyRevoked, "The key '\(id)' is revoked; it cannot be rotated.")
        }
        let secret = KeyText.random(KeyText.secretLength, alphabet: KeyText.secretAlphabet)
        key.salt = KeyHash.newSalt()
        key.secretHash = KeyHash.hash(secret: secret, salt: key.salt)
        key.updatedAt = now()
        try await storageCall { try await storage.updateKey(key) }
        onChange(id, nil)
        await audit.record(.keyRotate, .key(key), by: actor)
        return (key, KeyText.make(id: id, secret: secret))
    }

    // MARK: Teams

    func createTeam(_ spec: TeamSpec, by actor: AuditActor) async throws(GatewayError) -> TeamRecord {
        guard let name = spec.name else {
            throw GatewayError(.missingParameter, "Missing required parameter: 'name'.", param: "name")
        }
        var team = TeamRecord(name: name, createdAt: now())
        spec.apply(to: &team)
        try await storageCall { try await storage.insertTeam(team) }
        await audit.record(.teamCreate, .team(name), by: actor, detail: ["fields": Auditor.fields(GovernanceSpec.json(team))])
        return team
    }

    func team(_ name: String) async throws(GatewayError) -> TeamRecord {
        guard let team = try await storageCall({ try await storage.team(name: name) }) else { throw Self.notFound("team named '\(name)'") }
        return team
    }

    func teams() async throws(GatewayError) -> [TeamRecord] { try await storageCall { try await storage.teams() } }

    func updateTeam(_ name: String, _ spec: TeamSpec, by actor: AuditActor) async throws(GatewayError) -> TeamRecord {
        var team = try await team(name)
        let old = team
        if let newName = spec.name, newName != name {
            throw GatewayError(.invalidParameter, "name: a team cannot be renamed.", param: "name")
        }
        spec.apply(to: &team)
        team.updatedAt = now()
        try await storageCall { try await storage.updateTeam(team) }
        onChange(nil, name)
        await audit.record(.teamUpdate, .team(name), by: actor,
                           detail: ["changed": Auditor.changes(from: GovernanceSpec.json(old), to: GovernanceSpec.json(team))])
        return team
    }

    /// Deletes a team that no active key belongs to.
    func deleteTeam(_ name: String, by actor: AuditActor) async throws(GatewayError) {
        _ = try await team(name)
        let members = try await storageCall { try await storage.keys() }.filter { $0.team == name && $0.revokedAt == nil }
        guard members.isEmpty else {
            throw GatewayError(.teamInUse,
                               "The team '\(name)' still has \(members.count) active key(s); move or revoke them first.")
        }
        let deleted = try await storageCall { try await storage.deleteTeam(name: name) }
        onChange(nil, name)
        if deleted { await audit.record(.teamDelete, .team(name), by: actor) }
    }
}
