import SwitchboardCore

/// Decides whether a request may start under its key's and team's limits, and takes its charge back or corrects
/// it when the request ends. One process: an `AdmissionBook` in memory; several replicas: one shared through
/// PostgreSQL.
public protocol AdmissionLedger: Sendable {
    func admit(_ checks: [AdmissionCheck], charge: AdmissionCharge) async throws -> AdmissionDecision
    /// Called exactly once per admitted request, on the request path: must not block. Returns the soft-limit
    /// alerts this spend crossed (a ledger may also report them later, by other means).
    func complete(_ grant: AdmissionGrant, actualTokens: Int?, actualUSD: Double, budgets: [String: [Budget]]) -> [BudgetAlert]
    /// Whether the ledger writes the actual spend of its budget scopes to storage itself (then the request log
    /// must not add it again).
    var chargesSpend: Bool { get }
}

/// One set of limits a request must fit: a key's, a key's for one model, a team's, ….
public struct AdmissionCheck: Sendable, Equatable {
    /// Stable name of what is limited: `key:ID`, `key:ID/model:NAME`, `team:NAME`, `team:NAME/model:NAME`.
    public var scope: String
    public var rates: DeploymentLimits
    public var budgets: [Budget]

    public init(scope: String, rates: DeploymentLimits = .init(), budgets: [Budget] = []) {
        self.scope = scope
        self.rates = rates
        self.budgets = budgets
    }
}

/// What a request costs up front: one request, its estimated tokens, and a cost reserved against budgets until
/// its actual cost is known.
public struct AdmissionCharge: Sendable, Equatable {
    public var tokens: Int
    public var reserveUSD: Double
    public init(tokens: Int, reserveUSD: Double) {
        self.tokens = tokens
        self.reserveUSD = reserveUSD
    }
}

/// The `x-ratelimit-*` figures of the tightest limit a request met.
public struct RateLimitStatus: Sendable, Equatable {
    public var limitRequests: Int?
    public var remainingRequests: Int?
    public var resetRequestsMs: Double?
    public var limitTokens: Int?
    public var remainingTokens: Int?
    public var resetTokensMs: Double?
    public init() {}
}

/// An admitted request: what to give back or correct when it ends.
public struct AdmissionGrant: Sendable, Equatable {
    public var rateScopes: [String]
    public var budgetScopes: [String]
    public var charge: AdmissionCharge
    public var startedMs: Double
    public var status: RateLimitStatus
    public init(rateScopes: [String], budgetScopes: [String], charge: AdmissionCharge, startedMs: Double, status: RateLimitStatus) {
        self.rateScopes = rateScopes
        self.budgetScopes = budgetScopes
        self.charge = charge
        self.startedMs = startedMs
        self.status = status
    }
}

/// Why a request was not admitted.
public enum AdmissionRefusal: Sendable, Equatable {
    /// `limit` is `rpm`, `tpm` or `max_concurrent`; `retryAfterMs` nil when only a request in flight ending helps.
    case rate(scope: String, limit: String, value: Int, retryAfterMs: Double?, status: RateLimitStatus)
    /// The period's spend plus what requests in flight reserved has reached the budget.
    case budget(scope: String, period: BudgetPeriod, limitUSD: Double, spentUSD: Double, retryAfterMs: Double?)
}

public enum AdmissionDecision: Sendable, Equatable {
    case admitted(AdmissionGrant)
    case refused(AdmissionRefusal)
}

/// A budget alert to send: the soft limit of `budget` was crossed in the period starting on `periodStart`.
public struct BudgetAlert: Sendable, Equatable {
    public var scope: String
    public var budget: Budget
    public var spentUSD: Double
    public var periodStart: Int

    public init(scope: String, budget: Budget, spentUSD: Double, periodStart: Int) {
        self.scope = scope
        self.budget = budget
        self.spentUSD = spentUSD
        self.periodStart = periodStart
    }
}

