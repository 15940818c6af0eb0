import Foundation
import Logging
import PostgresNIO
import Synchronization
import SwitchboardCore
import SwitchboardRouting
import Testing
@testable import SwitchboardStore

/// Replicas admitting from slices leased from PostgreSQL (`sb_lease`, `LeaseBook`): few round trips, limits still
/// exact — several ledgers (three connection pools) on one database, admitting at once.
@Suite(.needsPostgres) struct PostgresLeaseTests {
    /// A clock a test moves by hand (monotonic seconds).
    final class ManualClock: Sendable {
        let seconds = Mutex(0.0)
        func advance(_ s: Double) { seconds.withLock { $0 += s } }
        var read: @Sendable () -> Double { { [self] in seconds.withLock { $0 } } }
    }

    /// No heartbeats run here (`maintain`), so a replica's rows are as old as its last lease: `staleAfter` is far
    /// longer than a test may take under load (a run of 55 s made the replicas stale at 30 s and over-admit).
    static func replicas(_ n: Int, clocks: [ManualClock?] = [], staleAfter: Double = 300) async throws -> ([PostgresAdmission], [PostgresStorage]) {
        let url = try await TestPostgres.freshDatabase()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var ledgers: [PostgresAdmission] = [], stores: [PostgresStorage] = []
        for i in 0..<n {
            let s = try await PostgresStorage.open(url: url)
            try await s.migrate()
            stores.append(s)
            let clock = i < clocks.count ? clocks[i]?.read : nil
            ledgers.append(PostgresAdmission(storage: s, logger: logger, staleAfter: staleAfter,
                                             clock: clock ?? PostgresAdmission.monotonicSeconds()))
        }
        return (ledgers, stores)
    }

    /// `workers` tasks per replica, each making its share of `attempts` admissions one after another (new requests
    /// keep arriving, so slices are leased and used). Returns the grants, by replica.
    static func run(_ ledgers: [PostgresAdmission], _ checks: [AdmissionCheck], charge: AdmissionCharge, attempts: Int, workers: Int = 6,
                    hold: (@Sendable (PostgresAdmission, AdmissionGrant) async -> Void)? = nil) async throws -> [[AdmissionGrant]] {
        let per = attempts / (ledgers.count * workers)
        return try await withThrowingTaskGroup(of: (Int, [AdmissionGrant]).self) { group in
            for (r, ledger) in ledgers.enumerated() {
                for _ in 0..<workers {
                    group.addTask {
                        var grants: [AdmissionGrant] = []
                        for _ in 0..<per {
                            if case .admitted(let g) = try await ledger.admit(checks, charge: charge) {
                                if let hold { await hold(ledger, g) } else { grants.append(g) }
                            }
                        }
                        return (r, grants)
                    }
                }
            }
            var out = Array(repeating: [AdmissionGrant](), count: ledgers.count)
            for try await (r, g) in group { out[r] += g }
            return out
        }
    }

    static func close(_ stores: [PostgresStorage]) async throws {
        for s in stores { try await s.close() }
    }

    @Test func rpmIsExactWithSlices() async throws {
        let (ledgers, stores) = try await Self.replicas(3)
        let checks = [AdmissionCheck(scope: "key:r", rates: .init(rpm: 600))]
        let grants = try await Self.run(ledgers, checks, charge: .init(tokens: 10, reserveUSD: 0), attempts: 1800)
        // Exactly the limit over all replicas; how it splits between them depends on scheduling (under load one
        // replica's workers may start after the others have used it all), so only the total is checked.
        #expect(grants.map(\.count).reduce(0, +) == 600)
        let trips = ledgers.map(\.leaseRoundTrips).reduce(0, +)
        #expect(trips < 1800, "slices: \(trips) round trips for 1800 requests")
        // The next one is refused by the database, with sb_admit's figures.
        if case .refused(.rate(_, "rpm", 600, let retry?, let status)) = try await ledgers[0].admit(checks, charge: .init(tokens: 1, reserveUSD: 0)) {
            #expect(retry > 0 && retry <= 60_000)
            #expect(status.limitRequests == 600 && status.remainingRequests == 0)
        } else {
            Issue.record("the 601st request was not refused for rpm")
        }
        try await Self.close(stores)
    }

