// Stored Responses API responses in SQLite.
import SQLiteNIO
import SwitchboardCore

extension SQLiteStorage {
    public func insertResponse(_ r: StoredResponse) async throws {
        try await writes.run {
            _ = try await self.connection.query(
                "INSERT OR REPLACE INTO stored_responses (\(ResponseSchema.columns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.text(r.id), .text(r.owner), .integer(Int(r.createdMs)), .text(r.model), Self.optionalText(r.previousID), .text(r.input),
                 .text(r.response)])
        }
    }

    public func storedResponse(id: String) async throws -> StoredResponse? {
        try await connection.query("SELECT \(ResponseSchema.columns) FROM stored_responses WHERE id = ?", [.text(id)]).first.map { row in
            StoredResponse(id: row.column("id")?.string ?? "", owner: row.column("owner")?.string ?? "",
                           createdMs: Int64(row.column("created_ms")?.integer ?? 0), model: row.column("model")?.string ?? "",
                           previousID: row.column("previous_id")?.string, input: row.column("input")?.string ?? "[]",
                           response: row.column("response")?.string ?? "{}")
        }
    }

    public func deleteResponse(id: String) async throws -> Bool {
        try await writes.run {
            try await self.connection.query("DELETE FROM stored_responses WHERE id = ? RETURNING 1", [.text(id)]).count == 1
        }
    }

    public func deleteResponses(beforeMs: Int64) async throws -> Int {
        try await writes.run {
            try await self.connection.query("DELETE FROM stored_responses WHERE created_ms < ? RETURNING 1", [.integer(Int(beforeMs))]).count
        }
    }
}
