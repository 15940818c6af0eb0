// The audit log in PostgreSQL: appending entries, reading them back filtered and paged, deleting old ones. Every
// replica writes to and reads from the same table.
import Logging
import PostgresNIO
import SwitchboardCore

extension PostgresStorage {
    public func insertAudit(_ entries: [AuditEntry]) async throws {
        guard !entries.isEmpty else { return }
        // Arrays of optionals do not encode: "" stands for NULL (no name, key id or address is ever empty).
        func texts(_ values: [String?]) -> [String] { values.map { $0 ?? "" } }
        try await client.query("""
            INSERT INTO audit_log (\(unescaped: AuditSchema.columns))
            SELECT id, at, actor, NULLIF(actor_key_id, ''), action, kind, target, NULLIF(name, ''), NULLIF(address, ''), detail
            FROM unnest(\(entries.map(\.id))::text[], \(entries.map { Int($0.atMs) })::bigint[], \(entries.map(\.actor))::text[],
                        \(texts(entries.map(\.actorKeyID)))::text[], \(entries.map(\.action))::text[], \(entries.map(\.targetKind))::text[],
                        \(entries.map(\.targetID))::text[], \(texts(entries.map(\.targetName)))::text[], \(texts(entries.map(\.address)))::text[],
                        \(entries.map(AuditSchema.detailText))::text[])
                 AS t(id, at, actor, actor_key_id, action, kind, target, name, address, detail)
            """, logger: logger)
    }

    public func audit(_ query: AuditQuery) async throws -> [AuditEntry] {
        let (clause, values) = AuditSchema.whereClause(query, placeholder: { "$\($0)" }) { column, p in "starts_with(\(column), \(p))" }
        let binds = Self.bindings(values)
        let sql = "SELECT \(AuditSchema.columns) FROM audit_log \(clause) ORDER BY at_ms DESC, id DESC LIMIT \(max(query.limit, 0))"
        return try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().map { row in
            let r = row.makeRandomAccess()
            return AuditSchema.entry(
                id: try r["id"].decode(String.self), atMs: Int64(try r["at_ms"].decode(Int.self)), actor: try r["actor"].decode(String.self),
                actorKeyID: try r["actor_key_id"].decode(String?.self), action: try r["action"].decode(String.self),
                targetKind: try r["target_kind"].decode(String.self), targetID: try r["target_id"].decode(String.self),
                targetName: try r["target_name"].decode(String?.self), address: try r["address"].decode(String?.self),
                detail: try r["detail"].decode(String.self))
        }
    }

    public func deleteAudit(beforeMs: Int64) async throws -> Int {
        var n = 0
        for try await _ in try await client.query("DELETE FROM audit_log WHERE at_ms < \(Int(beforeMs)) RETURNING 1", logger: logger).decode(Int.self) {
            n += 1
        }
        return n
    }
}
