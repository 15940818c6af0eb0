import Foundation
import SwitchboardCore

/// The audit log's table and filter, shared by the SQL storages.
enum AuditSchema {
    /// `collate` makes the id compare byte by byte (PostgreSQL's default collation may not), as paging expects.
    static func table(integer: String, collate: String = "") -> [String] {
        [
            """
            CREATE TABLE audit_log (
                id TEXT\(collate) NOT NULL PRIMARY KEY,
                at_ms \(integer) NOT NULL,
                actor TEXT NOT NULL,
                actor_key_id TEXT,
                action TEXT NOT NULL,
                target_kind TEXT NOT NULL,
                target_id TEXT NOT NULL,
                target_name TEXT,
                address TEXT,
                detail TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_log_at ON audit_log (at_ms, id)",
            "CREATE INDEX audit_log_target ON audit_log (target_id, at_ms)",
        ]
    }

    static let columns = "id, at_ms, actor, actor_key_id, action, target_kind, target_id, target_name, address, detail"

    /// The WHERE clause of `q` with numbered placeholders (a value may be named twice), and its values. `startsWith(column, placeholder)` spells a
    /// prefix test in the storage's dialect.
    static func whereClause(_ q: AuditQuery, placeholder: (Int) -> String,
                            startsWith: (String, String) -> String) -> (sql: String, binds: [LogBind]) {
        var clauses: [String] = [], binds: [LogBind] = []
        func bind(_ value: LogBind) -> String {
            binds.append(value)
            return placeholder(binds.count)
        }
        if let v = q.sinceMs { clauses.append("at_ms >= \(bind(.int(Int(v))))") }
        if let v = q.untilMs { clauses.append("at_ms < \(bind(.int(Int(v))))") }
        if let v = q.action { clauses.append(q.actionPrefix ? startsWith("action", bind(.text(v))) : "action = \(bind(.text(v)))") }
        if let v = q.actor {
            let p = bind(.text(v))
            clauses.append("(actor = \(p) OR actor_key_id = \(p))")
        }
        if let v = q.target {
            let p = bind(.text(v))
            clauses.append("(target_id = \(p) OR target_name = \(p))")
        }
        if let v = q.targetKind { clauses.append("target_kind = \(bind(.text(v)))") }
        if let c = q.before {
            let at = bind(.int(Int(c.atMs)))
            if let id = c.id { clauses.append("(at_ms < \(at) OR (at_ms = \(at) AND id < \(bind(.text(id)))))") } else { clauses.append("at_ms < \(at)") }
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), binds)
    }

    /// The detail column: the JSON object as text.
    static func detailText(_ e: AuditEntry) -> String { e.detail.jsonText }

    /// An entry read back from its columns; an unreadable detail becomes `{}` (the rest of the entry still counts).
    static func entry(id: String, atMs: Int64, actor: String, actorKeyID: String?, action: String, targetKind: String, targetID: String,
                      targetName: String?, address: String?, detail: String) -> AuditEntry {
        AuditEntry(id: id, atMs: atMs, actor: actor, actorKeyID: actorKeyID, action: action, targetKind: targetKind, targetID: targetID,
                   targetName: targetName, address: address, detail: JSONValue.parse(Data(detail.utf8)) ?? .object([:]))
    }
}
