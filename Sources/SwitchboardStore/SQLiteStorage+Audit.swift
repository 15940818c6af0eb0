// The audit log in SQLite: appending entries, reading them back filtered and paged, deleting old ones.
import SQLiteNIO
import SwitchboardCore

extension SQLiteStorage {
    public func insertAudit(_ entries: [AuditEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await writes.run {
            try await self.transaction {
                for e in entries {
                    _ = try await self.connection.query(
                        "INSERT INTO audit_log (\(AuditSchema.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [.text(e.id), .integer(Int(e.atMs)), .text(e.actor), Self.optionalText(e.actorKeyID), .text(e.action),
                         .text(e.targetKind), .text(e.targetID), Self.optionalText(e.targetName), Self.optionalText(e.address),
                         .text(AuditSchema.detailText(e))])
                }
            }
        }
    }

    public func audit(_ query: AuditQuery) async throws -> [AuditEntry] {
        // Numbered placeholders: a prefix test names its value twice.
        let (clause, values) = AuditSchema.whereClause(query, placeholder: { "?\($0)" }) { column, p in "substr(\(column), 1, length(\(p))) = \(p)" }
        let binds: [SQLiteData] = values.map {
            switch $0 {
            case .text(let t): .text(t)
            case .real(let d): .float(d)
            case .int(let n): .integer(n)
            }
        }
        let rows = try await connection.query(
            "SELECT \(AuditSchema.columns) FROM audit_log \(clause) ORDER BY at_ms DESC, id DESC LIMIT ?\(binds.count + 1)", binds + [.integer(max(query.limit, 0))])
        return rows.map { row in
            AuditSchema.entry(id: row.column("id")?.string ?? "", atMs: Int64(row.column("at_ms")?.integer ?? 0),
                              actor: row.column("actor")?.string ?? "", actorKeyID: row.column("actor_key_id")?.string,
                              action: row.column("action")?.string ?? "", targetKind: row.column("target_kind")?.string ?? "",
                              targetID: row.column("target_id")?.string ?? "", targetName: row.column("target_name")?.string,
                              address: row.column("address")?.string, detail: row.column("detail")?.string ?? "{}")
        }
    }

    public func deleteAudit(beforeMs: Int64) async throws -> Int {
        try await writes.run {
            try await self.connection.query("DELETE FROM audit_log WHERE at_ms < ? RETURNING 1", [.integer(Int(beforeMs))]).count
        }
    }
}