    @Test func concurrencyIsNeverExceededAndTheLimitIsReachable() async throws {
        let (ledgers, stores) = try await Self.replicas(3)
        let limit = 200
        let checks = [AdmissionCheck(scope: "key:c", rates: .init(maxConcurrent: limit))]
        let inFlight = Atomic<Int>(0), peak = Atomic<Int>(0)
        _ = try await Self.run(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0), attempts: 3600, workers: 120) { ledger, grant in
            let now = inFlight.add(1, ordering: .sequentiallyConsistent).newValue
            peak.max(now, ordering: .sequentiallyConsistent)
            for _ in 0..<3 { await Task.yield() }
            inFlight.subtract(1, ordering: .sequentiallyConsistent)
            _ = ledger.complete(grant, actualTokens: 0, actualUSD: 0, budgets: [:])
        }
        #expect(peak.load(ordering: .sequentiallyConsistent) <= limit)
        for l in ledgers { await l.flushPending() }
        // With nothing in flight, exactly the limit is admitted again, over the replicas.
        let held = try await Self.run(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0), attempts: 3 * 3 * limit)
        #expect(held.map(\.count).reduce(0, +) == limit)
        try await Self.close(stores)
    }

    @Test func budgetIsExactWithSlices() async throws {
        let (ledgers, stores) = try await Self.replicas(3)
        // Admitted while spend plus reservations is under the budget: 0.000 … 0.999 reserved, exactly 1000 start.
        let checks = [AdmissionCheck(scope: "key:b", budgets: [Budget(period: .month, limitUSD: 0.9995)])]
        let grants = try await Self.run(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0.001), attempts: 3000)
        #expect(grants.map(\.count).reduce(0, +) == 1000)
        #expect(ledgers.map(\.leaseRoundTrips).reduce(0, +) < 3000)
        guard case .refused(.budget("key:b", .month, 0.9995, _, _)) = try await ledgers[1].admit(checks, charge: .init(tokens: 0, reserveUSD: 0.001)) else {
            Issue.record("the 1001st request was not refused for the budget")
            return
        }
        // They cost half their reservation: reservations released, spare given back, 1000 × 0.0005 spent.
        for (r, list) in grants.enumerated() {
            for g in list { _ = ledgers[r].complete(g, actualTokens: 0, actualUSD: 0.0005, budgets: [:]) }
        }
        for l in ledgers { await l.flushPending() }
        let spent = try await stores[0].spend(scope: "key:b", fromDay: 0).spent(.total, today: 0)
        #expect(abs(spent - 0.5) < 1e-9)
        let more = try await Self.run(ledgers, checks, charge: .init(tokens: 0, reserveUSD: 0.001), attempts: 1800)
        #expect(more.map(\.count).reduce(0, +) == 500)
        try await Self.close(stores)
    }

    /// A slice is usable until its database second ends; what it did not use goes back, and another replica
    /// admits with it.
    @Test func expiredSlicesComeBack() async throws {
        let clock = ManualClock()
        let (ledgers, stores) = try await Self.replicas(2, clocks: [clock])
        let (a, b) = (ledgers[0], ledgers[1])
        let checks = [AdmissionCheck(scope: "key:e", rates: .init(rpm: 1000))]
        let charge = AdmissionCharge(tokens: 1, reserveUSD: 0)
        for _ in 0..<100 {
            guard case .admitted = try await a.admit(checks, charge: charge) else { Issue.record("refused under the limit"); return }
        }
        let unused = a.lease.withLock { $0.book.scopes["key:e"]?.rate?.requests ?? 0 }
        #expect(unused > 0 && a.leaseRoundTrips < 20)
        var second = 0
        while case .admitted = try await b.admit(checks, charge: charge) { second += 1 }
        #expect(second == 900 - unused)
        // A's second ends: it admits no more from that slice, and gives the rest back.
        clock.advance(2)
        await a.flushPending()
        #expect(a.lease.withLock { $0.book.scopes["key:e"]?.rate } == nil)
        var third = 0
        while case .admitted = try await b.admit(checks, charge: charge) { third += 1 }
        #expect(third == unused)
        let trips = a.leaseRoundTrips
        guard case .refused(.rate(_, "rpm", 1000, _, _)) = try await a.admit(checks, charge: charge) else {
            Issue.record("admitted over the limit from an expired slice")
            return
        }
        #expect(a.leaseRoundTrips == trips + 1)
        try await Self.close(stores)
    }

    /// A governed key far from its limits: a few round trips for thousands of requests.
    @Test func fewRoundTripsFarFromTheLimits() async throws {
        let (ledgers, stores) = try await Self.replicas(1)
        let ledger = ledgers[0]
        let checks = [AdmissionCheck(scope: "key:g", rates: .init(rpm: 100_000_000, tpm: 10_000_000_000, maxConcurrent: 100_000),
                                     budgets: [Budget(period: .month, limitUSD: 1_000_000)])]
        let admitted = Atomic<Int>(0)
        _ = try await Self.run(ledgers, checks, charge: .init(tokens: 200, reserveUSD: 0.002), attempts: 2000, workers: 16) { ledger, grant in
            admitted.add(1, ordering: .relaxed)
            _ = ledger.complete(grant, actualTokens: 150, actualUSD: 0.001, budgets: [:])
        }
        #expect(admitted.load(ordering: .relaxed) == 2000)
        let trips = ledger.leaseRoundTrips
        #expect(trips < 100, "\(trips) round trips for 2000 requests")
        print("lease round trips for 2000 governed requests: \(trips)")
        // What it holds goes back at shutdown: no slots, no reservations left, requests counted exactly.
        await ledger.releaseLeases()
        let rows = try await stores[0].client.query("SELECT requests, reserved_usd FROM inflight WHERE scope = 'key:g'").collect()
        for row in rows {
            let (requests, reserved) = try row.decode((Int, Double).self)
            #expect(requests == 0 && abs(reserved) < 1e-9)
        }
        let counted = try await stores[0].client.query("SELECT coalesce(sum(requests), 0)::bigint FROM rate_windows WHERE scope = 'key:g'").collect()
        #expect(try counted.first?.decode(Int.self) == 2000)
        try await Self.close(stores)
    }

    /// A replica that stops sending heartbeats: the slots it held are ignored after `staleAfter`.
    @Test func aStaleReplicasSlotsAreIgnored() async throws {
        let (ledgers, stores) = try await Self.replicas(2)
        let (a, b) = (ledgers[0], ledgers[1])
        let checks = [AdmissionCheck(scope: "key:s", rates: .init(maxConcurrent: 100), budgets: [Budget(period: .total, limitUSD: 0.0995)])]
        let charge = AdmissionCharge(tokens: 0, reserveUSD: 0.001)
        let held = try await Self.run([a], checks, charge: charge, attempts: 300)
        #expect(held[0].count == 100)
        guard case .refused = try await b.admit(checks, charge: charge) else { Issue.record("admitted over the limit"); return }
        // A's heartbeat stopped ten minutes ago (its rows, slots and reservations, are older than staleAfter).
        try await stores[0].client.query("UPDATE inflight SET heartbeat = heartbeat - 600 WHERE replica = \(a.replica)")
        let after = try await Self.run([b], checks, charge: charge, attempts: 300)
        #expect(after[0].count == 100)
        try await Self.close(stores)
    }
}
