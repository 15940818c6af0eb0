import Foundation
import Logging
import SwitchboardCore
import SwitchboardRouting
import Testing
@testable import SwitchboardStore

/// Admission shared through PostgreSQL, with three "replicas" (three ledgers, three connection pools) on one database.
@Suite(.needsPostgres) struct PostgresAdmissionTests {
    static func replicas(_ n: Int, onAlerts: @escaping @Sendable ([BudgetAlert]) -> Void = { _ in }) async throws -> ([PostgresAdmission], [PostgresStorage]) {
        let url = try await TestPostgres.freshDatabase()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var ledgers: [PostgresAdmission] = [], stores: [PostgresStorage] = []
        for _ in 0..<n {
            let s = try await PostgresStorage.open(url: url)
            try await s.migrate()
            stores.append(s)
            ledgers.append(PostgresAdmission(storage: s, logger: logger, onAlerts: onAlerts))
        }
        return (ledgers, stores)
    }

    /// 300 concurrent admissions spread over the replicas: exactly `expected` get through.
    static func storm(_ ledgers: [PostgresAdmission], _ checks: [AdmissionCheck], charge: AdmissionCharge, count: Int = 300) async throws -> [(Int, AdmissionGrant)] {
        try await withThrowingTaskGroup(of: (Int, AdmissionGrant)?.self) { group in
            for i in 0..<count {
                group.addTask {
                    if case .admitted(let g) = try await ledgers[i % ledgers.count].admit(checks, charge: charge) { return (i % ledgers.count, g) }
                    return nil
                }
            }
            var out: [(Int, AdmissionGrant)] = []
            for try await r in group { if let r { out.append(r) } }
            return out
        }
    }

    @Test func rpmIsExactAcrossReplicas() async throws {
        let (ledgers, stores) = try await Self.replicas(3)
        let checks = [AdmissionCheck(scope: "key:k", rates: .init(rpm: 100))]
        let admitted = try await Self.storm(ledgers, checks, charge: .init(tokens: 10, reserveUSD: 0))
        #expect(admitted.count == 100)
        #expect(Set(admitted.map(\.0)).count == 3)    // every replica admitted some
        if case .refused(.rate(_, "rpm", 100, let retry?, _)) = try await ledgers[0].admit(checks, charge: .init(tokens: 1, reserveUSD: 0)) {
            #expect(retry > 0 && retry <= 60_000)
        } else {
            Issue.record("the 101st request was not refused for rpm")
        }
        for s in stores { try await s.close() }
    }

