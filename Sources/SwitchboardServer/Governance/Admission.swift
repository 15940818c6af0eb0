import Foundation
import HTTPTypes
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardRouting
import SwitchboardStore

/// Exact admission for one process: an `AdmissionBook` under a lock (never held across an await). A scope's
/// spend is read from storage the first time one of its budgets is checked; after that the book is the truth and
/// storage follows through the request log.
final class LocalAdmission: AdmissionLedger {
    private let book = Mutex(AdmissionBook())
    private let admissions = Atomic<Int>(0)
    let storage: any Storage
    /// Wall clock, seconds since 1970.
    let now: @Sendable () -> Double

    init(storage: any Storage, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.storage = storage
        self.now = now
    }

    func admit(_ checks: [AdmissionCheck], charge: AdmissionCharge) async throws -> AdmissionDecision {
        let missing = book.withLock { $0.unloadedBudgets(checks) }
        if !missing.isEmpty {
            let today = BudgetCalendar.day(now())
            for scope in missing {
                let ledger = try await storage.spend(scope: scope, fromDay: today - 62)
                book.withLock { $0.load(scope, ledger) }
            }
        }
        let t = now()
        let evict = admissions.wrappingAdd(1, ordering: .relaxed).newValue % 4096 == 0
        return book.withLock { b in
            if evict { b.evictIdle(nowMs: t * 1000) }
            return b.admit(checks, charge: charge, nowMs: t * 1000, today: BudgetCalendar.day(t))
        }
    }

    /// Spend reaches storage through the request log.
    var chargesSpend: Bool { false }

    func complete(_ grant: AdmissionGrant, actualTokens: Int?, actualUSD: Double, budgets: [String: [Budget]]) -> [BudgetAlert] {
        let t = now()
        return book.withLock { $0.complete(grant, actualTokens: actualTokens, actualUSD: actualUSD, nowMs: t * 1000, budgets: budgets) }
    }
}

/// An admitted request's claim on its limits: completed exactly once (by the request's record, or on deinit if
/// the request vanished), so concurrency and reservations never leak.
final class AdmissionTicket: Sendable {
    let grant: AdmissionGrant
    let ledger: any AdmissionLedger
    let budgets: [String: [Budget]]
    let alerts: BudgetAlerter?
    private let done = Atomic<Bool>(false)

    init(grant: AdmissionGrant, ledger: any AdmissionLedger, checks: [AdmissionCheck], alerts: BudgetAlerter?) {
        self.grant = grant
        self.ledger = ledger
        var budgets: [String: [Budget]] = [:]
        for c in checks where !c.budgets.isEmpty { budgets[c.scope] = c.budgets }
        self.budgets = budgets
        self.alerts = alerts
    }

    func complete(tokens: Int?, usd: Double) {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let crossed = ledger.complete(grant, actualTokens: tokens, actualUSD: usd, budgets: budgets)
        if !crossed.isEmpty { alerts?.send(crossed) }
    }

    deinit { complete(tokens: nil, usd: 0) }
}

extension HTTPField.Name {
    static let rateLimitLimitRequests = Self("x-ratelimit-limit-requests")!
    static let rateLimitRemainingRequests = Self("x-ratelimit-remaining-requests")!
    static let rateLimitResetRequests = Self("x-ratelimit-reset-requests")!
    static let rateLimitLimitTokens = Self("x-ratelimit-limit-tokens")!
    static let rateLimitRemainingTokens = Self("x-ratelimit-remaining-tokens")!
    static let rateLimitResetTokens = Self("x-ratelimit-reset-tokens")!
}

extension RateLimitStatus {
    /// OpenAI's `x-ratelimit-*` headers (resets as durations such as "12.5s"), added to fields that have none of them
    /// yet (appended: setting looks for the name first, each time).
    func add(to h: inout HTTPFields) {
        func duration(_ ms: Double?) -> String { Self.seconds(max(0, (ms ?? 0) / 1000)) }
        if let l = limitRequests {
            h.append(HTTPField(name: .rateLimitLimitRequests, value: String(l)))
            h.append(HTTPField(name: .rateLimitRemainingRequests, value: String(remainingRequests ?? 0)))
            h.append(HTTPField(name: .rateLimitResetRequests, value: duration(resetRequestsMs)))
        }
        if let l = limitTokens {
            h.append(HTTPField(name: .rateLimitLimitTokens, value: String(l)))
            h.append(HTTPField(name: .rateLimitRemainingTokens, value: String(remainingTokens ?? 0)))
            h.append(HTTPField(name: .rateLimitResetTokens, value: duration(resetTokensMs)))
        }
    }
}

