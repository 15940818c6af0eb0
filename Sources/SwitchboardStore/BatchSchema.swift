import SwitchboardCore

/// Files (`POST /v1/files`) and batches (`POST /v1/batches`) with their progress, line by line.
public protocol BatchStorage: Sendable {}

/// The files' and batches' tables, shared by the SQL storages (SQLite migration 12, PostgreSQL 11).
enum BatchSchema {
    static let sqliteMigrations: [(version: Int, statements: [String])] = []
    static let postgresMigrations: [(version: Int, statements: [String])] = []
}