/// Rate limits, concurrency and budgets of every key and team, in one process: exact, all-or-nothing admission
/// (a request is charged to every scope or to none). Pure: the caller supplies the time and loads spend.
///
/// Requests and tokens count in 60 one-second buckets per scope (`CapacityWindow`): "per minute" is the last
/// 60 whole seconds. Tokens are charged with an estimate at the start and corrected with the usage at the end.
public struct AdmissionBook: Sendable {
    var windows: [String: CapacityWindow] = [:]
    public private(set) var ledgers: [String: SpendLedger] = [:]

    public init() {}

    /// Scopes among `checks` with budgets whose spend is not loaded yet.
    public func unloadedBudgets(_ checks: [AdmissionCheck]) -> [String] {
        checks.filter { !$0.budgets.isEmpty && ledgers[$0.scope] == nil }.map(\.scope)
    }

    /// Installs a scope's window rebuilt from shared storage (a book built afresh for one decision).
    public mutating func install(_ window: CapacityWindow, for scope: String) { windows[scope] = window }

    /// Installs the spend of a scope read from storage (ignored when already loaded: the book's copy is newer).
    public mutating func load(_ scope: String, _ ledger: SpendLedger) {
        if ledgers[scope] == nil { ledgers[scope] = ledger }
    }

    /// Admits a request against every check, or refuses it naming the first limit it meets.
    /// - Parameters: `nowMs`: wall clock in ms (windows); `today`: UTC day number (budgets).
    public mutating func admit(_ checks: [AdmissionCheck], charge: AdmissionCharge, nowMs: Double, today: Int) -> AdmissionDecision {
        var status = RateLimitStatus()
        for check in checks where !check.rates.isUnlimited {
            // The window is changed where it is stored: a copy taken out and put back copied its buckets each time.
            if windows[check.scope] == nil { windows[check.scope] = CapacityWindow(limits: check.rates) }
            if let refusal = windows[check.scope]!.refusal(check, tokens: charge.tokens, nowMs: nowMs) { return .refused(refusal) }
        }
        for check in checks where !check.budgets.isEmpty {
            let ledger = ledgers[check.scope] ?? SpendLedger()
            for b in check.budgets {
                let spent = ledger.spent(b.period, today: today)
                if spent + ledger.reserved >= b.limitUSD {
                    let end = BudgetCalendar.end(of: b.period, containing: today)
                    let retry = b.period == .total ? nil : Double(end) * 86_400_000 - nowMs
                    return .refused(.budget(scope: check.scope, period: b.period, limitUSD: b.limitUSD, spentUSD: spent, retryAfterMs: retry))
                }
            }
        }
        var rateScopes: [String] = [], budgetScopes: [String] = []
        for check in checks {
            if !check.rates.isUnlimited {
                windows[check.scope]!.acquire(tokens: charge.tokens, nowMs: nowMs)
                rateScopes.append(check.scope)
                status.tighten(with: windows[check.scope]!.status(nowMs: nowMs))
            }
            if !check.budgets.isEmpty {
                ledgers[check.scope, default: SpendLedger()].reserved += charge.reserveUSD
                budgetScopes.append(check.scope)
            }
        }
        return .admitted(AdmissionGrant(rateScopes: rateScopes, budgetScopes: budgetScopes, charge: charge, startedMs: nowMs, status: status))
    }

