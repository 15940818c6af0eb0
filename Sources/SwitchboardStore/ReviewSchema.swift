import SwitchboardCore

/// The human-review tickets' table and columns, shared by the SQL storages.
enum ReviewSchema {
    /// `collate` makes the id compare byte by byte (PostgreSQL's default collation may not), as the listing's order expects.
    static func table(integer: String, collate: String = "") -> [String] {
        [
            """
            CREATE TABLE review_tickets (
                id TEXT\(collate) NOT NULL PRIMARY KEY,
                created_ms \(integer) NOT NULL,
                deadline_ms \(integer) NOT NULL,
                status TEXT NOT NULL,
                api TEXT NOT NULL,
                model TEXT NOT NULL,
                key_name TEXT NOT NULL,
                key_id TEXT,
                team TEXT,
                reason TEXT NOT NULL,
                request TEXT NOT NULL,
                decided_by TEXT,
                decided_ms \(integer),
                note TEXT,
                edited TEXT
            )
            """,
            // Listing by status, newest first.
            "CREATE INDEX review_tickets_status ON review_tickets (status, created_ms, id)",
        ]
    }

    static let columns = "id, created_ms, deadline_ms, status, api, model, key_name, key_id, team, reason, request, decided_by, decided_ms, note, edited"

    /// The decision: the new status, who and when, and the note and edited body only when given; `RETURNING id` says
    /// whether the ticket was still in the expected status. Placeholders by position: status, by, at, note, edited, id, from.
    static func decide(placeholder: (Int) -> String) -> String {
        let p = (1...7).map(placeholder)
        return """
            UPDATE review_tickets SET status = \(p[0]), decided_by = \(p[1]), decided_ms = \(p[2]),
                note = COALESCE(\(p[3]), note), edited = COALESCE(\(p[4]), edited)
            WHERE id = \(p[5]) AND status = \(p[6]) RETURNING id
            """
    }

    /// A ticket read back from its columns; an unknown status is corrupt data.
    static func ticket(id: String, createdMs: Int64, deadlineMs: Int64, status: String, api: String, model: String, keyName: String,
                       keyID: String?, team: String?, reason: String, request: String, decidedBy: String?, decidedMs: Int64?,
                       note: String?, edited: String?) throws -> ReviewTicket {
        guard let s = ReviewTicket.Status(rawValue: status) else { throw StorageError.corrupt("review ticket \(id): status \"\(status)\"") }
        var t = ReviewTicket(id: id, createdMs: createdMs, deadlineMs: deadlineMs, status: s, api: api, model: model, keyName: keyName,
                             keyID: keyID, team: team, reason: reason, request: request)
        t.decidedBy = decidedBy
        t.decidedMs = decidedMs
        t.note = note
        t.edited = edited
        return t
    }
}
