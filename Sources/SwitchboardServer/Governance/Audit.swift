import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

/// Who did an admin action, and from where.
public struct AuditActor: Sendable, Equatable {
    /// The admin key's name (`master` for the master key), or `cli`.
    public var name: String
    /// The managed admin key's id.
    public var keyID: String?
    /// The client's IP address (nil for the CLI, and in-process tests).
    public var address: String?

    public init(name: String, keyID: String? = nil, address: String? = nil) {
        self.name = name
        self.keyID = keyID
        self.address = address
    }

    /// The caller of an admin route (authenticated: the admin routes' middleware has set the identity).
    public init(_ context: GatewayRequestContext) {
        self.init(name: context.identity?.name ?? "unknown", keyID: context.identity?.keyID, address: context.clientAddress)
    }

    /// The `switchboard keys` and `switchboard teams` commands, which work on the storage directly.
    public static let cli = AuditActor(name: "cli")
}

/// What an admin action was about.
public struct AuditTarget: Sendable, Equatable {
    public var kind: String
    public var id: String
    public var name: String?

    public init(kind: String, id: String, name: String? = nil) {
        self.kind = kind
        self.id = id
        self.name = name
    }

    public static func key(_ k: KeyRecord) -> AuditTarget { AuditTarget(kind: "key", id: k.id, name: k.name) }
    public static func team(_ name: String) -> AuditTarget { AuditTarget(kind: "team", id: name) }
    public static func credential(_ provider: String) -> AuditTarget { AuditTarget(kind: "credential", id: provider) }
    /// A held request in the human-review queue, by its ticket id.
    public static func review(_ id: String) -> AuditTarget { AuditTarget(kind: "review", id: id) }
}

/// Writes audit entries. An entry is written after the action has succeeded, in a write of its own: when that write
/// fails the action stands (it has happened), and the failure is logged at error level with the action and target
/// and counted (`switchboard_audit_write_failures_total`) — never silent, never a secret in the log.
public struct Auditor: Sendable {
    let storage: any Storage
    var logger: Logger
    var now: @Sendable () -> Double
    /// Called once per entry that could not be written (the metric).
    var onFailure: @Sendable () -> Void

    public init(storage: any Storage, logger: Logger = Logger(label: "switchboard.audit"),
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }, onFailure: @escaping @Sendable () -> Void = {}) {
        self.storage = storage
        self.logger = logger
        self.now = now
        self.onFailure = onFailure
    }

    /// Records one action. `detail` holds names, ids and changed fields that are not secret: never a key's text,
    /// hash or salt, never a provider's API key.
    public func record(_ action: AuditAction, _ target: AuditTarget, by actor: AuditActor, detail: [String: JSONValue] = [:]) async {
        let entry = AuditEntry(id: AuditEntry.newID(), atMs: Int64((now() * 1000).rounded(.down)), actor: actor.name, actorKeyID: actor.keyID,
                               action: action.rawValue, targetKind: target.kind, targetID: target.id, targetName: target.name,
                               address: actor.address, detail: .object(detail))
        do {
            try await storage.insertAudit([entry])
        } catch {
            onFailure()
            logger.error("Audit entry could not be written; the action itself succeeded",
                         metadata: ["audit.action": "\(action.rawValue)", "audit.target": "\(target.kind):\(target.id)",
                                    "audit.actor": "\(actor.name)", "error.type": "\(type(of: error))"])
        }
    }

    /// Fields shown by the admin API that say nothing about what changed (times, the key's hint and id, spend).
    static let unchangedFields: Set<String> = ["id", "created_at", "updated_at", "key_hint", "spend", "status"]

    /// The fields of two JSON objects (as the admin API shows a key or team) that differ: `{field: {from, to}}`.
    static func changes(from old: JSONValue, to new: JSONValue) -> JSONValue {
        let a = old.object ?? [:], b = new.object ?? [:]
        var out: [String: JSONValue] = [:]
        for field in Set(a.keys).union(b.keys).subtracting(unchangedFields) where a[field] != b[field] {
            out[field] = .object(["from": a[field] ?? .null, "to": b[field] ?? .null])
        }
        return .object(out)
    }

    /// What a new key or team was made with: its fields as the admin API shows them, less the unchanging ones.
    static func fields(_ value: JSONValue) -> JSONValue {
        .object((value.object ?? [:]).filter { !unchangedFields.contains($0.key) && $0.key != "revoked_at" })
    }
}

