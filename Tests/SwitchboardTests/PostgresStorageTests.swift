import Foundation
import PostgresNIO
import SwitchboardCore
import Testing
@testable import SwitchboardStore

/// The storage contract on PostgreSQL, and migrations shared by replicas starting at once.
@Suite(.needsPostgres) struct PostgresStorageTests {
    /// Replicas (each its own connection pool) starting at once on one empty database: every replica's migrate
    /// succeeds, each migration is applied exactly once (one schema_migrations row per version), the schema exists
    /// once, and a replica started later applies nothing.
    @Test func replicasStartingAtOnceMigrateOnce() async throws {
        let url = try await TestPostgres.freshDatabase()
        var replicas: [PostgresStorage] = []
        for _ in 0..<4 { replicas.append(try await PostgresStorage.open(url: url)) }
        // Without the migration lock two replicas would both create the same tables and one would throw.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for replica in replicas { group.addTask { try await replica.migrate() } }
            try await group.waitForAll()
        }
        let applied = try await Self.migrationRows(replicas[0])
        #expect(!applied.isEmpty && applied.map(\.version) == PostgresStorage.migrations.map(\.version))   // one row per migration
        // Every replica sees the same rows.
        for replica in replicas.dropFirst() { #expect(try await Self.migrationRows(replica) == applied) }

        let tables = try await Self.strings(replicas[1], "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
        #expect(tables == ["audit_log", "batch_files", "batch_lines", "batches", "budget_alerts", "inflight", "keys", "provider_credentials",
                           "rate_windows", "request_bodies", "request_log", "review_tickets", "schema_migrations", "spend_daily",
                           "stored_responses", "teams"])
        // Functions can be overloaded, so "exists once" is worth checking for them.
        let functions = try await Self.strings(replicas[2], "SELECT proname::text FROM pg_proc WHERE proname LIKE 'sb\\_%' ORDER BY 1")
        #expect(functions == ["sb_admit", "sb_lease", "sb_lock_scopes"])

        // A replica started later finds everything applied: the same rows, the same times.
        let late = try await PostgresStorage.open(url: url)
        try await late.migrate()
        #expect(try await Self.migrationRows(late) == applied)
        for replica in replicas + [late] { try await replica.close() }
    }

    @Test func keepsKeysTeamsSpendAndTheLog() async throws {
        let s = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
        try await s.migrate()
        try await StorageTests.governanceContract(s)
        let second = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
        try await second.migrate()
        try await StorageTests.logQueryContract(second)
        try await second.close()
        let records = (0..<1203).map(StorageTests().record)
        try await s.insert(records)
        let back = try await s.recentRequests(limit: 5000).filter { $0.id.hasPrefix("r") }
        #expect(back.count == 1203 && back.first == records.last)
        try await s.ping()
        try await s.close()
    }

    /// schema_migrations, by version: what was applied, and when.
    static func migrationRows(_ s: PostgresStorage) async throws -> [MigrationRow] {
        var rows: [MigrationRow] = []
        let query: PostgresQuery = "SELECT version, applied_at FROM schema_migrations ORDER BY version"
        for try await (version, appliedAt) in try await s.client.query(query).decode((Int, Double).self) {
            rows.append(MigrationRow(version: version, appliedAt: appliedAt))
        }
        return rows
    }

    static func strings(_ s: PostgresStorage, _ sql: String) async throws -> [String] {
        var out: [String] = []
        for try await value in try await s.client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { out.append(value) }
        return out
    }
}
