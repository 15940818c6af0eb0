import SwitchboardCore

/// Where the gateway keeps its state. One protocol; SQLite (default), memory (tests), and later PostgreSQL.
public protocol Storage: Sendable {
    /// Applies the migrations this version knows and the database has not seen yet.
    func migrate() async throws
    /// Succeeds when the storage answers (used by `/readyz`).
    func ping() async throws
    /// Appends finished requests to the request log.
    func insert(_ records: [RequestRecord]) async throws
    /// The newest request-log entries, newest first.
    func recentRequests(limit: Int) async throws -> [RequestRecord]
    func close() async throws
}

/// Opens the storage a configuration names.
public func openStorage(_ location: StorageLocation) async throws -> any Storage {
    switch location {
    case .memory: MemoryStorage()
    case .sqlite(let path): try await SQLiteStorage.open(path: path)
    }
}
