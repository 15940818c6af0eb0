import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardRouting

/// The leases of one replica, under one lock (never held across an await): its slices, and the requests that
/// wait, after a refusal, for this replica's leases still on their way.
struct LeaseState {
    var book = LeaseBook()
    var inFlight: Set<Int> = []
    var nextID = 0
    var waiters: [(ids: Set<Int>, resume: CheckedContinuation<Void, Never>)] = []
    /// Leases on their way that give back unused rate units.
    var givingBack: Set<Int> = []

    mutating func start(_ ask: LeaseBook.Ask) -> Int {
        nextID += 1
        inFlight.insert(nextID)
        if !ask.back.isEmpty { givingBack.insert(nextID) }
        return nextID
    }

    /// A lease was answered: the requests that waited for it and for nothing else may go on.
    mutating func landed(_ id: Int) -> [CheckedContinuation<Void, Never>] {
        inFlight.remove(id)
        if givingBack.remove(id) != nil { book.givenBack += 1 }
        var ready: [CheckedContinuation<Void, Never>] = []
        waiters = waiters.compactMap { w in
            var w = w
            w.ids.remove(id)
            if w.ids.isEmpty {
                ready.append(w.resume)
                return nil
            }
            return w
        }
        return ready
    }
}

extension PostgresAdmission {
    enum LeaseAnswer {
        case granted(LeaseBook.Reply)
        case refused(AdmissionRefusal)
    }

    /// Admits from this replica's slices, or leases what is lacking in one round trip. A refusal comes from the
    /// database; before it is returned, the request waits for this replica's leases already on their way (their
    /// spare parts may fit it) and asks again if this replica still holds unused units of expired slices on its
    /// scopes (it gives them back) or gave some back since it asked.
    func leaseAdmit(_ checks: [AdmissionCheck], charge: AdmissionCharge) async throws -> AdmissionDecision {
        var retries = 0
        while true {
            let now = clock()
            let (step, id) = lease.withLock { s -> (LeaseBook.Step?, Int) in
                let step = s.book.admit(checks, charge: charge, now: now)
                if case .lease(let ask)? = step { return (step, s.start(ask)) }
                return (step, 0)
            }
            guard case .lease(let ask)? = step else {
                if case .admitted(let grant)? = step { return .admitted(grant) }
                continue
            }
            let answer: LeaseAnswer
            do {
                // Not cancelled with the request (a client gone): a lease the database granted is always taken in
                // here, never lost with its spare parts.
                answer = try await Task { try await self.callLease(ask) }.value
            } catch {
                let ready = lease.withLock { s in
                    s.book.putBack(ask, refused: false)
                    return s.landed(id)
                }
                for r in ready { r.resume() }
                throw error
            }
            switch answer {
            case .granted(let reply):
                let (grant, ready) = lease.withLock { s in (s.book.granted(ask, reply, now: clock()), s.landed(id)) }
                for r in ready { r.resume() }
                return .admitted(grant)
            case .refused(let refusal):
                let (ready, others) = lease.withLock { s in
                    s.book.putBack(ask, refused: true)
                    return (s.landed(id), s.inFlight)
                }
                for r in ready { r.resume() }
                await waitFor(others)
                let local = lease.withLock { $0.book.admit(checks, charge: charge, now: clock(), localOnly: true) }
                if case .admitted(let grant)? = local { return .admitted(grant) }
                guard retries < 8 else { return .refused(refusal) }
                retries += 1
                let (owes, givingBack) = lease.withLock { ($0.book.owes(checks, now: clock()), $0.givingBack) }
                if owes { continue }
                await waitFor(givingBack)
                if lease.withLock({ $0.book.givenBack }) != ask.epoch { continue }
                return .refused(refusal)
            }
        }
    }

