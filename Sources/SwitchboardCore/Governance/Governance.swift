/// What a managed (virtual) key or a team may do: the governance model shared by the admin API, the CLI, storage
/// and admission.

/// A key's roles. `user` calls the model API (`/v1/...`); `admin` the whole admin API (and the model API);
/// `reviewer` the human-review queue.
public enum Role: String, Sendable, CaseIterable, Comparable {
    case admin, user, reviewer
    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}

/// A key's priority class: under saturation `critical` is served first and `batch` shed first.
public enum PriorityClass: String, Sendable, CaseIterable, Comparable {
    case critical, standard, batch
    /// 0 is served first.
    public var rank: Int {
        switch self {
        case .critical: 0
        case .standard: 1
        case .batch: 2
        }
    }
    public static func < (a: PriorityClass, b: PriorityClass) -> Bool { a.rank < b.rank }
}

/// The calendar period a budget covers (UTC; weeks start on Monday).
public enum BudgetPeriod: String, Sendable, CaseIterable {
    case day, week, month, total
}

/// A spending limit in USD over a period, with an optional soft limit that raises an alert.
public struct Budget: Sendable, Equatable {
    public var period: BudgetPeriod
    /// `usd`: requests are refused once the period's spend (plus what requests in flight have reserved) reaches it.
    public var limitUSD: Double
    /// `alert_usd`: crossing it sends one alert per period to `auth.budget_alert_webhook`.
    public var alertUSD: Double?

    public init(period: BudgetPeriod, limitUSD: Double, alertUSD: Double? = nil) {
        self.period = period
        self.limitUSD = limitUSD
        self.alertUSD = alertUSD
    }
}

/// Rate limits and budgets of a key or a team.
public struct Limits: Sendable, Equatable {
    /// `rpm`, `tpm`, `max_concurrent` over all models.
    public var rates: DeploymentLimits
    /// `budgets`: at most one per period.
    public var budgets: [Budget]
    /// `models`: per public model, `rpm`, `tpm` and `max_concurrent` on top of the overall ones.
    public var models: [String: DeploymentLimits]

    public init(rates: DeploymentLimits = .init(), budgets: [Budget] = [], models: [String: DeploymentLimits] = [:]) {
        self.rates = rates
        self.budgets = budgets
        self.models = models
    }

    public var isEmpty: Bool { rates.isUnlimited && budgets.isEmpty && models.values.allSatisfy(\.isUnlimited) }
}

/// A managed client key as stored: everything but the key itself, which is kept only as a salted hash.
public struct KeyRecord: Sendable, Equatable {
    /// Public, stable id (12 characters of [a-z0-9]); part of the key text, used in admin paths.
    public var id: String
    public var name: String
    public var team: String?
    /// Public model names or globs this key may use; empty means every model (its team's list applies too).
    public var models: [String]
    /// Seconds since 1970 after which the key is refused; nil: never.
    public var expiresAt: Double?
    public var roles: [Role]
    /// The regions its requests may be sent to (comma-separated, globs such as `eu-*`); nil: any.
    public var region: String?
    public var priority: PriorityClass
    public var limits: Limits
    public var metadata: [String: String]
    /// Provider preferences (OpenRouter's `provider` object) for requests that do not bring their own.
    public var provider: ProviderPreferences?
    /// The most one of its requests may be expected to cost, in USD (as `x-switchboard-max-price`; the lower wins).
    public var maxPriceUSD: Double?
    /// The client addresses or networks it may be used from (empty: any).
    public var allowedIPs: [String] = []
    public var createdAt: Double
    public var updatedAt: Double
    public var revokedAt: Double?
    /// SHA-256 of salt + secret, hex.
    public var secretHash: String
    /// 16 random bytes, hex.
    public var salt: String

    public init(id: String, name: String, team: String? = nil, models: [String] = [], expiresAt: Double? = nil,
                roles: [Role] = [.user], region: String? = nil, priority: PriorityClass = .standard, limits: Limits = .init(),
                metadata: [String: String] = [:], createdAt: Double, updatedAt: Double? = nil, revokedAt: Double? = nil,
                secretHash: String, salt: String) {
        self.id = id
        self.name = name
        self.team = team
        self.models = models
        self.expiresAt = expiresAt
        self.roles = roles
        self.region = region
        self.priority = priority
        self.limits = limits
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.revokedAt = revokedAt
        self.secretHash = secretHash
        self.salt = salt
    }

    /// Why the key may not be used at `now` (seconds since 1970), or nil.
    public func refusal(at now: Double) -> String? {
        if revokedAt != nil { return "This API key has been revoked." }
        if let expiresAt, now >= expiresAt { return "This API key has expired." }
        return nil
    }
}

