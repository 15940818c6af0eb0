// The audit log: one entry per admin action that changed state (keys, teams, provider credentials, review
// decisions), kept in storage and read back through `GET /admin/audit`.
import Synchronization

/// What an admin did, by a stable dotted name. Stored as text: entries written by a later version may carry names
/// this one does not know, so `AuditEntry.action` is a `String`.
public enum AuditAction: String, Sendable, CaseIterable {
    case keyCreate = "key.create"
    case keyUpdate = "key.update"
    case keyRotate = "key.rotate"
    /// `DELETE /admin/keys/{id}` and `POST …/revoke` alike (a key is never deleted, only revoked).
    case keyRevoke = "key.revoke"
    case teamCreate = "team.create"
    case teamUpdate = "team.update"
    case teamDelete = "team.delete"
    /// A provider key stored (or replaced) through `/admin/credentials`.
    case credentialSet = "credential.set"
    case credentialDelete = "credential.delete"
    /// Human-review decisions.
    case reviewApprove = "review.approve"
    case reviewEdit = "review.edit"
    case reviewReject = "review.reject"

    /// The kind of target the action is about (`key.create` → `key`).
    public var targetKind: String { String(rawValue.prefix { $0 != "." }) }
}

/// One audit entry. `detail` is a JSON object of what changed: names, ids and changed fields that are not secret —
/// never a key's text, hash or salt, never a provider's API key.
public struct AuditEntry: Sendable, Equatable {
    /// Unique; within one process, later entries have larger ids (the tie-breaker of `atMs`).
    public var id: String
    /// When, in milliseconds since 1970.
    public var atMs: Int64
    /// Who: the admin key's name (`master` for the master key), or `cli` for the `switchboard keys`/`teams` commands.
    public var actor: String
    /// The managed admin key's id (nil for the master key and the CLI).
    public var actorKeyID: String?
    /// `AuditAction.rawValue`.
    public var action: String
    /// `key`, `team`, `credential`, `review`.
    public var targetKind: String
    /// The key's id, the team's name, the provider's name, the review's id.
    public var targetID: String
    /// The key's name (nil when the id is the name).
    public var targetName: String?
    /// The client's IP address (nil for the CLI).
    public var address: String?
    public var detail: JSONValue

    public init(id: String, atMs: Int64, actor: String, actorKeyID: String? = nil, action: String, targetKind: String, targetID: String,
                targetName: String? = nil, address: String? = nil, detail: JSONValue = .object([:])) {
        self.id = id
        self.atMs = atMs
        self.actor = actor
        self.actorKeyID = actorKeyID
        self.action = action
        self.targetKind = targetKind
        self.targetID = targetID
        self.targetName = targetName
        self.address = address
        self.detail = detail
    }

    private static let sequence = Atomic<UInt64>(0)

    /// A new id: this process's sequence number (so entries of one millisecond keep their order) and random
    /// characters (so replicas never collide).
    public static func newID() -> String {
        let n = sequence.add(1, ordering: .relaxed).newValue
        let digits = String(n, radix: 36)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits + KeyText.random(6, alphabet: KeyText.idAlphabet)
    }

    /// Orders newest first: by time, then by id.
    public static func newerFirst(_ a: AuditEntry, _ b: AuditEntry) -> Bool { (a.atMs, a.id) > (b.atMs, b.id) }
}

/// Where the next page of audit entries starts: entries strictly older than (`atMs`, `id`) in newest-first order;
/// without `id`, entries before `atMs`.
public struct AuditCursor: Sendable, Equatable {
    public var atMs: Int64
    public var id: String?

    public init(atMs: Int64, id: String? = nil) {
        self.atMs = atMs
        self.id = id
    }

    /// As `next_before` shows it: `MS:ID`.
    public var text: String { id.map { "\(atMs):\($0)" } ?? String(atMs) }

    /// `MS:ID` (a `next_before`); nil when `text` is not one.
    public init?(text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = Int64(parts[0]), ms >= 0, !parts[1].isEmpty,
              parts[1].utf8.allSatisfy({ KeyText.isIDCharacter($0) }) else { return nil }
        self.init(atMs: ms, id: String(parts[1]))
    }

    public func admits(_ e: AuditEntry) -> Bool {
        guard let id else { return e.atMs < atMs }
        return e.atMs < atMs || (e.atMs == atMs && e.id < id)
    }
}

/// A filter over the audit log (`GET /admin/audit`), newest first.
public struct AuditQuery: Sendable, Equatable {
    /// Milliseconds since 1970: `sinceMs` inclusive, `untilMs` exclusive.
    public var sinceMs: Int64?
    public var untilMs: Int64?
    /// An exact action, or every action under a prefix when `actionPrefix` is true (`key.` for `key.*`).
    public var action: String?
    public var actionPrefix = false
    /// The actor's name or key id.
    public var actor: String?
    /// The target's id or name.
    public var target: String?
    public var targetKind: String?
    public var before: AuditCursor?
    public var limit: Int

    public init(sinceMs: Int64? = nil, untilMs: Int64? = nil, action: String? = nil, actionPrefix: Bool = false, actor: String? = nil,
                target: String? = nil, targetKind: String? = nil, before: AuditCursor? = nil, limit: Int = 100) {
        self.sinceMs = sinceMs
        self.untilMs = untilMs
        self.action = action
        self.actionPrefix = actionPrefix
        self.actor = actor
        self.target = target
        self.targetKind = targetKind
        self.before = before
        self.limit = limit
    }

    /// Whether an entry passes the filter (the memory storage; SQL storages say the same in WHERE).
    public func matches(_ e: AuditEntry) -> Bool {
        if let sinceMs, e.atMs < sinceMs { return false }
        if let untilMs, e.atMs >= untilMs { return false }
        if let action, actionPrefix ? !e.action.hasPrefix(action) : e.action != action { return false }
        if let actor, e.actor != actor && e.actorKeyID != actor { return false }
        if let target, e.targetID != target && e.targetName != target { return false }
        if let targetKind, e.targetKind != targetKind { return false }
        if let before, !before.admits(e) { return false }
        return true
    }
}
