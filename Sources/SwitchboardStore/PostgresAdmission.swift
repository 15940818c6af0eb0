import Foundation
import Logging
import PostgresNIO
import Synchronization
import SwitchboardCore
import SwitchboardRouting

/// Admission shared by every replica on one PostgreSQL: exact, because the database never hands out more than a
/// limit, each grant decided under the advisory locks of the request's scopes, on the database's clock, from the
/// shared counts.
///
/// Per scope the database holds requests and tokens per whole second (`rate_windows`), requests in flight (or slots
/// held) and USD reserved per replica (`inflight`, with a heartbeat: a replica that stops is ignored after
/// `staleAfter` seconds), and daily spend (`spend_daily`). A replica leases slices of them (`sb_lease`, one round
/// trip, the rules of `AdmissionBook`) and admits from its slices without a round trip (`LeaseBook`): requests and
/// tokens charged in one database second and usable until it ends, in-flight slots, reserved USD. Near a limit the
/// slices shrink to one request and admission is per request; a refusal always comes from the database. Unused
/// units go back with the next lease or the completion batch (see docs/keys-and-limits.md).
/// Completions are batched (every `flushInterval`, in one transaction): reservations given back, token estimates
/// corrected, actual spend added — atomically, so a budget never sees a request neither as reserved nor as spent —
/// with what the replica owes back. `sb_admit` (per request, `admit(_:charge:at:)`) stays for tests on a fixed clock.
public final class PostgresAdmission: AdmissionLedger {
    struct Completion {
        var grant: AdmissionGrant
        var tokens: Int?
        var usd: Double
        var budgets: [String: [Budget]]
    }

    let storage: PostgresStorage
    public let replica: String
    let logger: Logger
    let onAlerts: @Sendable ([BudgetAlert]) -> Void
    private let pending = Mutex<(items: [Completion], scheduled: Bool)>(([], false))
    let flushInterval: Duration
    private let flushes = WriteGate()
    public static let staleAfter = 30.0
    /// Seconds after which the rows of a replica without heartbeat are ignored.
    let staleAfter: Double
    let lease = Mutex(LeaseState())
    /// Monotonic seconds (the slices' deadlines).
    let clock: @Sendable () -> Double
    let leaseCalls = Atomic<Int>(0)

    public convenience init(storage: PostgresStorage, flushInterval: Duration = .milliseconds(20), logger: Logger,
                            onAlerts: @escaping @Sendable ([BudgetAlert]) -> Void = { _ in }) {
        self.init(storage: storage, flushInterval: flushInterval, logger: logger, onAlerts: onAlerts, staleAfter: Self.staleAfter,
                  clock: Self.monotonicSeconds())
    }

    init(storage: PostgresStorage, flushInterval: Duration = .milliseconds(20), logger: Logger,
         onAlerts: @escaping @Sendable ([BudgetAlert]) -> Void = { _ in }, staleAfter: Double, clock: @escaping @Sendable () -> Double) {
        self.storage = storage
        replica = KeyText.random(12, alphabet: KeyText.idAlphabet)
        self.flushInterval = flushInterval
        self.logger = logger
        self.onAlerts = onAlerts
        self.staleAfter = staleAfter
        self.clock = clock
    }

    /// Round trips to `sb_lease` so far.
    public var leaseRoundTrips: Int { leaseCalls.load(ordering: .relaxed) }

    public var chargesSpend: Bool { true }

    public func admit(_ checks: [AdmissionCheck], charge: AdmissionCharge) async throws -> AdmissionDecision {
        try await leaseAdmit(checks, charge: charge)
    }

    /// One round trip: `sb_admit` decides and charges under the scopes' locks. `at` (seconds since 1970) replaces
    /// the database clock in tests.
    func admit(_ checks: [AdmissionCheck], charge: AdmissionCharge, at: Double?) async throws -> AdmissionDecision {
        let rated = checks.filter { !$0.rates.isUnlimited }
        let budgets = checks.flatMap { c in c.budgets.map { (c.scope, $0) } }
        let scopes = rated.map(\.scope)
        let rpms = rated.map { $0.rates.rpm ?? 0 }, tpms = rated.map { $0.rates.tpm ?? 0 }, concs = rated.map { $0.rates.maxConcurrent ?? 0 }
        let bScopes = budgets.map(\.0), bPeriods = budgets.map(\.1.period.rawValue), bLimits = budgets.map(\.1.limitUSD)
        let rows = try await storage.client.query("""
            SELECT admitted, kind, r_scope, r_limit, r_value, retry_ms, spent, now_s, lim_req, rem_req, reset_req_ms, lim_tok, rem_tok, reset_tok_ms
            FROM sb_admit(\(scopes)::text[], \(rpms)::bigint[], \(tpms)::bigint[], \(concs)::bigint[], \(bScopes)::text[], \(bPeriods)::text[],
                          \(bLimits)::float8[], \(charge.tokens), \(charge.reserveUSD), \(replica), \(staleAfter), \(at))
            """, logger: logger).collect()
        guard let row = rows.first?.makeRandomAccess() else { throw StorageError.corrupt("sb_admit returned no row") }
        let now = try row["now_s"].decode(Double.self)
        if try row["admitted"].decode(Bool.self) {
            return .admitted(AdmissionGrant(rateScopes: scopes, budgetScopes: Array(Set(bScopes)).sorted(), charge: charge,
                                            startedMs: now * 1000, status: try Self.status(row)))
        }
        return .refused(try Self.refusal(row))
    }

