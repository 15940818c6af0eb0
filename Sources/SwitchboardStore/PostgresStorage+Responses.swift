// Stored Responses API responses in PostgreSQL, shared by every replica (a conversation may continue on any).
import Logging
import PostgresNIO
import SwitchboardCore

extension PostgresStorage {
    public func insertResponse(_ r: StoredResponse) async throws {
        try await client.query("""
            INSERT INTO stored_responses (\(unescaped: ResponseSchema.columns))
            VALUES (\(r.id), \(r.owner), \(Int(r.createdMs)), \(r.model), \(r.previousID), \(r.input), \(r.response))
            ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, created_ms = excluded.created_ms, model = excluded.model,
                previous_id = excluded.previous_id, input = excluded.input, response = excluded.response
            """, logger: logger)
    }

    public func storedResponse(id: String) async throws -> StoredResponse? {
        let rows = try await client.query("SELECT \(unescaped: ResponseSchema.columns) FROM stored_responses WHERE id = \(id)", logger: logger).collect()
        return try rows.first.map { row in
            let r = row.makeRandomAccess()
            return StoredResponse(id: try r["id"].decode(String.self), owner: try r["owner"].decode(String.self),
                                  createdMs: Int64(try r["created_ms"].decode(Int.self)), model: try r["model"].decode(String.self),
                                  previousID: try r["previous_id"].decode(String?.self), input: try r["input"].decode(String.self),
                                  response: try r["response"].decode(String.self))
        }
    }

    public func deleteResponse(id: String) async throws -> Bool {
        var deleted = false
        for try await _ in try await client.query("DELETE FROM stored_responses WHERE id = \(id) RETURNING 1", logger: logger).decode(Int.self) {
            deleted = true
        }
        return deleted
    }

    public func deleteResponses(beforeMs: Int64) async throws -> Int {
        var n = 0
        for try await _ in try await client.query("DELETE FROM stored_responses WHERE created_ms < \(Int(beforeMs)) RETURNING 1", logger: logger).decode(Int.self) {
            n += 1
        }
        return n
    }
}