    /// The request ended: its concurrency is given back, its tokens corrected, its reservation replaced by its
    /// actual cost. Returns the soft-limit alerts this spend crossed.
    /// The cost counts on the UTC day the request started (as in the stored daily spend).
    public mutating func complete(_ grant: AdmissionGrant, actualTokens: Int?, actualUSD: Double, nowMs: Double,
                                  budgets: [String: [Budget]] = [:]) -> [BudgetAlert] {
        let today = BudgetCalendar.day(grant.startedMs / 1000)
        for scope in grant.rateScopes {
            windows[scope]?.release(estimate: grant.charge.tokens, actualTokens: actualTokens, startedMs: grant.startedMs, nowMs: nowMs)
        }
        var alerts: [BudgetAlert] = []
        for scope in grant.budgetScopes {
            guard var ledger = ledgers[scope] else { continue }
            ledger.reserved = max(0, ledger.reserved - grant.charge.reserveUSD)
            if ledger.reserved < 1e-12 { ledger.reserved = 0 }
            ledger.add(actualUSD, day: today)
            for b in budgets[scope] ?? [] {
                guard let alert = b.alertUSD else { continue }
                let spent = ledger.spent(b.period, today: today)
                let start = BudgetCalendar.start(of: b.period, containing: today)
                let key = "\(b.period.rawValue):\(start)"
                if spent >= alert, !ledger.alerted.contains(key) {
                    ledger.alerted.insert(key)
                    alerts.append(BudgetAlert(scope: scope, budget: b, spentUSD: spent, periodStart: start))
                }
            }
            ledgers[scope] = ledger
        }
        return alerts
    }

    /// Spend recorded elsewhere (another process) to add to a loaded ledger.
    public mutating func addSpend(_ usd: Double, scope: String, day: Int) {
        ledgers[scope]?.add(usd, day: day)
    }

    /// Drops the windows of scopes with nothing in flight and nothing counted (bounded memory with many keys).
    public mutating func evictIdle(nowMs: Double) {
        windows = windows.filter { _, w in
            var w = w
            return w.inFlight > 0 || w.requestsInWindow(nowMs: nowMs) > 0
        }
    }

    public mutating func status(_ scope: String, nowMs: Double) -> RateLimitStatus? {
        windows[scope]?.status(nowMs: nowMs)
    }
}

extension RateLimitStatus {
    /// Keeps, for requests and for tokens, the limit with the fewest remaining.
    mutating func tighten(with other: RateLimitStatus) {
        if let r = other.remainingRequests, remainingRequests.map({ r < $0 }) ?? true {
            limitRequests = other.limitRequests
            remainingRequests = r
            resetRequestsMs = other.resetRequestsMs
        }
        if let t = other.remainingTokens, remainingTokens.map({ t < $0 }) ?? true {
            limitTokens = other.limitTokens
            remainingTokens = t
            resetTokensMs = other.resetTokensMs
        }
    }
}

extension CapacityWindow {
    /// Takes `check`'s limits and says why a request of `tokens` may not start now, or nil when it may.
    mutating func refusal(_ check: AdmissionCheck, tokens: Int, nowMs: Double) -> AdmissionRefusal? {
        limits = check.rates
        if let c = check.rates.maxConcurrent, inFlight >= c {
            return .rate(scope: check.scope, limit: "max_concurrent", value: c, retryAfterMs: nil, status: status(nowMs: nowMs))
        }
        guard !hasRoom(tokens: tokens, nowMs: nowMs) else { return nil }
        let s = status(nowMs: nowMs)
        let rpmFull = check.rates.rpm.map { (s.remainingRequests ?? 1) <= 0 && $0 > 0 } ?? false
        return .rate(scope: check.scope, limit: rpmFull ? "rpm" : "tpm", value: (rpmFull ? check.rates.rpm : check.rates.tpm) ?? 0,
                     retryAfterMs: msUntilRoom(tokens: tokens, nowMs: nowMs), status: s)
    }

    /// Limits, what remains of them and when the oldest counted second ages out.
    mutating func status(nowMs: Double) -> RateLimitStatus {
        var s = RateLimitStatus()
        let reset = msUntilOldestAgesOut(nowMs: nowMs)
        if let rpm = limits.rpm {
            s.limitRequests = rpm
            s.remainingRequests = max(0, rpm - requestsInWindow(nowMs: nowMs))
            s.resetRequestsMs = reset
        }
        if let tpm = limits.tpm {
            s.limitTokens = tpm
            s.remainingTokens = max(0, tpm - tokensInWindow(nowMs: nowMs))
            s.resetTokensMs = reset
        }
        return s
    }
}
