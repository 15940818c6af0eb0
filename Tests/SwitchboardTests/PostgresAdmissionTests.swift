import Foundation
import Logging
import SwitchboardCore
import SwitchboardRouting
import Testing
@testable import SwitchboardStore

/// Admission shared through PostgreSQL, with three "replicas" (three ledgers, three connection pools) on one database.
@Suite struct PostgresAdmissionTests {
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
}