extension RateLimitStatus {
    /// `x` the way `String(format: "%.3gs", x)` writes it (three significant digits, trailing zeros dropped:
    /// "0.25s", "12.5s", "60s"), without Foundation's formatter, which took ~3.5 µs of every governed answer.
    /// Written here from the digits for 0.001 ≤ x < 1000 (a reset is at most a minute) unless the third digit is a
    /// tie too close to call in binary; anything else goes to the formatter.
    static func seconds(_ x: Double) -> String {
        if x == 0, x.sign == .plus { return "0s" }
        guard x >= 0.001, x < 1000 else { return String(format: "%.3gs", x) }
        // x = d.dd × 10^e; its three digits are x × 10^(2 − e), a power of ten that is exact in binary.
        let e = x >= 100 ? 2 : x >= 10 ? 1 : x >= 1 ? 0 : x >= 0.1 ? -1 : x >= 0.01 ? -2 : -3
        let places = 2 - e
        var scale = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = x * Double(scale)
        let fraction = scaled - scaled.rounded(.down)
        guard abs(fraction - 0.5) > 1e-9 else { return String(format: "%.3gs", x) }
        let digits = Int(scaled.rounded())
        if digits == 1000, e == 2 { return String(format: "%.3gs", x) }   // 999.5… is "1e+03s"
        let (whole, remainder) = digits.quotientAndRemainder(dividingBy: scale)
        var part = remainder
        guard part != 0 else { return "\(whole)s" }
        var width = places
        while part % 10 == 0 { part /= 10; width -= 1 }
        let text = String(part)
        return "\(whole)." + String(repeating: "0", count: width - text.count) + text + "s"
    }
}

extension AdmissionRefusal {
    /// The 429 the client gets, with its headers.
    func error(_ identity: Identity) -> (GatewayError, HTTPFields) {
        var headers = HTTPFields()
        switch self {
        case .rate(let scope, let limit, let value, let retryAfterMs, let status):
            status.add(to: &headers)
            let what = switch limit {
            case "rpm": "requests per minute"
            case "tpm": "tokens per minute"
            default: "concurrent requests"
            }
            let seconds = max(1, Int(((retryAfterMs ?? 1000) / 1000).rounded(.up)))
            let when = retryAfterMs == nil ? "when one of its requests in flight ends" : "in \(seconds) s"
            return (GatewayError(.rateLimitExceeded,
                                 "Rate limit reached for \(identity.describe(scope: scope)): \(value) \(what). Try again \(when).",
                                 retryAfterSeconds: seconds), headers)
        case .budget(let scope, let period, let limitUSD, let spentUSD, let retryAfterMs):
            let span = period == .total ? "in total" : "this \(period.rawValue) (UTC)"
            return (GatewayError(.budgetExceeded,
                                 "Budget exceeded for \(identity.describe(scope: scope)): \(formatUSD(spentUSD)) USD spent \(span) of \(formatUSD(limitUSD)) USD.",
                                 retryAfterSeconds: retryAfterMs.map { max(1, Int(($0 / 1000).rounded(.up))) }), headers)
        }
    }
}

/// Posts budget soft-limit alerts to `auth.budget_alert_webhook` (JSON, one POST per alert, off the request path).
final class BudgetAlerter: Sendable {
    let url: String
    let post: @Sendable (_ url: String, _ body: String) async throws -> Int
    let logger: Logger

    init(url: String, logger: Logger, post: @escaping @Sendable (_ url: String, _ body: String) async throws -> Int) {
        self.url = url
        self.logger = logger
        self.post = post
    }

    func send(_ alerts: [BudgetAlert]) {
        for a in alerts {
            let body = JSONValue.object([
                "type": "budget_alert", "scope": .string(a.scope), "period": .string(a.budget.period.rawValue),
                "period_start": .string(GovernanceSpec.iso(Double(a.periodStart) * 86_400)),
                "budget_usd": .double(a.budget.limitUSD), "alert_usd": .double(a.budget.alertUSD ?? 0), "spent_usd": .double(a.spentUSD),
            ]).jsonText
            let (url, post, logger) = (url, post, logger)
            Task {
                do {
                    let status = try await post(url, body)
                    if !(200..<300).contains(status) { logger.warning("Budget alert webhook answered \(status)", metadata: ["scope": "\(a.scope)"]) }
                } catch {
                    logger.warning("Budget alert webhook failed", metadata: ["scope": "\(a.scope)", "error": "\(type(of: error))"])
                }
            }
        }
    }
}
