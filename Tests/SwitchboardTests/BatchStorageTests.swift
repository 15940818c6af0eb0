import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardStore

/// Files, batches and their lines: the storage contract on memory, SQLite and PostgreSQL (`PostgresBatchStorageTests`),
/// claims that never hand one line to two runners, and leases that hand a dead runner's line to another.
@Suite struct BatchStorageTests {
    static func file(_ id: String, owner: String = "key:a", at: Int) -> StoredFile {
        StoredFile(id: id, owner: owner, purpose: "batch", filename: "\(id).jsonl", bytes: 10, createdAt: at)
    }

    static func lines(_ batchID: String, _ n: Int) -> [BatchLine] {
        (0..<n).map { BatchLine(batchID: batchID, index: $0, customID: "req-\($0)", body: #"{"model":"demo","n":\#($0)}"#) }
    }

    /// Files and batches round-trip, list newest first per owner with `after` paging, and move between statuses only
    /// from the statuses given.
    static func filesAndBatches(_ s: any Storage) async throws {
        for (i, owner) in ["key:a", "key:b", "key:a"].enumerated() {
            try await s.insertFile(file("file-\(i)", owner: owner, at: 100 + i), content: "line \(i)\n")
        }
        #expect(try await s.file(id: "file-0") == file("file-0", at: 100))
        #expect(try await s.fileContent(id: "file-2") == "line 2\n")
        #expect(try await s.file(id: "file-9") == nil)
        #expect(try await s.fileContent(id: "file-9") == nil)
        await #expect(throws: StorageError.self) { try await s.insertFile(file("file-0", at: 1), content: "") }
        #expect(try await s.files(owner: "key:a", purpose: nil, after: nil, limit: 10).map(\.id) == ["file-2", "file-0"])
        #expect(try await s.files(owner: nil, purpose: "batch", after: nil, limit: 10).map(\.id) == ["file-2", "file-1", "file-0"])
        #expect(try await s.files(owner: nil, purpose: "batch_output", after: nil, limit: 10).isEmpty)
        #expect(try await s.files(owner: nil, purpose: nil, after: "file-2", limit: 1).map(\.id) == ["file-1"])
        #expect(try await s.deleteFile(id: "file-1"))
        #expect(try await !s.deleteFile(id: "file-1"))

        var meta = BatchRecord(id: "batch_1", owner: "key:a", keyName: "alice", endpoint: "/v1/chat/completions", inputFileID: "file-0",
                               createdAt: 200, expiresAt: 200 + 86_400, total: 3, metadata: #"{"job":"nightly"}"#)
        try await s.insertBatch(meta, lines: lines("batch_1", 3))
        try await s.insertBatch(BatchRecord(id: "batch_2", owner: "key:b", keyName: "bob", endpoint: "/v1/embeddings", inputFileID: "file-2",
                                            createdAt: 300, expiresAt: 300 + 86_400, total: 1), lines: lines("batch_2", 1))
        await #expect(throws: StorageError.self) { try await s.insertBatch(meta, lines: []) }
        #expect(try await s.batch(id: "batch_1") == meta)
        #expect(try await s.batches(owner: nil, after: nil, limit: 10).map(\.id) == ["batch_2", "batch_1"])
        #expect(try await s.batches(owner: "key:a", after: nil, limit: 10).map(\.id) == ["batch_1"])
        #expect(try await s.batches(owner: nil, after: "batch_2", limit: 10).map(\.id) == ["batch_1"])
        #expect(try await s.activeBatches().map(\.id) == ["batch_1", "batch_2"])

        #expect(try await s.moveBatch(id: "batch_1", from: [.validating], to: .inProgress, at: 201))
        #expect(try await !s.moveBatch(id: "batch_1", from: [.validating], to: .inProgress, at: 202))
        meta.status = .inProgress
        meta.inProgressAt = 201
        #expect(try await s.batch(id: "batch_1") == meta)

        // Ending it stores both files and their ids, once.
        let out = BatchOutputFile(file: file("file-out", at: 400), content: "{\"ok\":1}\n")
        #expect(try await s.finishBatch(id: "batch_1", from: [.inProgress], to: .completed, at: 400, output: out, errorFile: nil, errors: nil))
        #expect(try await !s.finishBatch(id: "batch_1", from: [.inProgress], to: .expired, at: 401, output: nil, errorFile: nil, errors: nil))
        let done = try #require(try await s.batch(id: "batch_1"))
        #expect(done.status == .completed && done.completedAt == 400 && done.outputFileID == "file-out" && done.errorFileID == nil)
        #expect(try await s.fileContent(id: "file-out") == "{\"ok\":1}\n")
        #expect(try await s.activeBatches().map(\.id) == ["batch_2"])

        // Retention: finished batches and files older than the cutoff; the active batch stays.
        #expect(try await s.deleteBatchData(before: 350) == 3)     // batch_1, file-0, file-2
        #expect(try await s.batch(id: "batch_1") == nil)
        #expect(try await s.batch(id: "batch_2") != nil)
        #expect(try await s.batchOutcomes(batchID: "batch_1").isEmpty)
        #expect(try await s.file(id: "file-out") != nil)
    }

    /// Lines: claimed in order, each by one runner; done with its result counted once; retried after a delay; taken
    /// again only when its runner's lease has passed; a late runner's result refused.
    static func claimsAndLeases(_ s: any Storage) async throws {
        try await s.insertBatch(BatchRecord(id: "batch_c", owner: "key:a", keyName: "a", endpoint: "/v1/chat/completions", inputFileID: "f",
                                            createdAt: 10, expiresAt: 1_000, total: 4), lines: lines("batch_c", 4))
        // Not in progress yet: nothing to take.
        #expect(try await s.claimBatchLines(owner: "r1", nowMs: 20_000, leaseMs: 1_000, limit: 10).isEmpty)
        #expect(try await s.moveBatch(id: "batch_c", from: [.validating], to: .inProgress, at: 11))

        let first = try await s.claimBatchLines(owner: "r1", nowMs: 20_000, leaseMs: 1_000, limit: 2)
        #expect(first.map(\.index) == [0, 1] && first.map(\.attempts) == [1, 1] && first[0].customID == "req-0")
        #expect(first[1].body == #"{"model":"demo","n":1}"#)
        let second = try await s.claimBatchLines(owner: "r2", nowMs: 20_000, leaseMs: 1_000, limit: 10)
        #expect(second.map(\.index) == [2, 3])
        #expect(try await s.batchLineCounts(batchID: "batch_c", nowMs: 20_500) == BatchLineCounts(open: 4, running: 4))

        #expect(try await s.finishBatchLine(batchID: "batch_c", index: 0, owner: "r1", result: "ok0", failed: false))
        #expect(try await !s.finishBatchLine(batchID: "batch_c", index: 0, owner: "r1", result: "again", failed: false))
        #expect(try await !s.finishBatchLine(batchID: "batch_c", index: 2, owner: "r1", result: "not mine", failed: false))
        #expect(try await s.finishBatchLine(batchID: "batch_c", index: 2, owner: "r2", result: "bad2", failed: true))

        // Line 1 refused for a rate limit: back, due at 25 s.
        try await s.retryBatchLine(batchID: "batch_c", index: 1, owner: "r1", notBeforeMs: 25_000)
        #expect(try await s.claimBatchLines(owner: "r3", nowMs: 20_600, leaseMs: 1_000, limit: 10).isEmpty)
        // r2 keeps line 3 alive; r2 "dies" later: at 40 s its lease (renewed to 30 s) has passed.
        try await s.renewBatchLines(owner: "r2", untilMs: 30_000)
        let due = try await s.claimBatchLines(owner: "r3", nowMs: 25_000, leaseMs: 1_000, limit: 10)
        #expect(due.map(\.index) == [1] && due[0].attempts == 2)
        #expect(try await s.batchLineCounts(batchID: "batch_c", nowMs: 25_000) == BatchLineCounts(open: 2, running: 2))
        #expect(try await s.batchLineCounts(batchID: "batch_c", nowMs: 35_000) == BatchLineCounts(open: 2, running: 0))
        let retaken = try await s.claimBatchLines(owner: "r4", nowMs: 40_000, leaseMs: 1_000, limit: 10)
        #expect(retaken.map(\.index) == [1, 3])
        #expect(try await !s.finishBatchLine(batchID: "batch_c", index: 3, owner: "r2", result: "late", failed: false))
        #expect(try await s.finishBatchLine(batchID: "batch_c", index: 3, owner: "r4", result: "ok3", failed: false))
        #expect(try await s.finishBatchLine(batchID: "batch_c", index: 1, owner: "r4", result: "ok1", failed: false))

        let b = try #require(try await s.batch(id: "batch_c"))
        #expect(b.completed == 3 && b.failed == 1 && b.total == 4)
        #expect(try await s.batchLineCounts(batchID: "batch_c", nowMs: 40_000) == BatchLineCounts(open: 0, running: 0))
        #expect(try await s.batchOutcomes(batchID: "batch_c") == [
            BatchLineOutcome(index: 0, customID: "req-0", result: "ok0", failed: false),
            BatchLineOutcome(index: 1, customID: "req-1", result: "ok1", failed: false),
            BatchLineOutcome(index: 2, customID: "req-2", result: "bad2", failed: true),
            BatchLineOutcome(index: 3, customID: "req-3", result: "ok3", failed: false),
        ])

        // One finisher at a time; another may take over once its lease passes.
        #expect(try await s.claimBatchFinish(id: "batch_c", owner: "r1", nowMs: 50_000, leaseMs: 1_000))
        #expect(try await !s.claimBatchFinish(id: "batch_c", owner: "r2", nowMs: 50_500, leaseMs: 1_000))
        #expect(try await s.claimBatchFinish(id: "batch_c", owner: "r1", nowMs: 50_500, leaseMs: 1_000))
        #expect(try await s.claimBatchFinish(id: "batch_c", owner: "r2", nowMs: 52_000, leaseMs: 1_000))

        // An expired batch's lines are not taken.
        try await s.insertBatch(BatchRecord(id: "batch_x", owner: "key:a", keyName: "a", endpoint: "/v1/embeddings", inputFileID: "f",
                                            status: .inProgress, createdAt: 10, expiresAt: 60, total: 1), lines: lines("batch_x", 1))
        #expect(try await s.claimBatchLines(owner: "r1", nowMs: 60_000, leaseMs: 1_000, limit: 10).isEmpty)
    }

    /// Eight runners claiming at once over 200 lines: every line taken exactly once.
    static func claimsAreExclusive(_ runners: [any Storage]) async throws {
        let s = runners[0]
        try await s.insertBatch(BatchRecord(id: "batch_r", owner: "key:a", keyName: "a", endpoint: "/v1/chat/completions", inputFileID: "f",
                                            status: .inProgress, createdAt: 10, expiresAt: 100_000, total: 200), lines: lines("batch_r", 200))
        let taken = try await withThrowingTaskGroup(of: [Int].self) { group in
            for (i, r) in runners.enumerated() {
                group.addTask {
                    var mine: [Int] = []
                    while true {
                        let got = try await r.claimBatchLines(owner: "r\(i)", nowMs: 1_000, leaseMs: 60_000, limit: 7)
                        if got.isEmpty { return mine }
                        mine += got.map(\.index)
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(taken.count == 200 && Set(taken) == Set(0..<200))
    }

    @Test func memoryKeepsFilesAndBatches() async throws {
        try await Self.filesAndBatches(MemoryStorage())
        try await Self.claimsAndLeases(MemoryStorage())
        let m = MemoryStorage()
        try await Self.claimsAreExclusive(Array(repeating: m, count: 8))
    }

    @Test func sqliteKeepsFilesAndBatches() async throws {
        try await ReviewStorageTests.withSQLite { try await Self.filesAndBatches($0) }
        try await ReviewStorageTests.withSQLite { try await Self.claimsAndLeases($0) }
        try await ReviewStorageTests.withSQLite { try await Self.claimsAreExclusive(Array(repeating: $0, count: 8)) }
    }
}

/// The same on PostgreSQL, the concurrent claims each through its own replica (connection pool).
@Suite(.needsPostgres) struct PostgresBatchStorageTests {
    @Test func postgresKeepsFilesAndBatches() async throws {
        for contract in [BatchStorageTests.filesAndBatches, BatchStorageTests.claimsAndLeases] {
            let s = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
            try await s.migrate()
            try await contract(s)
            try await s.close()
        }
    }

    @Test func postgresGivesEachLineToOneReplica() async throws {
        let url = try await TestPostgres.freshDatabase()
        var replicas: [PostgresStorage] = []
        for _ in 0..<8 { replicas.append(try await PostgresStorage.open(url: url)) }
        try await replicas[0].migrate()
        try await BatchStorageTests.claimsAreExclusive(replicas)
        for r in replicas { try await r.close() }
    }
}
