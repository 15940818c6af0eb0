import Crypto
import SwitchboardCore
import SwitchboardStore

/// A managed key whose text the operator supplies (keys issued by another gateway, kept so clients need not change
/// them). Its text is stored as every managed key's secret is, a salted SHA-256; its id — which a presented key is
/// looked up by — is drawn from a SHA-256 of the text, so the text finds its record without being stored. A supplied
/// text in Switchboard's own form (`sk-sb-ID_SECRET`, from another Switchboard) keeps its id and becomes an ordinary
/// managed key.
enum SuppliedKey {
    /// The rule a supplied text must meet: 20 to 256 characters, each printable ASCII other than the space.
    static let lengths = 20...256
    static let rule = "20 to 256 printable ASCII characters, no spaces or other whitespace"
    /// The mark of a supplied key's salt (the salt is never shown): its key hint cannot be drawn from its id.
    static let saltMark = "supplied:"

    /// Why `text` cannot be a supplied key, or nil.
    static func problem(_ text: String) -> String? {
        guard lengths.contains(text.utf8.count) else { return "must be \(rule); it has \(text.utf8.count) characters" }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return "must be \(rule)" }
        return nil
    }

    /// The id and the secret a presented text is checked with: Switchboard's own form as it is, any other text that
    /// meets the rule by its derived id and the whole text; nil for anything else (no storage look-up for it).
    static func lookup(_ text: String) -> (id: String, secret: String)? {
        if let parsed = KeyText.parse(text) { return parsed }
        return problem(text) == nil ? (id(for: text), text) : nil
    }

    /// 12 characters of [a-z0-9] from a SHA-256 of the text.
    static func id(for text: String) -> String {
        var h = SHA256()
        h.update(data: Array("switchboard supplied key\u{0}".utf8))
        h.update(data: Array(text.utf8))
        let alphabet = Array(KeyText.idAlphabet.utf8)
        return String(decoding: h.finalize().prefix(KeyText.idLength).map { alphabet[Int($0) % alphabet.count] }, as: UTF8.self)
    }

    static func isSupplied(_ key: KeyRecord) -> Bool { key.salt.hasPrefix(saltMark) }

    /// How the admin API shows a key: a supplied key's hint says so (its text is the operator's, not `sk-sb-ID_…`).
    static func json(_ key: KeyRecord) -> JSONValue {
        guard isSupplied(key), var o = GovernanceSpec.json(key).object else { return GovernanceSpec.json(key) }
        o["key_hint"] = "(supplied)"
        o["supplied"] = true
        return .object(o)
    }
}

extension KeyService {
    /// A new key whose text the operator supplies: checked against the rule (400 naming `key`) and against every key
    /// there is — managed, the configuration's, the master key (409) — then stored hashed and audited. The text is
    /// never returned: the caller has it.
    func create(_ spec: KeySpec, supplied text: String, by actor: AuditActor) async throws(GatewayError) -> KeyRecord {
        guard let name = spec.name else {
            throw GatewayError(.missingParameter, "Missing required parameter: 'name'.", param: "name")
        }
        if let why = SuppliedKey.problem(text) { throw GatewayError(.invalidParameter, "key: \(why).", param: "key") }
        if isReserved(text) {
            throw GatewayError(.conflict, "key: this text is already a key of the configuration (auth.keys or auth.master_key).", param: "key")
        }
        guard let (id, secret) = SuppliedKey.lookup(text) else { throw GatewayError(.invalidParameter, "key: must be \(SuppliedKey.rule).", param: "key") }
        try await checkTeam(spec)
        if let existing = try await storageCall({ try await storage.key(id: id) }) {
            throw GatewayError(.conflict, "key: this text is already the key '\(existing.id)'\(existing.revokedAt == nil ? "" : " (revoked)").", param: "key")
        }
        let t = now()
        // Switchboard's own form stays an ordinary managed key; any other text is marked as supplied.
        let salt = (KeyText.parse(text) == nil ? SuppliedKey.saltMark : "") + KeyHash.newSalt()
        var key = KeyRecord(id: id, name: name, createdAt: t, secretHash: KeyHash.hash(secret: secret, salt: salt), salt: salt)
        spec.apply(to: &key)
        if let e = key.expiresAt, e <= t {
            throw GatewayError(.invalidParameter, "expires_at: must be in the future.", param: "expires_at")
        }
        try await storageCall { try await storage.insertKey(key) }
        onChange(id, nil)
        await audit.record(.keyCreate, .key(key), by: actor, detail: ["fields": Auditor.fields(SuppliedKey.json(key)), "supplied": true])
        return key
    }
}
