// Human-review tickets in SQLite: storing them, reading them back, and deciding each one once.
import SQLiteNIO
import SwitchboardCore

extension SQLiteStorage {
    public func insertReview(_ t: ReviewTicket) async throws {
        try await write(
            "INSERT INTO review_tickets (\(ReviewSchema.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [.text(t.id), .integer(Int(t.createdMs)), .integer(Int(t.deadlineMs)), .text(t.status.rawValue), .text(t.api), .text(t.model),
             .text(t.keyName), Self.optionalText(t.keyID), Self.optionalText(t.team), .text(t.reason), .text(t.request),
             Self.optionalText(t.decidedBy), t.decidedMs.map { .integer(Int($0)) } ?? .null, Self.optionalText(t.note), Self.optionalText(t.edited)],
            conflict: "a review ticket \"\(t.id)\"")
    }

    public func review(id: String) async throws -> ReviewTicket? {
        try await reviewRows("SELECT \(ReviewSchema.columns) FROM review_tickets WHERE id = ?", [.text(id)]).first
    }

    public func reviews(status: ReviewTicket.Status?, limit: Int) async throws -> [ReviewTicket] {
        let filter = status == nil ? "" : "WHERE status = ?"
        let binds: [SQLiteData] = (status.map { [.text($0.rawValue)] } ?? []) + [.integer(max(limit, 0))]
        return try await reviewRows("SELECT \(ReviewSchema.columns) FROM review_tickets \(filter) ORDER BY created_ms DESC, id DESC LIMIT ?", binds)
    }

    public func decideReview(id: String, from: ReviewTicket.Status, _ d: ReviewDecision) async throws -> Bool {
        try await writes.run {
            try await self.connection.query(
                ReviewSchema.decide { _ in "?" },
                [.text(d.status.rawValue), .text(d.by), .integer(Int(d.atMs)), Self.optionalText(d.note), Self.optionalText(d.edited),
                 .text(id), .text(from.rawValue)]).count == 1
        }
    }

    func reviewRows(_ sql: String, _ binds: [SQLiteData]) async throws -> [ReviewTicket] {
        try await connection.query(sql, binds).map { row in
            try ReviewSchema.ticket(
                id: row.column("id")?.string ?? "", createdMs: Int64(row.column("created_ms")?.integer ?? 0),
                deadlineMs: Int64(row.column("deadline_ms")?.integer ?? 0), status: row.column("status")?.string ?? "",
                api: row.column("api")?.string ?? "", model: row.column("model")?.string ?? "", keyName: row.column("key_name")?.string ?? "",
                keyID: row.column("key_id")?.string, team: row.column("team")?.string, reason: row.column("reason")?.string ?? "",
                request: row.column("request")?.string ?? "", decidedBy: row.column("decided_by")?.string,
                decidedMs: row.column("decided_ms")?.integer.map(Int64.init), note: row.column("note")?.string, edited: row.column("edited")?.string)
        }
    }
}
