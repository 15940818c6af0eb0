import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardStore

/// Human-review tickets: the storage contract (memory, SQLite; PostgreSQL in `PostgresReviewStorageTests`), and a
/// decision taken once when several are attempted at the same moment.
@Suite struct ReviewStorageTests {
    static func ticket(_ id: String, at: Int64, status: ReviewTicket.Status = .pending, keyID: String? = nil, team: String? = nil) -> ReviewTicket {
        ReviewTicket(id: id, createdMs: at, deadlineMs: at + 60_000, status: status, api: "openai", model: "demo", keyName: "ci",
                     keyID: keyID, team: team, reason: "guardrail pii: an email address", request: #"{"messages":[{"role":"user","content":"hi"}]}"#)
    }

    /// The same contract for every storage: every field round-trips (optionals nil and set), listing is newest first
    /// (time, then id) with and without a status filter and limit, and a decision moves a ticket once.
    static func storeContract(_ s: any Storage) async throws {
        // Every optional set, including the decision's.
        var full = ticket("rev_0001", at: 1_000, status: .rejected, keyID: "kid000000001", team: "research")
        full.decidedBy = "ops"
        full.decidedMs = 1_500
        full.note = "not this one"
        full.edited = #"{"messages":[]}"#
        let bare = ticket("rev_0002", at: 2_000)
        let tied = ticket("rev_0003", at: 2_000, team: "research")
        let newest = ticket("rev_0004", at: 3_000, keyID: "kid000000002")
        for t in [full, bare, tied, newest] { try await s.insertReview(t) }

        #expect(try await s.review(id: "rev_0001") == full)
        #expect(try await s.review(id: "rev_0002") == bare)
        #expect(try await s.review(id: "rev_0002")?.decidedMs == nil)
        #expect(try await s.review(id: "rev_9999") == nil)

        func ids(_ status: ReviewTicket.Status?, _ limit: Int = 100) async throws -> [String] {
            try await s.reviews(status: status, limit: limit).map(\.id)
        }
        #expect(try await s.reviews(status: nil, limit: 100) == [newest, tied, bare, full])
        #expect(try await ids(nil, 2) == ["rev_0004", "rev_0003"])
        #expect(try await ids(nil, 0).isEmpty)
        #expect(try await ids(.pending) == ["rev_0004", "rev_0003", "rev_0002"])
        #expect(try await ids(.pending, 1) == ["rev_0004"])
        #expect(try await ids(.rejected) == ["rev_0001"])
        #expect(try await ids(.approved).isEmpty)

        // Pending to approved once; a second decision from pending finds it decided.
        let approve = ReviewDecision(status: .approved, by: "ana", atMs: 2_500, note: "fine", edited: #"{"messages":[{"role":"user","content":"hello"}]}"#)
        #expect(try await s.decideReview(id: "rev_0002", from: .pending, approve))
        #expect(try await !s.decideReview(id: "rev_0002", from: .pending, ReviewDecision(status: .rejected, by: "bob", atMs: 2_600, note: "no")))
        var approved = bare
        approved.status = .approved
        approved.decidedBy = "ana"
        approved.decidedMs = 2_500
        approved.note = "fine"
        approved.edited = approve.edited
        #expect(try await s.review(id: "rev_0002") == approved)

        // A later step without a note or edited body keeps both.
        #expect(try await s.decideReview(id: "rev_0002", from: .approved, ReviewDecision(status: .done, by: "gateway", atMs: 2_700)))
        approved.status = .done
        approved.decidedBy = "gateway"
        approved.decidedMs = 2_700
        #expect(try await s.review(id: "rev_0002") == approved)

        // A note alone: the note is set, edited stays empty, the request is untouched.
        #expect(try await s.decideReview(id: "rev_0003", from: .pending, ReviewDecision(status: .expired, by: "timeout", atMs: 62_000, note: "deadline")))
        #expect(try await s.review(id: "rev_0003")?.note == "deadline")
        #expect(try await s.review(id: "rev_0003")?.edited == nil)
        #expect(try await s.review(id: "rev_0003")?.request == tied.request)

        #expect(try await !s.decideReview(id: "rev_9999", from: .pending, approve))
        #expect(try await s.review(id: "rev_9999") == nil)
        #expect(try await ids(.pending) == ["rev_0004"])
        #expect(try await ids(.done) == ["rev_0002"])
    }

    /// Ten deciders on one pending ticket at once: exactly one wins, and the ticket holds the winner's decision.
    static func oneDecisionWins(_ s: any Storage) async throws {
        try await s.insertReview(ticket("rev_race", at: 5_000))
        let won = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<10 {
                group.addTask {
                    let d = ReviewDecision(status: i.isMultiple(of: 2) ? .approved : .rejected, by: "reviewer\(i)", atMs: 6_000 + Int64(i), note: "n\(i)")
                    return (i, try await s.decideReview(id: "rev_race", from: .pending, d))
                }
            }
            var won: [Int] = []
            for try await (i, ok) in group where ok { won.append(i) }
            return won
        }
        #expect(won.count == 1)
        let winner = try #require(won.first)
        let stored = try #require(try await s.review(id: "rev_race"))
        #expect(stored.decidedBy == "reviewer\(winner)" && stored.note == "n\(winner)" && stored.decidedMs == 6_000 + Int64(winner))
        #expect(stored.status == (winner.isMultiple(of: 2) ? .approved : .rejected))
    }

    static func withSQLite(_ body: (SQLiteStorage) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let s = try await SQLiteStorage.open(path: path)
        try await s.migrate()
        try await body(s)
        try await s.close()
    }

    @Test func memoryKeepsReviewTickets() async throws {
        try await Self.storeContract(MemoryStorage())
        try await Self.oneDecisionWins(MemoryStorage())
    }

    @Test func sqliteKeepsReviewTickets() async throws {
        try await Self.withSQLite { try await Self.storeContract($0) }
    }

    @Test func sqliteDecidesAReviewOnce() async throws {
        try await Self.withSQLite { try await Self.oneDecisionWins($0) }
    }
}

/// The review tickets' storage contract on PostgreSQL; the concurrent deciders each come through their own replica
/// (connection pool), as replicas behind a load balancer would.
@Suite(.needsPostgres) struct PostgresReviewStorageTests {
    @Test func postgresKeepsReviewTickets() async throws {
        let s = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
        try await s.migrate()
        try await ReviewStorageTests.storeContract(s)
        try await s.close()
    }

    @Test func postgresDecidesAReviewOnceAcrossReplicas() async throws {
        let url = try await TestPostgres.freshDatabase()
        let first = try await PostgresStorage.open(url: url)
        try await first.migrate()
        try await ReviewStorageTests.oneDecisionWins(first)
        // Ten replicas, one decider each.
        var replicas: [PostgresStorage] = []
        for _ in 0..<10 { replicas.append(try await PostgresStorage.open(url: url)) }
        try await first.insertReview(ReviewStorageTests.ticket("rev_replicas", at: 7_000))
        let won = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (i, r) in replicas.enumerated() {
                group.addTask { try await r.decideReview(id: "rev_replicas", from: .pending, ReviewDecision(status: .approved, by: "r\(i)", atMs: 8_000)) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(won == 1)
        #expect(try await first.review(id: "rev_replicas")?.status == .approved)
        for r in replicas + [first] { try await r.close() }
    }
}