    /// Returns once none of the leases `ids` is on its way any more.
    func waitFor(_ ids: Set<Int>) async {
        guard !ids.isEmpty else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = lease.withLock { s in
                let pending = s.inFlight.intersection(ids)
                if !pending.isEmpty { s.waiters.append((pending, c)) }
                return pending.isEmpty
            }
            if done { c.resume() }
        }
    }

    /// One `sb_lease` round trip.
    func callLease(_ ask: LeaseBook.Ask) async throws -> LeaseAnswer {
        leaseCalls.add(1, ordering: .relaxed)
        let bScopes = ask.budgets.map(\.scope), bPeriods = ask.budgets.map(\.budget.period.rawValue), bLimits = ask.budgets.map(\.budget.limitUSD)
        let backScopes = ask.back.map(\.key.scope), backSecs = ask.back.map(\.key.second)
        let backReqs = ask.back.map(\.requests), backToks = ask.back.map(\.tokens)
        let rows = try await storage.client.query("""
            SELECT admitted, kind, r_scope, r_limit, r_value, retry_ms, spent, now_s, lim_req, rem_req, reset_req_ms, lim_tok, rem_tok, reset_tok_ms,
                   g_req, g_tok, g_slot, g_usd, w_req, w_tok, w_oldest
            FROM sb_lease(\(ask.scopes)::text[], \(ask.rpms)::bigint[], \(ask.tpms)::bigint[], \(ask.concs)::bigint[], \(ask.rateAsk)::bigint[],
                          \(ask.slotAsk)::bigint[], \(ask.usdAsk)::float8[], \(ask.usdBack)::float8[],
                          \(backScopes)::text[], \(backSecs)::bigint[], \(backReqs)::bigint[], \(backToks)::bigint[],
                          \(bScopes)::text[], \(bPeriods)::text[], \(bLimits)::float8[], \(ask.charge.tokens), \(ask.charge.reserveUSD),
                          \(replica), \(staleAfter), \(LeaseBook.share), \(LeaseBook.spareFloor), \(LeaseBook.margin))
            """, logger: logger).collect()
        guard let row = rows.first?.makeRandomAccess() else { throw StorageError.corrupt("sb_lease returned no row") }
        guard try row["admitted"].decode(Bool.self) else { return .refused(try Self.refusal(row)) }
        return .granted(LeaseBook.Reply(
            now: try row["now_s"].decode(Double.self),
            requests: try row["g_req"].decode([Int].self), tokens: try row["g_tok"].decode([Int].self),
            slots: try row["g_slot"].decode([Int].self), usd: try row["g_usd"].decode([Double].self),
            used: try row["w_req"].decode([Int].self), usedTokens: try row["w_tok"].decode([Int].self),
            oldest: try row["w_oldest"].decode([Int].self)))
    }

    /// The `x-ratelimit-*` figures of an `sb_admit` or `sb_lease` row.
    static func status(_ row: PostgresRandomAccessRow) throws -> RateLimitStatus {
        var status = RateLimitStatus()
        status.limitRequests = try row["lim_req"].decode(Int?.self)
        status.remainingRequests = try row["rem_req"].decode(Int?.self)
        status.resetRequestsMs = try row["reset_req_ms"].decode(Double?.self)
        status.limitTokens = try row["lim_tok"].decode(Int?.self)
        status.remainingTokens = try row["rem_tok"].decode(Int?.self)
        status.resetTokensMs = try row["reset_tok_ms"].decode(Double?.self)
        return status
    }

    /// The refusal of an `sb_admit` or `sb_lease` row that did not admit.
    static func refusal(_ row: PostgresRandomAccessRow) throws -> AdmissionRefusal {
        let scope = try row["r_scope"].decode(String.self), limit = try row["r_limit"].decode(String.self)
        let value = try row["r_value"].decode(Double.self), retry = try row["retry_ms"].decode(Double?.self)
        if try row["kind"].decode(String.self) == "budget" {
            return .budget(scope: scope, period: BudgetPeriod(rawValue: limit) ?? .total, limitUSD: value,
                           spentUSD: try row["spent"].decode(Double.self), retryAfterMs: retry)
        }
        return .rate(scope: scope, limit: limit, value: Int(value), retryAfterMs: retry, status: try status(row))
    }

    /// This clock for leases: seconds since the process started, never going back.
    static func monotonicSeconds() -> @Sendable () -> Double {
        let origin = ContinuousClock.now
        return {
            let c = (ContinuousClock.now - origin).components
            return Double(c.seconds) + Double(c.attoseconds) * 1e-18
        }
    }
}