    @Test func concurrencyIsGivenBackByBatchedCompletions() async throws {
        let (ledgers, stores) = try await Self.replicas(3)
        let checks = [AdmissionCheck(scope: "team:t", rates: .init(maxConcurrent: 5))]
        let admitted = try await Self.storm(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0), count: 60)
        #expect(admitted.count == 5)
        for (replica, grant) in admitted.prefix(2) { _ = ledgers[replica].complete(grant, actualTokens: 0, actualUSD: 0, budgets: [:]) }
        for l in ledgers { await l.flushPending() }
        let more = try await Self.storm(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0), count: 30)
        #expect(more.count == 2)
        for s in stores { try await s.close() }
    }

    @Test func budgetsAreExactAcrossReplicasWithReservationsThenSpend() async throws {
        let alerts = Counter()
        let (ledgers, stores) = try await Self.replicas(3, onAlerts: { list in for _ in list { _ = alerts.next() } })
        let budget = Budget(period: .month, limitUSD: 1.0, alertUSD: 0.4)
        let checks = [AdmissionCheck(scope: "key:b", budgets: [budget])]
        // Each request reserves 0.1 USD: 0.0 … 0.9 reserved are under 1.0, so exactly 10 start.
        let admitted = try await Self.storm(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0.1))
        #expect(admitted.count == 10)
        // They cost 0.05 each: 0.5 spent, reservations released, 10 more at 0.05 fit... until 1.0.
        for (replica, grant) in admitted { _ = ledgers[replica].complete(grant, actualTokens: 0, actualUSD: 0.05, budgets: ["key:b": [budget]]) }
        for l in ledgers { await l.flushPending() }
        let ledger = try await stores[0].spend(scope: "key:b", fromDay: 0)
        #expect(abs(ledger.spent(.total, today: 0) - 0.5) < 1e-9)
        let second = try await Self.storm(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0.1))
        #expect(second.count == 5)
        // The soft limit (0.4) was crossed by requests of all three replicas; it is reported once.
        #expect(alerts.next() == 2)
        for s in stores { try await s.close() }
    }

    /// Requests that end (reservation → spend) while others are admitted are never counted neither as reserved nor
    /// as spent: a 0.0495 USD budget at 0.001 USD a request admits exactly 50, whatever the interleaving.
    /// With rate limits on the same scope and token corrections in the completions, nothing deadlocks (a
    /// deadlock would surface as an error from `admit`).
    @Test func budgetsHoldWhileCompletionsInterleave() async throws {
        let (ledgers, stores) = try await Self.replicas(3)
        let budget = Budget(period: .total, limitUSD: 0.0495)
        let checks = [AdmissionCheck(scope: "key:i", rates: .init(rpm: 1_000_000, tpm: 1_000_000_000, maxConcurrent: 1000), budgets: [budget]),
                      AdmissionCheck(scope: "team:i", rates: .init(rpm: 1_000_000))]
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<300 {
                group.addTask {
                    let ledger = ledgers[i % 3]
                    guard case .admitted(let g) = try await ledger.admit(checks, charge: .init(tokens: 50, reserveUSD: 0.001)) else { return 0 }
                    _ = ledger.complete(g, actualTokens: 20 + i % 7, actualUSD: 0.001, budgets: [:])
                    await ledger.flushPending()
                    return 1
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 50)
        for s in stores { try await s.close() }
    }

    /// The database decides as `AdmissionBook` does: the same random admissions and completions, on the same clock,
    /// give the same decisions, refusal reasons, Retry-After and remaining counts.
    @Test(arguments: [5, 6] as [UInt64])
    func sameDecisionsAsTheInProcessBook(_ seed: UInt64) async throws {
        let (ledgers, stores) = try await Self.replicas(1)
        let pg = ledgers[0]
        var book = AdmissionBook()
        var rng = SplitMix64(seed: seed)
        let key = AdmissionCheck(scope: "key:k", rates: .init(rpm: 12, tpm: 4000, maxConcurrent: 4),
                                 budgets: [Budget(period: .day, limitUSD: 2.0), Budget(period: .month, limitUSD: 3.0)])
        let model = AdmissionCheck(scope: "key:k/model:m", rates: .init(rpm: 7))
        let team = AdmissionCheck(scope: "team:t", rates: .init(tpm: 6000), budgets: [Budget(period: .week, limitUSD: 2.5)])
        var t = 1_804_680_000.25      // seconds; 2027-03-10 12:00 UTC
        var open: [(AdmissionGrant, AdmissionGrant)] = []
        var decisions = 0, refusals = 0
        for step in 0..<400 {
            t += Double(rng.next() % 3000) / 1000
            if !open.isEmpty, rng.next() % 3 == 0 {
                let (g1, g2) = open.remove(at: Int(rng.next() % UInt64(open.count)))
                let tokens = Int(rng.next() % 300), usd = Double(rng.next() % 100) / 1000
                _ = book.complete(g1, actualTokens: tokens, actualUSD: usd, nowMs: t * 1000)
                _ = pg.complete(g2, actualTokens: tokens, actualUSD: usd, budgets: [:])
                await pg.flushPending()
                continue
            }
            let checks = [[key, model, team], [key, team], [team]][Int(rng.next() % 3)]
            let charge = AdmissionCharge(tokens: Int(rng.next() % 600), reserveUSD: Double(rng.next() % 200) / 1000)
            let a = book.admit(checks, charge: charge, nowMs: t * 1000, today: BudgetCalendar.day(t))
            let b = try await pg.admit(checks, charge: charge, at: t)
            decisions += 1
            switch (a, b) {
            case (.admitted(let g1), .admitted(let g2)):
                #expect(g1.status == g2.status || (g1.status.remainingRequests == g2.status.remainingRequests
                                                   && g1.status.remainingTokens == g2.status.remainingTokens), "step \(step)")
                open.append((g1, g2))
            case (.refused(.rate(let s1, let l1, let v1, let r1, let st1)), .refused(.rate(let s2, let l2, let v2, let r2, let st2))):
                refusals += 1
                #expect(s1 == s2 && l1 == l2 && v1 == v2, "step \(step)")
                #expect((r1 == nil && r2 == nil) || abs((r1 ?? 0) - (r2 ?? 0)) < 1, "step \(step): \(String(describing: r1)) vs \(String(describing: r2))")
                #expect(st1.remainingRequests == st2.remainingRequests && st1.remainingTokens == st2.remainingTokens, "step \(step)")
            case (.refused(.budget(let s1, let p1, let l1, let sp1, let r1)), .refused(.budget(let s2, let p2, let l2, let sp2, let r2))):
                refusals += 1
                #expect(s1 == s2 && p1 == p2 && l1 == l2 && abs(sp1 - sp2) < 1e-9, "step \(step)")
                #expect((r1 == nil && r2 == nil) || abs((r1 ?? 0) - (r2 ?? 0)) < 1, "step \(step)")
            default:
                Issue.record("step \(step): the book says \(a), the database \(b)")
            }
        }
        #expect(decisions > 200 && refusals > 20)
        for s in stores { try await s.close() }
    }
}