/// `GET /admin/audit`: the audit log, newest first, filtered and paged. Admin role.
enum AuditAPI {
    /// A time as ISO 8601 or seconds since 1970, in milliseconds.
    static func timeMs(_ request: Request, _ name: String) throws(GatewayError) -> Int64? {
        guard let t = try LogsAPI.time(request, name) else { return nil }
        guard t >= 0, t < 1e13 else { throw LogsAPI.bad(name, "expected a time after 1970") }
        return Int64((t * 1000).rounded(.down))
    }

    static func query(_ request: Request) throws(GatewayError) -> AuditQuery {
        let p = request.uri.queryParameters
        let limitText = p.get("limit") ?? "100"
        guard let limit = Int(limitText), (1...1000).contains(limit) else { throw LogsAPI.bad("limit", "expected 1 to 1000, found \"\(limitText)\"") }
        var q = AuditQuery(sinceMs: try timeMs(request, "since"), untilMs: try timeMs(request, "until"), limit: limit)
        if let action = p.get("action") {
            if action.hasSuffix(".*") {
                q.action = String(action.dropLast())
                q.actionPrefix = true
            } else {
                q.action = action
            }
            guard !action.isEmpty, action != ".*" else { throw LogsAPI.bad("action", "expected an action such as key.create, or key.* for every key action") }
        }
        for (name, value) in [("actor", p.get("actor")), ("target", p.get("target")), ("target_kind", p.get("target_kind"))] {
            if let value, value.isEmpty { throw LogsAPI.bad(name, "expected a value, found an empty one") }
        }
        q.actor = p.get("actor")
        q.target = p.get("target")
        q.targetKind = p.get("target_kind")
        if let before = p.get("before") {
            if let cursor = AuditCursor(text: before) {
                q.before = cursor
            } else {
                do { q.before = try timeMs(request, "before").map { AuditCursor(atMs: $0) } } catch {
                    throw LogsAPI.bad("before", "expected the next_before of the previous page, or a time (ISO 8601 or seconds since 1970), found \"\(before)\"")
                }
            }
        }
        return q
    }

    static func json(_ e: AuditEntry) -> JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        let seconds = Double(e.atMs) / 1000
        let iso = GovernanceSpec.iso(seconds).replacingOccurrences(of: "Z", with: String(format: ".%03dZ", Int(e.atMs % 1000)))
        return .object([
            "id": .string(e.id), "at": .string(iso), "at_ms": .int(Int(e.atMs)), "actor": .string(e.actor), "actor_key_id": opt(e.actorKeyID),
            "action": .string(e.action), "target_kind": .string(e.targetKind), "target_id": .string(e.targetID), "target_name": opt(e.targetName),
            "address": opt(e.address), "detail": e.detail,
        ])
    }

    static func add(to admin: RouterGroup<GatewayRequestContext>, storage: any Storage) {
        admin.group("audit").add(middleware: RoleMiddleware(.admin)).get { request, _ in
            let q = try query(request)
            let entries: [AuditEntry]
            do { entries = try await storage.audit(q) } catch { throw GatewayError.storageUnavailable }
            var page: [String: JSONValue] = ["object": "list", "data": .array(entries.map(json))]
            // The next page: entries older than the last one shown (by time, then id: none is skipped or repeated).
            page["next_before"] = entries.count == q.limit ? .string(AuditCursor(atMs: entries.last!.atMs, id: entries.last!.id).text) : .null
            return AdminAPI.json(.object(page))
        }
    }
}
