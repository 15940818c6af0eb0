// Human-review tickets in PostgreSQL: storing them, reading them back, and deciding each one once. Every replica
// reads and decides in the same table, so a decision is one conditional UPDATE: whichever replica's runs first wins.
import Logging
import PostgresNIO
import SwitchboardCore

extension PostgresStorage {
    public func insertReview(_ t: ReviewTicket) async throws {
        try await write("""
            INSERT INTO review_tickets (\(unescaped: ReviewSchema.columns))
            VALUES (\(t.id), \(Int(t.createdMs)), \(Int(t.deadlineMs)), \(t.status.rawValue), \(t.api), \(t.model), \(t.keyName), \(t.keyID),
                    \(t.team), \(t.reason), \(t.request), \(t.decidedBy), \(t.decidedMs.map { Int($0) }), \(t.note), \(t.edited))
            """, conflict: "a review ticket \"\(t.id)\"")
    }

    public func review(id: String) async throws -> ReviewTicket? {
        try await reviewRows("SELECT \(unescaped: ReviewSchema.columns) FROM review_tickets WHERE id = \(id)").first
    }

    public func reviews(status: ReviewTicket.Status?, limit: Int) async throws -> [ReviewTicket] {
        let order = "ORDER BY created_ms DESC, id DESC"
        if let status {
            return try await reviewRows(
                "SELECT \(unescaped: ReviewSchema.columns) FROM review_tickets WHERE status = \(status.rawValue) \(unescaped: order) LIMIT \(max(limit, 0))")
        }
        return try await reviewRows("SELECT \(unescaped: ReviewSchema.columns) FROM review_tickets \(unescaped: order) LIMIT \(max(limit, 0))")
    }

    public func decideReview(id: String, from: ReviewTicket.Status, _ d: ReviewDecision) async throws -> Bool {
        var binds = PostgresBindings()
        binds.append(d.status.rawValue)
        binds.append(d.by)
        binds.append(Int(d.atMs))
        binds.append(d.note)
        binds.append(d.edited)
        binds.append(id)
        binds.append(from.rawValue)
        let rows = try await client.query(PostgresQuery(unsafeSQL: ReviewSchema.decide { "$\($0)" }, binds: binds), logger: logger)
        var decided = false
        for try await _ in rows.decode(String.self) { decided = true }
        return decided
    }

    func reviewRows(_ query: PostgresQuery) async throws -> [ReviewTicket] {
        try await client.query(query, logger: logger).collect().map { row in
            let r = row.makeRandomAccess()
            return try ReviewSchema.ticket(
                id: try r["id"].decode(String.self), createdMs: Int64(try r["created_ms"].decode(Int.self)),
                deadlineMs: Int64(try r["deadline_ms"].decode(Int.self)), status: try r["status"].decode(String.self),
                api: try r["api"].decode(String.self), model: try r["model"].decode(String.self), keyName: try r["key_name"].decode(String.self),
                keyID: try r["key_id"].decode(String?.self), team: try r["team"].decode(String?.self), reason: try r["reason"].decode(String.self),
                request: try r["request"].decode(String.self), decidedBy: try r["decided_by"].decode(String?.self),
                decidedMs: try r["decided_ms"].decode(Int?.self).map(Int64.init), note: try r["note"].decode(String?.self),
                edited: try r["edited"].decode(String?.self))
        }
    }
}
