import SwitchboardCore

/// A Responses API response the gateway keeps (`store`, the default): what `previous_response_id`, `GET` and
/// `DELETE /v1/responses/{id}` read.
public struct StoredResponse: Sendable, Equatable {
    public var id: String
    /// Whose it is: the managed key's id, else `name:` and the key's name. Only that key may read or delete it.
    public var owner: String
    public var createdMs: Int64
    /// The public model the client asked for.
    public var model: String
    /// The turn it continues (nil: the first of its conversation).
    public var previousID: String?
    /// This turn's own input items, a JSON array (each with an `id`).
    public var input: String
    /// The response object as the client got it, JSON.
    public var response: String

    public init(id: String, owner: String, createdMs: Int64, model: String, previousID: String?, input: String, response: String) {
        self.id = id
        self.owner = owner
        self.createdMs = createdMs
        self.model = model
        self.previousID = previousID
        self.input = input
        self.response = response
    }
}

/// Stored Responses API responses.
public protocol ResponseStorage: Sendable {
    /// Keeps a response; a second one with the same id replaces it (an upstream that reuses ids cannot fail a request).
    func insertResponse(_ response: StoredResponse) async throws
    func storedResponse(id: String) async throws -> StoredResponse?
    /// True when it was there.
    func deleteResponse(id: String) async throws -> Bool
    /// Retention: deletes the responses stored before `beforeMs`; returns how many.
    func deleteResponses(beforeMs: Int64) async throws -> Int
}

/// The stored responses' table, shared by the SQL storages (SQLite migration 11, PostgreSQL 10).
enum ResponseSchema {
    static func table(integer: String) -> [String] {
        [
            """
            CREATE TABLE stored_responses (
                id TEXT NOT NULL PRIMARY KEY,
                owner TEXT NOT NULL,
                created_ms \(integer) NOT NULL,
                model TEXT NOT NULL,
                previous_id TEXT,
                input TEXT NOT NULL,
                response TEXT NOT NULL
            )
            """,
            "CREATE INDEX stored_responses_created ON stored_responses (created_ms)",
        ]
    }

    static let columns = "id, owner, created_ms, model, previous_id, input, response"

    static let sqliteMigrations: [(version: Int, statements: [String])] = [(11, table(integer: "INTEGER"))]
    static let postgresMigrations: [(version: Int, statements: [String])] = [(10, table(integer: "BIGINT"))]
}
