import Foundation
import Logging
import NIOCore
import SQLiteNIO
import SwitchboardCore

/// State in one SQLite file (WAL mode), through sqlite-nio's thread pool so no event loop ever blocks on disk.
public final class SQLiteStorage: Storage {
    let connection: SQLiteConnection

    init(connection: SQLiteConnection) { self.connection = connection }

    public static func open(path: String) async throws -> SQLiteStorage {
        let connection = try await SQLiteConnection.open(storage: path == ":memory:" ? .memory : .file(path: path))
        let storage = SQLiteStorage(connection: connection)
        _ = try await connection.query("PRAGMA journal_mode=WAL")
        _ = try await connection.query("PRAGMA synchronous=NORMAL")
        _ = try await connection.query("PRAGMA busy_timeout=5000")
        return storage
    }

    /// The schema, one step per version. Never edit a released step; add a new one.
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE request_log (
                id TEXT NOT NULL,
                started_at REAL NOT NULL,
                key_name TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                model TEXT NOT NULL,
                provider TEXT,
                upstream_model TEXT,
                stream INTEGER NOT NULL,
                status INTEGER NOT NULL,
                error_code TEXT,
                attempts INTEGER NOT NULL,
                latency_ms REAL NOT NULL,
                ttft_ms REAL,
                prompt_tokens INTEGER NOT NULL,
                completion_tokens INTEGER NOT NULL,
                cached_tokens INTEGER NOT NULL,
                cost_usd REAL NOT NULL
            )
            """,
            "CREATE INDEX request_log_started_at ON request_log (started_at)",
        ]),
        (2, [
            "ALTER TABLE request_log ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE request_log ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0",
        ]),
    ]

    public func migrate() async throws {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        let now = Date().timeIntervalSince1970
        let rows = try await connection.query("SELECT version FROM schema_migrations")
        let applied = Set(rows.compactMap { $0.column("version")?.integer })
        for migration in Self.migrations where !applied.contains(migration.version) {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in migration.statements { _ = try await connection.query(statement) }
                _ = try await connection.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                                               [.integer(migration.version), .float(now)])
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    public func ping() async throws {
        _ = try await connection.query("SELECT 1")
    }

    static let columns = "id, started_at, key_name, endpoint, model, provider, upstream_model, stream, status, error_code, attempts, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, cache_write_tokens, reasoning_tokens"

    static let columnCount = 19

    public func insert(_ records: [RequestRecord]) async throws {
        // One multi-row INSERT per 500 records: one thread-pool hop instead of one per row.
        var start = 0
        while start < records.count {
            let batch = records[start..<min(start + 500, records.count)]
            start += batch.count
            let row = "(" + Array(repeating: "?", count: Self.columnCount).joined(separator: ",") + ")"
            let sql = "INSERT INTO request_log (\(Self.columns)) VALUES " + Array(repeating: row, count: batch.count).joined(separator: ",")
            var binds: [SQLiteData] = []
            binds.reserveCapacity(batch.count * Self.columnCount)
            for r in batch {
                binds += [.text(r.id), .float(r.startedAt), .text(r.keyName), .text(r.endpoint), .text(r.model),
                          r.provider.map(SQLiteData.text) ?? .null, r.upstreamModel.map(SQLiteData.text) ?? .null,
                          .integer(r.stream ? 1 : 0), .integer(r.status), r.errorCode.map(SQLiteData.text) ?? .null,
                          .integer(r.attempts), .float(r.latencyMs), r.ttftMs.map(SQLiteData.float) ?? .null,
                          .integer(r.usage.promptTokens), .integer(r.usage.completionTokens), .integer(r.usage.cachedTokens),
                          .float(r.costUSD), .integer(r.usage.cacheWriteTokens), .integer(r.usage.reasoningTokens)]
            }
            _ = try await connection.query(sql, binds)
        }
    }

    public func recentRequests(limit: Int) async throws -> [RequestRecord] {
        let rows = try await connection.query("SELECT \(Self.columns) FROM request_log ORDER BY started_at DESC, rowid DESC LIMIT ?",
                                              [.integer(max(limit, 0))])
        return rows.map { row in
            func text(_ c: String) -> String? { row.column(c)?.string }
            func int(_ c: String) -> Int { row.column(c)?.integer ?? 0 }
            func double(_ c: String) -> Double? { row.column(c)?.double }
            return RequestRecord(
                id: text("id") ?? "", startedAt: double("started_at") ?? 0, keyName: text("key_name") ?? "",
                endpoint: text("endpoint") ?? "", model: text("model") ?? "", provider: text("provider"),
                upstreamModel: text("upstream_model"), stream: int("stream") != 0, status: int("status"),
                errorCode: text("error_code"), attempts: int("attempts"), latencyMs: double("latency_ms") ?? 0,
                ttftMs: double("ttft_ms"),
                usage: Usage(promptTokens: int("prompt_tokens"), completionTokens: int("completion_tokens"), cachedTokens: int("cached_tokens"),
                             cacheWriteTokens: int("cache_write_tokens"), reasoningTokens: int("reasoning_tokens")),
                costUSD: double("cost_usd") ?? 0)
        }
    }

    public func close() async throws {
        try await connection.close()
    }
}
