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
        (3, [
            "ALTER TABLE request_log ADD COLUMN key_id TEXT",
            "ALTER TABLE request_log ADD COLUMN team TEXT",
            "ALTER TABLE request_log ADD COLUMN route_reason TEXT",
            "ALTER TABLE request_log ADD COLUMN served_model TEXT",
            "ALTER TABLE request_log ADD COLUMN hedged INTEGER NOT NULL DEFAULT 0",
            GovernanceSchema.keys(real: "REAL"),
            GovernanceSchema.keyNameIndex,
            GovernanceSchema.teams(real: "REAL"),
            GovernanceSchema.spend(real: "REAL", integer: "INTEGER"),
        ]),
        (4, [GovernanceSchema.credentials(real: "REAL")]),
        (5, GovernanceSchema.logIndexes),
        (6, GovernanceSchema.bodies(real: "REAL")),
        (7, [GovernanceSchema.logIDIndex]),
        (8, ["ALTER TABLE request_log ADD COLUMN route_rule TEXT"]),
        (9, AuditSchema.table(integer: "INTEGER")),
        (10, ReviewSchema.table(integer: "INTEGER")),
    ] + ResponseSchema.sqliteMigrations + BatchSchema.sqliteMigrations

    /// Serialises writes: a transaction spans several statements on the one connection.
    let writes = WriteGate()

    public func migrate() async throws {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        let now = Date().timeIntervalSince1970
        let rows = try await connection.query("SELECT version FROM schema_migrations")
        let applied = Set(rows.compactMap { $0.column("version")?.integer })
        for migration in Self.migrations where !applied.contains(migration.version) {
            try await writes.run {
                try await self.transaction {
                    for statement in migration.statements { _ = try await self.connection.query(statement) }
                    _ = try await self.connection.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                                                        [.integer(migration.version), .float(now)])
                }
            }
        }
    }

    public func deleteRequests(before: Double) async throws -> Int {
        try await writes.run {
            var deleted = 0
            try await self.transaction {
                _ = try await self.connection.query("DELETE FROM request_bodies WHERE started_at < ?", [.float(before)])
                deleted = try await self.connection.query("DELETE FROM request_log WHERE started_at < ? RETURNING 1", [.float(before)]).count
            }
            return deleted
        }
    }

    public func ping() async throws {
        _ = try await connection.query("SELECT 1")
    }

    static let columns = "id, started_at, key_name, endpoint, model, provider, upstream_model, stream, status, error_code, attempts, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, cache_write_tokens, reasoning_tokens, key_id, team, route_reason, served_model, hedged, route_rule"

    static let columnCount = 25

    public func insert(_ records: [RequestRecord]) async throws {
        try await writes.run { try await self.transaction { try await self.insertRows(records) } }
    }

    /// Runs `body` between BEGIN IMMEDIATE and COMMIT (ROLLBACK when it throws). Callers hold the write gate.
    func transaction(_ body: () async throws -> Void) async throws {
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            try await body()
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    func insertRows(_ records: [RequestRecord]) async throws {
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
                          .float(r.costUSD), .integer(r.usage.cacheWriteTokens), .integer(r.usage.reasoningTokens),
                          r.keyID.map(SQLiteData.text) ?? .null, r.team.map(SQLiteData.text) ?? .null,
                          r.routeReason.map(SQLiteData.text) ?? .null, r.servedModel.map(SQLiteData.text) ?? .null,
                          .integer(r.hedged ? 1 : 0), r.routeRule.map(SQLiteData.text) ?? .null]
            }
            _ = try await connection.query(sql, binds)
        }
        let withBodies = records.filter(\.hasBodies)
        start = 0
        while start < withBodies.count {
            let batch = withBodies[start..<min(start + 200, withBodies.count)]
            start += batch.count
            let sql = "INSERT INTO request_bodies (id, started_at, request, response) VALUES " + Array(repeating: "(?,?,?,?)", count: batch.count).joined(separator: ",")
            _ = try await connection.query(sql, batch.flatMap { r in
                [SQLiteData.text(r.id), .float(r.startedAt), Self.optionalText(r.requestBody), Self.optionalText(r.responseBody)]
            })
        }
        for row in SpendRollup(records).rows {
            _ = try await connection.query(GovernanceSchema.spendUpsert(placeholders: ["?", "?", "?", "?", "?"]),
                                           [.text(row.scope), .integer(row.day), .float(row.usd), .integer(row.requests), .integer(row.tokens)])
        }
    }

    public func requests(_ query: LogQuery) async throws -> [RequestRecord] {
        let (clause, values) = logWhere(query) { _ in "?" }
        let binds: [SQLiteData] = values.map {
            switch $0 {
            case .text(let t): .text(t)
            case .real(let d): .float(d)
            case .int(let i): .integer(i)
            }
        } + [.integer(max(query.limit, 0))]
        let rows = try await connection.query("SELECT \(Self.columns) FROM request_log \(clause) ORDER BY started_at DESC, rowid DESC LIMIT ?", binds)
        return rows.map(Self.record)
    }

    public func request(id: String) async throws -> RequestRecord? {
        let rows = try await connection.query("SELECT \(Self.columns) FROM request_log WHERE id = ? ORDER BY started_at DESC, rowid DESC LIMIT 1", [.text(id)])
        guard var record = rows.first.map(Self.record) else { return nil }
        let bodies = try await connection.query("SELECT request, response FROM request_bodies WHERE id = ? AND started_at = ? LIMIT 1",
                                                [.text(id), .float(record.startedAt)])
        record.requestBody = bodies.first?.column("request")?.string
        record.responseBody = bodies.first?.column("response")?.string
        return record
    }

    static func record(_ row: SQLiteRow) -> RequestRecord {
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
            costUSD: double("cost_usd") ?? 0, keyID: text("key_id"), team: text("team"), routeReason: text("route_reason"),
            servedModel: text("served_model"), hedged: int("hedged") != 0, routeRule: text("route_rule"))
    }

    public func close() async throws {
        try await connection.close()
    }
}

