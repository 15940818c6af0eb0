import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardStore

@Suite struct StorageTests {
    func record(_ i: Int) -> RequestRecord {
        RequestRecord(id: "r\(i)", startedAt: Double(i), keyName: "k", endpoint: "chat.completions", model: "m", provider: "p",
                      upstreamModel: "u", stream: i % 2 == 0, status: 200, errorCode: i % 3 == 0 ? "x" : nil, attempts: 1,
                      latencyMs: 1.5, ttftMs: i % 2 == 0 ? 0.5 : nil, usage: Usage(promptTokens: i, completionTokens: 2, cachedTokens: 1, cacheWriteTokens: 3, reasoningTokens: 1),
                      costUSD: 0.25)
    }

    @Test func memoryKeepsTheNewestInARing() async throws {
        let s = MemoryStorage(capacity: 5)
        try await s.insert((0..<3).map(record))
        try await s.insert((3..<12).map(record))
        #expect(try await s.recentRequests(limit: 10).map(\.id) == ["r11", "r10", "r9", "r8", "r7"])
        #expect(try await s.recentRequests(limit: 2).map(\.id) == ["r11", "r10"])
    }

    @Test func sqliteMigratesOnceAndRoundTrips() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let s = try await SQLiteStorage.open(path: path)
        try await s.migrate()
        let applied = try await Self.migrationRows(s)
        #expect(!applied.isEmpty && applied.map(\.version) == SQLiteStorage.migrations.map(\.version))     // one row per migration
        try await s.migrate()     // idempotent: the same rows, none applied again
        #expect(try await Self.migrationRows(s) == applied)
        let records = (0..<1203).map(record)
        try await s.insert(records)
        try await s.ping()
        let back = try await s.recentRequests(limit: 3)
        #expect(back == Array(records.suffix(3).reversed()))
        try await s.close()
        // Reopening finds the data and applies nothing twice.
        let again = try await SQLiteStorage.open(path: path)
        try await again.migrate()
        #expect(try await Self.migrationRows(again) == applied)
        #expect(try await again.recentRequests(limit: 5000).count == 1203)
        try await again.close()
    }

    /// schema_migrations, by version: what was applied, and when.
    static func migrationRows(_ s: SQLiteStorage) async throws -> [MigrationRow] {
        try await s.connection.query("SELECT version, applied_at FROM schema_migrations ORDER BY version").map {
            MigrationRow(version: $0.column("version")?.integer ?? -1, appliedAt: $0.column("applied_at")?.double ?? -1)
        }
    }

    /// The same contract for every storage: keys and teams round-trip, names are unique among active keys, spend
    /// is summed per key and team by UTC day in the same write as the request log.
    static func governanceContract(_ s: any Storage) async throws {
        let day = BudgetCalendar.days(year: 2027, month: 3, day: 10)
        let key = KeyRecord(id: "aaaaaaaaaaa1", name: "ci", team: "t", models: ["m*"], expiresAt: 2e9, roles: [.admin, .user], region: "eu",
                            priority: .batch, limits: Limits(rates: .init(rpm: 5), budgets: [Budget(period: .week, limitUSD: 3, alertUSD: 2)],
                                                             models: ["m": .init(tpm: 10)]),
                            metadata: ["a": "b"], createdAt: 100, secretHash: String(repeating: "f", count: 64), salt: "00")
        try await s.insertKey(key)
        #expect(try await s.key(id: key.id) == key)
        var other = key
        other.id = "aaaaaaaaaaa2"
        other.createdAt = 200
        await #expect(throws: StorageError.conflict("a key named \"ci\"")) { try await s.insertKey(other) }
        other.name = "ci-2"
        try await s.insertKey(other)
        #expect(try await s.keys().map(\.id) == ["aaaaaaaaaaa2", "aaaaaaaaaaa1"])
        // A revoked key frees its name.
        var revoked = key
        revoked.revokedAt = 300
        try await s.updateKey(revoked)
        var reuse = key
        reuse.id = "aaaaaaaaaaa3"
        try await s.insertKey(reuse)
        #expect(try await s.key(id: key.id)?.revokedAt == 300)
        #expect(try await s.key(id: "zzzzzzzzzzzz") == nil)

        let team = TeamRecord(name: "t", models: ["x"], limits: Limits(budgets: [Budget(period: .total, limitUSD: 9)]), metadata: ["c": "d"], createdAt: 5)
        try await s.insertTeam(team)
        await #expect(throws: StorageError.self) { try await s.insertTeam(team) }
        var changed = team
        changed.models = []
        changed.updatedAt = 6
        try await s.updateTeam(changed)
        #expect(try await s.team(name: "t") == changed)
        #expect(try await s.teams().map(\.name) == ["t"])
        #expect(try await s.deleteTeam(name: "t"))
        #expect(try await !s.deleteTeam(name: "t"))

        func rec(_ id: String, day: Int, usd: Double, key: String?, team: String?) -> RequestRecord {
            RequestRecord(id: id, startedAt: Double(day) * 86_400 + 3600, keyName: "k", endpoint: "chat.completions", model: "m", status: 200,
                          usage: Usage(promptTokens: 3, completionTokens: 4), costUSD: usd, keyID: key, team: team)
        }
        try await s.insert([rec("1", day: day, usd: 1, key: "k1", team: "t"), rec("2", day: day, usd: 2, key: "k1", team: nil),
                            rec("3", day: day - 40, usd: 4, key: "k1", team: "t"), rec("4", day: day, usd: 8, key: nil, team: nil)])
        try await s.insert([rec("5", day: day, usd: 16, key: "k1", team: "t")])
        let k1 = try await s.spend(scope: "key:k1", fromDay: day - 10)
        #expect(k1.days == [day: 19] && k1.before == 4 && k1.spent(.total, today: day) == 23 && k1.spent(.day, today: day) == 19)
        let t = try await s.spend(scope: "team:t", fromDay: day - 62)
        #expect(t.days == [day: 17, day - 40: 4] && t.before == 0)
        #expect(try await s.spend(scope: "key:none", fromDay: 0) == SpendLedger())
        let log = try await s.recentRequests(limit: 10)
        #expect(log.first { $0.id == "1" }?.keyID == "k1" && log.first { $0.id == "1" }?.team == "t")
    }

    @Test func memoryKeepsKeysTeamsAndSpend() async throws {
        try await Self.governanceContract(MemoryStorage())
        try await Self.logQueryContract(MemoryStorage())
    }

    /// Request-log filters and paging, the same on every storage.
    static func logQueryContract(_ s: any Storage) async throws {
        var records: [RequestRecord] = []
        for i in 0..<40 {
            let model = i % 2 == 0 ? "a" : "b", provider = i % 4 == 0 ? "p1" : "p2"
            let status = i % 5 == 0 ? 429 : 200, key = i % 3 == 0 ? "k3" : "k1"
            records.append(RequestRecord(id: "q\(i)", startedAt: 1000 + Double(i), keyName: "k", endpoint: "chat.completions", model: model,
                                         provider: provider, status: status, keyID: key, team: "t"))
        }
        records[5].requestBody = #"{"model":"a"}"#
        records[35].requestBody = "request ✓"
        records[35].responseBody = "answer"
        try await s.insert(records)
        // One record by id, with its bodies when it has them.
        let withBodies = try await s.request(id: "q35")
        #expect(withBodies?.requestBody == "request ✓" && withBodies?.responseBody == "answer" && withBodies?.model == "b")
        let without = try await s.request(id: "q36")
        #expect(without != nil && without?.requestBody == nil && without?.responseBody == nil)
        #expect(try await s.request(id: "nope") == nil)
        func ids(_ q: LogQuery) async throws -> [String] { try await s.requests(q).map(\.id) }
        #expect(try await ids(LogQuery(limit: 3)) == ["q39", "q38", "q37"])
        #expect(try await ids(LogQuery(before: 1037, limit: 2)) == ["q36", "q35"])
        #expect(try await ids(LogQuery(from: 1010, to: 1012, limit: 10)) == ["q11", "q10"])
        let expected: [String] = records.filter { $0.model == "a" && $0.provider == "p1" }.reversed().map(\.id)
        let got = try await ids(LogQuery(model: "a", provider: "p1", limit: 100))
        #expect(got == expected)
        #expect(try await ids(LogQuery(keyID: "k3", status: 429, limit: 100)) == ["q30", "q15", "q0"])
        #expect(try await ids(LogQuery(statusClass: 4, limit: 100)).count == 8)
        #expect(try await ids(LogQuery(team: "none", limit: 100)).isEmpty)
        // Retention: everything that started before 1030 goes.
        #expect(try await s.deleteRequests(before: 1030) == 30)
        #expect(try await ids(LogQuery(limit: 100)) == (30..<40).reversed().map { "q\($0)" })
        #expect(try await s.request(id: "q5") == nil)
        // Its bodies went with it: the same id and time again, without bodies, shows none.
        try await s.insert([RequestRecord(id: "q5", startedAt: 1005, keyName: "k", endpoint: "chat.completions", model: "a", status: 200)])
        let again = try await s.request(id: "q5")
        #expect(again != nil && again?.requestBody == nil)
    }

    @Test func sqliteKeepsKeysTeamsAndSpend() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let s = try await SQLiteStorage.open(path: path)
        try await s.migrate()
        try await Self.governanceContract(s)
        try await s.close()
        let fresh = try await SQLiteStorage.open(path: path + "-2")
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + "-2" + suffix) } }
        try await fresh.migrate()
        try await Self.logQueryContract(fresh)
        try await fresh.close()
    }
}

/// One row of schema_migrations.
struct MigrationRow: Equatable {
    let version: Int
    let appliedAt: Double
}
