import SwitchboardCore

/// Stored Responses API responses (`POST /v1/responses` with `store`): what `previous_response_id`, `GET` and
/// `DELETE /v1/responses/{id}` read.
public protocol ResponseStorage: Sendable {}

/// The stored responses' tables, shared by the SQL storages (SQLite migration 11, PostgreSQL 10).
enum ResponseSchema {
    static let sqliteMigrations: [(version: Int, statements: [String])] = []
    static let postgresMigrations: [(version: Int, statements: [String])] = []
}
