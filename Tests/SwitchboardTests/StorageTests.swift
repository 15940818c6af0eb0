import Foundation
import SwitchboardCore
import SwitchboardStore
import Testing

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
        try await s.migrate()     // idempotent
        let records = (0..<1203).map(record)
        try await s.insert(records)
        try await s.ping()
        let back = try await s.recentRequests(limit: 3)
        #expect(back == Array(records.suffix(3).reversed()))
        try await s.close()
        // Reopening finds the data and applies nothing twice.
        let again = try await SQLiteStorage.open(path: path)
        try await again.migrate()
        #expect(try await again.recentRequests(limit: 5000).count == 1203)
        try await again.close()
    }
}