/// A team: keys that belong to it obey its model list, limits and budgets as well as their own.
public struct TeamRecord: Sendable, Equatable {
    /// Unique; letters, digits, `-`, `_` and `.`.
    public var name: String
    public var models: [String]
    public var limits: Limits
    public var metadata: [String: String]
    /// The regions its keys' requests may be sent to (as a key's `region`); nil: any.
    public var region: String?
    /// Provider preferences for its keys' requests that bring none (a key's own come first).
    public var provider: ProviderPreferences?
    public var createdAt: Double
    public var updatedAt: Double

    public init(name: String, models: [String] = [], limits: Limits = .init(), metadata: [String: String] = [:],
                createdAt: Double, updatedAt: Double? = nil) {
        self.name = name
        self.models = models
        self.limits = limits
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// The spend of one scope by UTC day, plus what requests in flight have reserved.
public struct SpendLedger: Sendable, Equatable {
    /// USD by day number, for the recent days (older ones are folded into `before`).
    public private(set) var days: [Int: Double]
    /// USD spent before the oldest day in `days`.
    public private(set) var before: Double
    public var reserved: Double = 0
    /// Periods whose alert was sent (`period:start`).
    public var alerted: Set<String> = []

    public init(days: [Int: Double] = [:], before: Double = 0) {
        self.days = days
        self.before = before
    }

    public func spent(_ period: BudgetPeriod, today: Int) -> Double {
        if period == .total { return before + days.values.reduce(0, +) }
        let start = BudgetCalendar.start(of: period, containing: today)
        return days.reduce(0) { $1.key >= start ? $0 + $1.value : $0 }
    }

    public mutating func add(_ usd: Double, day: Int) {
        days[day, default: 0] += usd
        // Keep about two months by day: enough for any day, week or month period.
        if days.count > 70 {
            for (d, v) in days where d < day - 62 {
                before += v
                days[d] = nil
            }
        }
    }
}

/// Managed keys look like `sk-sb-<id>_<secret>`: the id finds the record, the secret is checked against its hash.
public enum KeyText {
    public static let prefix = "sk-sb-"
    public static let idLength = 12
    public static let secretLength = 40

    /// The id and secret of a managed key, or nil when `text` is not one.
    public static func parse(_ text: String) -> (id: String, secret: String)? {
        let utf8 = text.utf8
        guard utf8.count == prefix.utf8.count + idLength + 1 + secretLength, text.hasPrefix(prefix) else { return nil }
        let body = utf8.dropFirst(prefix.utf8.count)
        let id = body.prefix(idLength), rest = body.dropFirst(idLength)
        guard rest.first == UInt8(ascii: "_"), id.allSatisfy(isIDCharacter) else { return nil }
        let secret = rest.dropFirst()
        guard secret.allSatisfy(isSecretCharacter) else { return nil }
        return (String(decoding: id, as: UTF8.self), String(decoding: secret, as: UTF8.self))
    }

    public static func make(id: String, secret: String) -> String { prefix + id + "_" + secret }

    public static func isValidID(_ id: String) -> Bool { id.utf8.count == idLength && id.utf8.allSatisfy(isIDCharacter) }

    static func isIDCharacter(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
    static func isSecretCharacter(_ c: UInt8) -> Bool { isIDCharacter(c) || (c >= 0x41 && c <= 0x5A) }

    /// `count` characters drawn uniformly from `alphabet` with the system's secure generator.
    public static func random(_ count: Int, alphabet: String) -> String {
        let chars = Array(alphabet)
        var g = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in chars[Int.random(in: 0..<chars.count, using: &g)] })
    }

    public static let idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    public static let secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
}

/// UTC calendar arithmetic on day numbers (days since 1970-01-01) for budget periods.
public enum BudgetCalendar {
    public static func day(_ unixSeconds: Double) -> Int { Int((unixSeconds / 86_400).rounded(.down)) }

    /// The first day of the period that contains `day` (`total`: Int.min).
    public static func start(of period: BudgetPeriod, containing day: Int) -> Int {
        switch period {
        case .day: return day
        case .week: return day - ((day % 7 + 7 + 3) % 7)          // 1970-01-01 was a Thursday
        case .month:
            let (y, m, _) = civil(day)
            return days(year: y, month: m, day: 1)
        case .total: return Int.min
        }
    }

    /// The first day after the period that contains `day` (`total`: Int.max).
    public static func end(of period: BudgetPeriod, containing day: Int) -> Int {
        switch period {
        case .day: return day + 1
        case .week: return start(of: .week, containing: day) + 7
        case .month:
            let (y, m, _) = civil(day)
            return m == 12 ? days(year: y + 1, month: 1, day: 1) : days(year: y, month: m + 1, day: 1)
        case .total: return Int.max
        }
    }

    /// Year, month (1–12), day (1–31) of a day number (proleptic Gregorian).
    public static func civil(_ dayNumber: Int) -> (year: Int, month: Int, day: Int) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The day number of a calendar date.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