    public func complete(_ grant: AdmissionGrant, actualTokens: Int?, actualUSD: Double, budgets: [String: [Budget]]) -> [BudgetAlert] {
        lease.withLock { $0.book.complete(grant) }
        let schedule = pending.withLock { p in
            p.items.append(Completion(grant: grant, tokens: actualTokens, usd: actualUSD, budgets: budgets))
            defer { p.scheduled = true }
            return !p.scheduled
        }
        if schedule {
            Task { [self] in
                try? await Task.sleep(for: flushInterval)
                await flushPending()
            }
        }
        return []
    }

    /// Writes every pending completion; on failure they stay pending and the flush is retried. Flushes run one at
    /// a time, so when this returns, everything completed before the call is in the database.
    public func flushPending() async {
        _ = try? await flushes.run { await self.flushNow() }
    }

    /// Gives back every slice this replica holds, with the completions pending (at shutdown).
    public func releaseLeases() async {
        _ = try? await flushes.run { await self.flushNow(everything: true) }
    }

    /// With the completions, what this replica owes back: unused units of expired slices, spare slots and USD beyond
    /// what it keeps (`everything`: all it holds; `idle`: also all of scopes unused since the last idle pass).
    private func flushNow(everything: Bool = false, idle: Bool = false) async {
        var delay = flushInterval
        var first = true
        while true {
            let items = pending.withLock { p in
                let items = p.items
                p.items = []
                if items.isEmpty { p.scheduled = false }
                return items
            }
            let now = clock()
            let returns = lease.withLock { $0.book.collect(now: now, everything: everything && first, idle: idle && first) }
            first = false
            if items.isEmpty && returns.isEmpty { return }
            do {
                try await write(items, returns)
                if !returns.rates.isEmpty { lease.withLock { $0.book.givenBack += 1 } }
            } catch {
                logger.error("Could not write finished requests' limits and spend; retrying", metadata: ["error.type": "\(type(of: error))"])
                pending.withLock { $0.items.insert(contentsOf: items, at: 0) }
                lease.withLock { $0.book.returns.merge(returns) }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Writes completions and what this replica gives back. A completed request's slots stay with the replica
    /// (`LeaseBook.complete`); they come back to the database through `returns`.
    func write(_ items: [Completion], _ returns: LeaseBook.Returns = .init()) async throws {
        var release: [String: (requests: Int, reserved: Double)] = [:]
        var rateFix: [String: (requests: Int, tokens: Int)] = [:]
        var spend: [String: SpendRollup.Row] = [:]
        var alertBudgets: [String: [Budget]] = [:]
        for (scope, n) in returns.slots { release[scope, default: (0, 0)].requests += n }
        for (scope, usd) in returns.usd { release[scope, default: (0, 0)].reserved += usd }
        for (k, v) in returns.rates {
            rateFix["\(k.scope)\u{0}\(k.second)", default: (0, 0)].requests -= v.requests
            rateFix["\(k.scope)\u{0}\(k.second)", default: (0, 0)].tokens -= v.tokens
        }
        for c in items {
            let g = c.grant
            let day = BudgetCalendar.day(g.startedMs / 1000), second = Int((g.startedMs / 1000).rounded(.down))
            for scope in g.budgetScopes {
                release[scope, default: (0, 0)].reserved += g.charge.reserveUSD
                spend["\(scope)\u{0}\(day)", default: .init(scope: scope, day: day, usd: 0, requests: 0, tokens: 0)].usd += c.usd
                spend["\(scope)\u{0}\(day)"]!.requests += 1
                spend["\(scope)\u{0}\(day)"]!.tokens += c.tokens ?? 0
                if let b = c.budgets[scope], b.contains(where: { $0.alertUSD != nil }) { alertBudgets[scope] = b }
            }
            if let actual = c.tokens, actual != g.charge.tokens {
                for scope in g.rateScopes { rateFix["\(scope)\u{0}\(second)", default: (0, 0)].tokens += actual - g.charge.tokens }
            }
        }
        let logger = logger, replica = replica
        let releaseScopes = Array(release.keys)
        let fixKeys = Array(rateFix.keys)
        let lockScopes = Array(Set(releaseScopes + spend.values.map(\.scope) + fixKeys.map { String($0.split(separator: "\u{0}")[0]) })).sorted()
        try await storage.client.withTransaction(logger: logger) { tx in
            // The scopes' advisory locks first, in sb_admit's order: admissions and completions of a scope take
            // turns, and rows are always locked in the same order (rate_windows, inflight, spend_daily).
            try await tx.query("SELECT sb_lock_scopes(\(lockScopes))", logger: logger)
            if !fixKeys.isEmpty {
                let parts = fixKeys.map { $0.split(separator: "\u{0}", maxSplits: 1) }
                try await tx.query("""
                    UPDATE rate_windows SET requests = GREATEST(0, rate_windows.requests + d.dr), tokens = GREATEST(0, rate_windows.tokens + d.dt)
                    FROM (SELECT unnest(\(parts.map { String($0[0]) })::text[]) AS scope, unnest(\(parts.map { Int($0[1])! })::bigint[]) AS second,
                                 unnest(\(fixKeys.map { rateFix[$0]!.requests })::bigint[]) AS dr,
                                 unnest(\(fixKeys.map { rateFix[$0]!.tokens })::bigint[]) AS dt) d
                    WHERE rate_windows.scope = d.scope AND rate_windows.second = d.second
                    """, logger: logger)
            }
            // Rows in scope order, as sb_admit inserts them and the heartbeat updates them.
            try await tx.query("SELECT 1 FROM inflight WHERE replica = \(replica) AND scope = ANY(\(releaseScopes)) ORDER BY scope FOR UPDATE",
                               logger: logger)
            try await tx.query("""
                UPDATE inflight SET requests = GREATEST(0, inflight.requests - d.requests),
                    reserved_usd = GREATEST(0, inflight.reserved_usd - d.reserved)
                FROM (SELECT unnest(\(releaseScopes)::text[]) AS scope, unnest(\(releaseScopes.map { release[$0]!.requests })::bigint[]) AS requests,
                             unnest(\(releaseScopes.map { release[$0]!.reserved })::float8[]) AS reserved) d
                WHERE inflight.scope = d.scope AND inflight.replica = \(replica)
                """, logger: logger)
            if !spend.isEmpty { try await PostgresStorage.addSpend(Array(spend.values), tx, logger) }
        }
        // After the commit: an alert that fails must not make the batch run again.
        if !alertBudgets.isEmpty {
            do { try await sendAlerts(alertBudgets) } catch {
                logger.warning("Budget alert check failed", metadata: ["error.type": "\(type(of: error))"])
            }
        }
    }

    /// Soft limits crossed by now: each (scope, period) is claimed once in `budget_alerts`, by whichever replica
    /// gets there first, and only that one reports it.
    func sendAlerts(_ budgets: [String: [Budget]]) async throws {
        var alerts: [BudgetAlert] = []
        let now = Date().timeIntervalSince1970, today = BudgetCalendar.day(now)
        for (scope, list) in budgets {
            let ledger = try await storage.spend(scope: scope, fromDay: today - 62)
            for b in list {
                guard let alert = b.alertUSD else { continue }
                let spent = ledger.spent(b.period, today: today)
                guard spent >= alert else { continue }
                let start = BudgetCalendar.start(of: b.period, containing: today)
                let period = "\(b.period.rawValue):\(start)"
                let claimed = try await storage.client.query("""
                    INSERT INTO budget_alerts (scope, period, sent_at) VALUES (\(scope), \(period), \(now))
                    ON CONFLICT DO NOTHING RETURNING scope
                    """, logger: logger).collect()
                if !claimed.isEmpty { alerts.append(BudgetAlert(scope: scope, budget: b, spentUSD: spent, periodStart: start)) }
            }
        }
        if !alerts.isEmpty { onAlerts(alerts) }
    }

    /// Keeps this replica's in-flight rows (its requests and the slices it holds) alive, gives back the slices of
    /// scopes it stopped using, and clears what no replica needs any more. Run it every few seconds (well within
    /// `staleAfter`).
    public func maintain() async throws {
        let logger = logger, replica = replica
        try await storage.client.withTransaction(logger: logger) { conn in
            // Rows in scope order, as sb_admit and the completion batches lock them (no deadlock between them).
            try await conn.query("SELECT 1 FROM inflight WHERE replica = \(replica) ORDER BY scope FOR UPDATE", logger: logger)
            try await conn.query("UPDATE inflight SET heartbeat = extract(epoch FROM clock_timestamp()) WHERE replica = \(replica)", logger: logger)
            try await conn.query("DELETE FROM inflight WHERE heartbeat < extract(epoch FROM clock_timestamp()) - 600", logger: logger)
            try await conn.query("DELETE FROM rate_windows WHERE second < extract(epoch FROM clock_timestamp())::bigint - 120", logger: logger)
        }
        // What this replica holds on scopes it no longer uses goes back (with the usual give-backs).
        _ = try? await flushes.run { await self.flushNow(idle: true) }
    }
}