// MARK: - Keys, teams, spend

extension SQLiteStorage {
    static func optionalText(_ s: String?) -> SQLiteData { s.map(SQLiteData.text) ?? .null }
    static func optionalFloat(_ d: Double?) -> SQLiteData { d.map(SQLiteData.float) ?? .null }

    func keyBinds(_ k: KeyRecord) -> [SQLiteData] {
        [.text(k.id), .text(k.name), Self.optionalText(k.team), .text(k.secretHash), .text(k.salt), .float(k.createdAt),
         .float(k.updatedAt), Self.optionalFloat(k.expiresAt), Self.optionalFloat(k.revokedAt), .text(GovernanceSpec.storedSpec(k).jsonText)]
    }

    /// Runs one write; a unique-constraint failure becomes `StorageError.conflict(what)`.
    func write(_ sql: String, _ binds: [SQLiteData], conflict what: String) async throws {
        try await writes.run {
            do {
                _ = try await self.connection.query(sql, binds)
            } catch let error as SQLiteError where [.constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed].contains(error.reason) {
                throw StorageError.conflict(what)
            }
        }
    }

    public func insertKey(_ key: KeyRecord) async throws {
        try await write("INSERT INTO keys (\(GovernanceSchema.keyColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", keyBinds(key),
                        conflict: "a key named \"\(key.name)\"")
    }

    public func updateKey(_ key: KeyRecord) async throws {
        let b = keyBinds(key)
        try await write("UPDATE keys SET name = ?, team = ?, secret_hash = ?, salt = ?, created_at = ?, updated_at = ?, expires_at = ?, revoked_at = ?, spec = ? WHERE id = ?",
                        Array(b[1...]) + [b[0]], conflict: "a key named \"\(key.name)\"")
    }

    func keyRows(_ sql: String, _ binds: [SQLiteData]) async throws -> [KeyRecord] {
        try await connection.query(sql, binds).map { row in
            try GovernanceSchema.key(
                id: row.column("id")?.string ?? "", name: row.column("name")?.string ?? "", team: row.column("team")?.string,
                secretHash: row.column("secret_hash")?.string ?? "", salt: row.column("salt")?.string ?? "",
                createdAt: row.column("created_at")?.double ?? 0, updatedAt: row.column("updated_at")?.double ?? 0,
                expiresAt: row.column("expires_at")?.double, revokedAt: row.column("revoked_at")?.double,
                spec: row.column("spec")?.string ?? "")
        }
    }

    public func key(id: String) async throws -> KeyRecord? {
        try await keyRows("SELECT \(GovernanceSchema.keyColumns) FROM keys WHERE id = ?", [.text(id)]).first
    }

    public func keys() async throws -> [KeyRecord] {
        try await keyRows("SELECT \(GovernanceSchema.keyColumns) FROM keys ORDER BY created_at DESC, id", [])
    }

    public func insertTeam(_ team: TeamRecord) async throws {
        try await write("INSERT INTO teams (name, created_at, updated_at, spec) VALUES (?, ?, ?, ?)",
                        [.text(team.name), .float(team.createdAt), .float(team.updatedAt), .text(GovernanceSpec.storedSpec(team).jsonText)],
                        conflict: "a team named \"\(team.name)\"")
    }

    public func updateTeam(_ team: TeamRecord) async throws {
        try await write("UPDATE teams SET updated_at = ?, spec = ? WHERE name = ?",
                        [.float(team.updatedAt), .text(GovernanceSpec.storedSpec(team).jsonText), .text(team.name)],
                        conflict: "a team named \"\(team.name)\"")
    }

    func teamRows(_ sql: String, _ binds: [SQLiteData]) async throws -> [TeamRecord] {
        try await connection.query(sql, binds).map { row in
            try GovernanceSchema.team(name: row.column("name")?.string ?? "", createdAt: row.column("created_at")?.double ?? 0,
                                      updatedAt: row.column("updated_at")?.double ?? 0, spec: row.column("spec")?.string ?? "")
        }
    }

    public func team(name: String) async throws -> TeamRecord? {
        try await teamRows("SELECT name, created_at, updated_at, spec FROM teams WHERE name = ?", [.text(name)]).first
    }

    public func teams() async throws -> [TeamRecord] {
        try await teamRows("SELECT name, created_at, updated_at, spec FROM teams ORDER BY name", [])
    }

    public func deleteTeam(name: String) async throws -> Bool {
        try await writes.run {
            let rows = try await self.connection.query("DELETE FROM teams WHERE name = ? RETURNING name", [.text(name)])
            return !rows.isEmpty
        }
    }

    public func setCredential(provider: String, sealed: String, updatedAt: Double) async throws {
        try await write(GovernanceSchema.credentialUpsert(placeholders: ["?", "?", "?"]), [.text(provider), .text(sealed), .float(updatedAt)],
                        conflict: "a credential for \"\(provider)\"")
    }

    public func credentials() async throws -> [StoredCredential] {
        try await connection.query("SELECT provider, sealed, updated_at FROM provider_credentials ORDER BY provider").map { row in
            StoredCredential(provider: row.column("provider")?.string ?? "", sealed: row.column("sealed")?.string ?? "",
                             updatedAt: row.column("updated_at")?.double ?? 0)
        }
    }

    public func deleteCredential(provider: String) async throws -> Bool {
        try await writes.run {
            try await !self.connection.query("DELETE FROM provider_credentials WHERE provider = ? RETURNING provider", [.text(provider)]).isEmpty
        }
    }

    public func spend(scope: String, fromDay: Int) async throws -> SpendLedger {
        let rows = try await connection.query("SELECT day, usd FROM spend_daily WHERE scope = ? AND day >= ?", [.text(scope), .integer(fromDay)])
        var days: [Int: Double] = [:]
        for row in rows { days[row.column("day")?.integer ?? 0, default: 0] += row.column("usd")?.double ?? 0 }
        let before = try await connection.query("SELECT COALESCE(SUM(usd), 0) AS total FROM spend_daily WHERE scope = ? AND day < ?",
                                                [.text(scope), .integer(fromDay)]).first?.column("total")?.double ?? 0
        return SpendLedger(days: days, before: before)
    }
}
