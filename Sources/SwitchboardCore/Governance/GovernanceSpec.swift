import Foundation
import Yams

/// The fields of a key or team a caller sets (admin API body, CLI flags, stored record). A field that is absent
/// stays as it was; `null` clears an optional one.
public struct KeySpec: Sendable, Equatable {
    public var name: String?
    public var team: String??
    public var models: [String]?
    /// Seconds since 1970 (`expires_at`, ISO 8601) or now + `duration` ("30d", "12h", "15m", "90s").
    public var expiresAt: Double??
    public var roles: [Role]?
    public var region: String??
    public var priority: PriorityClass?
    public var limits: Limits?
    public var metadata: [String: String]?
    public var provider: ProviderPreferences??
    public var maxPriceUSD: Double??
    public var allowedIPs: [String]?

    public init() {}

    /// Applies the spec to a record.
    public func apply(to r: inout KeyRecord) {
        if let name { r.name = name }
        if let team { r.team = team }
        if let models { r.models = models }
        if let expiresAt { r.expiresAt = expiresAt }
        if let roles { r.roles = roles }
        if let region { r.region = region }
        if let priority { r.priority = priority }
        if let limits { r.limits = limits }
        if let metadata { r.metadata = metadata }
        if let provider { r.provider = provider }
        if let maxPriceUSD { r.maxPriceUSD = maxPriceUSD }
        if let allowedIPs { r.allowedIPs = allowedIPs }
    }
}

public struct TeamSpec: Sendable, Equatable {
    public var name: String?
    public var models: [String]?
    public var limits: Limits?
    public var metadata: [String: String]?
    public var region: String??
    public var provider: ProviderPreferences??

    public init() {}

    public func apply(to t: inout TeamRecord) {
        if let models { t.models = models }
        if let limits { t.limits = limits }
        if let metadata { t.metadata = metadata }
        if let region { t.region = region }
        if let provider { t.provider = provider }
    }
}

/// Reads key and team specs from JSON (admin API, storage) with every problem at its key path, as the config
/// loader does.
public enum GovernanceSpec {
    public static let keyFields = ["name", "team", "models", "expires_at", "duration", "roles", "region", "priority", "limits", "metadata",
                                   "provider", "max_price_usd", "allowed_ips"]
    public static let teamFields = ["name", "models", "limits", "metadata", "region", "provider"]

    /// Parses a key spec from a JSON document; `now` turns `duration` into `expires_at`.
    public static func key(json: JSONValue, now: Double) throws(ConfigError) -> KeySpec {
        var w = Walker(environment: [:])
        let spec = w.keySpec(node(json), now: now)
        if w.problems.isEmpty { return spec }
        throw ConfigError(problems: w.problems)
    }

    public static func team(json: JSONValue) throws(ConfigError) -> TeamSpec {
        var w = Walker(environment: [:])
        let spec = w.teamSpec(node(json))
        if w.problems.isEmpty { return spec }
        throw ConfigError(problems: w.problems)
    }

    /// A YAML node the walker reads back as JSON (the inverse of `node`).
    static func json(_ n: Node) -> JSONValue {
        switch n {
        case .scalar(let s):
            if s.style != .plain { return .string(s.string) }
            if s.string.isEmpty || s.string == "null" || s.string == "~" { return .null }
            if let b = Bool(s.string) { return .bool(b) }
            if let i = Int(s.string) { return .int(i) }
            if let d = Double(s.string) { return .double(d) }
            return .string(s.string)
        case .sequence(let q): return .array(q.map(json))
        case .mapping(let m): return .object(Dictionary(m.compactMap { k, v in k.string.map { ($0, json(v)) } }) { a, _ in a })
        case .alias: return .null
        }
    }

    /// A JSON value as the YAML node the walker reads (strings quoted, so "123" stays a string).
    static func node(_ v: JSONValue) -> Node {
        switch v {
        case .null: .scalar(.init("", Tag(.null), .plain))
        case .bool(let b): .scalar(.init(b ? "true" : "false", Tag(.bool), .plain))
        case .int(let i): .scalar(.init(String(i), Tag(.int), .plain))
        case .double(let d): .scalar(.init(String(d), Tag(.float), .plain))
        case .string(let s): .scalar(.init(s, Tag(.str), .doubleQuoted))
        case .array(let a): .sequence(.init(a.map(node)))
        case .object(let o): .mapping(.init(o.sorted { $0.key < $1.key }.map { (Node.scalar(.init($0.key, Tag(.str), .doubleQuoted)), node($0.value)) }))
        }
    }

    // MARK: Rendering

    public static func json(_ limits: Limits) -> JSONValue {
        var o: [String: JSONValue] = [:]
        func rates(_ r: DeploymentLimits, into o: inout [String: JSONValue]) {
            if let v = r.rpm { o["rpm"] = .int(v) }
            if let v = r.tpm { o["tpm"] = .int(v) }
            if let v = r.maxConcurrent { o["max_concurrent"] = .int(v) }
        }
        rates(limits.rates, into: &o)
        if !limits.budgets.isEmpty {
            o["budgets"] = .array(limits.budgets.map { b in
                var e: [String: JSONValue] = ["period": .string(b.period.rawValue), "usd": .double(b.limitUSD)]
                if let a = b.alertUSD { e["alert_usd"] = .double(a) }
                return .object(e)
            })
        }
        if !limits.models.isEmpty {
            o["models"] = .object(limits.models.mapValues { r in
                var m: [String: JSONValue] = [:]
                rates(r, into: &m)
                return .object(m)
            })
        }
        return .object(o)
    }

    /// A key as the admin API shows it (never the hash or the salt).
    public static func json(_ k: KeyRecord) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(k.id), "name": .string(k.name), "team": k.team.map(JSONValue.string) ?? .null,
            "models": .array(k.models.map(JSONValue.string)), "roles": .array(k.roles.map { .string($0.rawValue) }),
            "region": k.region.map(JSONValue.string) ?? .null, "priority": .string(k.priority.rawValue),
            "limits": json(k.limits), "metadata": .object(k.metadata.mapValues(JSONValue.string)),
            "created_at": .string(iso(k.createdAt)), "updated_at": .string(iso(k.updatedAt)),
            "expires_at": k.expiresAt.map { .string(iso($0)) } ?? .null,
            "revoked_at": k.revokedAt.map { .string(iso($0)) } ?? .null,
            "key_hint": .string(KeyText.prefix + k.id + "_…"), "provider": k.provider?.json ?? .null,
            "max_price_usd": k.maxPriceUSD.map(JSONValue.double) ?? .null, "allowed_ips": .array(k.allowedIPs.map(JSONValue.string)),
        ]
        o["status"] = .string(k.revokedAt != nil ? "revoked" : k.refusal(at: Date().timeIntervalSince1970) != nil ? "expired" : "active")
        return .object(o)
    }

    public static func json(_ t: TeamRecord) -> JSONValue {
        .object([
            "name": .string(t.name), "models": .array(t.models.map(JSONValue.string)), "limits": json(t.limits),
            "metadata": .object(t.metadata.mapValues(JSONValue.string)), "region": t.region.map(JSONValue.string) ?? .null,
            "provider": t.provider?.json ?? .null,
            "created_at": .string(iso(t.createdAt)), "updated_at": .string(iso(t.updatedAt)),
        ])
    }

    /// The part of a key record stored as one JSON column (what `key(json:)` reads back).
    public static func storedSpec(_ k: KeyRecord) -> JSONValue {
        .object([
            "models": .array(k.models.map(JSONValue.string)), "roles": .array(k.roles.map { .string($0.rawValue) }),
            "region": k.region.map(JSONValue.string) ?? .null, "priority": .string(k.priority.rawValue),
            "limits": json(k.limits), "metadata": .object(k.metadata.mapValues(JSONValue.string)),
            "provider": k.provider?.json ?? .null, "max_price_usd": k.maxPriceUSD.map(JSONValue.double) ?? .null,
            "allowed_ips": .array(k.allowedIPs.map(JSONValue.string)),
        ])
    }

    public static func storedSpec(_ t: TeamRecord) -> JSONValue {
        .object(["models": .array(t.models.map(JSONValue.string)), "limits": json(t.limits),
                 "metadata": .object(t.metadata.mapValues(JSONValue.string)), "region": t.region.map(JSONValue.string) ?? .null,
                 "provider": t.provider?.json ?? .null])
    }

    public static func iso(_ seconds: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: seconds.rounded(.down)))
    }

    public static func parseISO(_ text: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withFullDate]
        return f.date(from: text)?.timeIntervalSince1970
    }

    /// "30d", "12h", "15m", "90s" in seconds.
    public static func parseDuration(_ text: String) -> Double? {
        guard let unit = text.last, let n = Double(text.dropLast()), n > 0, n.isFinite else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86_400
        default: return nil
        }
    }

    /// Team names and key names: 1–64 of letters, digits, `-`, `_`, `.`, `@` and spaces (not at the ends).
    public static func isValidName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count), u.first != 0x20, u.last != 0x20 else { return false }
        return u.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "-_.@ ".utf8.contains(c)
        }
    }
}

extension Walker {
    func isNull(_ node: Node?) -> Bool {
        guard case .scalar(let s)? = node else { return false }
        return s.style == .plain && (s.string.isEmpty || s.string == "null" || s.string == "~")
    }

    mutating func name(_ m: [String: Node], _ key: String, _ path: String, what: String) -> String? {
        guard let s = string(m, key, path) else { return nil }
        guard GovernanceSpec.isValidName(s) else {
            problem(Self.join(path, key), "\(what) must be 1 to 64 letters, digits, spaces, '-', '_', '.' or '@'")
            return nil
        }
        return s
    }

    mutating func globs(_ m: [String: Node], _ path: String) -> [String]? {
        guard let node = m["models"] else { return nil }
        guard let items = sequence(node, Self.join(path, "models")) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            if case .scalar(let s) = item, !s.string.isEmpty, !isNull(item) { out.append(s.string) } else {
                problem("\(Self.join(path, "models"))[\(i)]", "expected a model name or glob, found \(describe(item))")
            }
        }
        return out
    }

    mutating func metadata(_ m: [String: Node], _ path: String) -> [String: String]? {
        guard let out = stringMap(m, "metadata", path) else { return nil }
        guard out.count <= 64 else { problem(Self.join(path, "metadata"), "at most 64 entries"); return nil }
        return out
    }

    mutating func rateLimits(_ m: [String: Node], _ path: String) -> DeploymentLimits {
        DeploymentLimits(rpm: int(m, "rpm", path, range: 1...100_000_000), tpm: int(m, "tpm", path, range: 1...10_000_000_000),
                         maxConcurrent: int(m, "max_concurrent", path, range: 1...1_000_000))
    }

    mutating func limits(_ node: Node, _ path: String) -> Limits? {
        guard let m = mapping(node, path, allowed: ["rpm", "tpm", "max_concurrent", "budgets", "models"]) else { return nil }
        var limits = Limits(rates: rateLimits(m, path))
        if let node = m["budgets"], let list = sequence(node, "\(path).budgets") {
            for (i, item) in list.enumerated() {
                let p = "\(path).budgets[\(i)]"
                guard let b = mapping(item, p, allowed: ["period", "usd", "alert_usd"]) else { continue }
                let periodText = string(b, "period", p, required: true)
                let period = periodText.flatMap(BudgetPeriod.init(rawValue:))
                if let periodText, period == nil {
                    problem("\(p).period", "unknown period \"\(periodText)\" (allowed: day, week, month, total)")
                }
                let usd = number(b, "usd", p, range: 0...1_000_000_000)
                if b["usd"] == nil { problem("\(p).usd", "required") }
                let alert = number(b, "alert_usd", p, range: 0...1_000_000_000)
                if let alert, let usd, alert > usd { problem("\(p).alert_usd", "must not be above usd") }
                if let period, limits.budgets.contains(where: { $0.period == period }) {
                    problem("\(p).period", "a second budget for \"\(period.rawValue)\"")
                    continue
                }
                if let period, let usd { limits.budgets.append(Budget(period: period, limitUSD: usd, alertUSD: alert)) }
            }
        }
        if let node = m["models"] {
            let p = "\(path).models"
            if case .mapping(let map) = node {
                for (k, v) in map {
                    guard let model = k.string, !model.isEmpty else { problem(p, "keys must be model names"); continue }
                    if let r = mapping(v, "\(p).\(model)", allowed: ["rpm", "tpm", "max_concurrent"]) {
                        limits.models[model] = rateLimits(r, "\(p).\(model)")
                    }
                }
            } else {
                problem(p, "expected a mapping of model name to {rpm, tpm, max_concurrent}, found \(describe(node))")
            }
        }
        return limits
    }

    mutating func keySpec(_ node: Node, now: Double) -> KeySpec {
        var spec = KeySpec()
        guard let m = mapping(node, "", allowed: GovernanceSpec.keyFields) else { return spec }
        spec.name = name(m, "name", "", what: "a key name")
        if isNull(m["team"]) { spec.team = .some(nil) } else if let t = name(m, "team", "", what: "a team name") { spec.team = .some(t) }
        spec.models = globs(m, "")
        if m["expires_at"] != nil && m["duration"] != nil { problem("duration", "give expires_at or duration, not both") }
        if isNull(m["expires_at"]) || isNull(m["duration"]) {
            spec.expiresAt = .some(nil)
        } else if let text = string(m, "expires_at", "") {
            if let t = GovernanceSpec.parseISO(text) { spec.expiresAt = .some(t) } else {
                problem("expires_at", "expected an ISO 8601 time such as 2027-01-31T00:00:00Z, found \"\(text)\"")
            }
        } else if let text = string(m, "duration", "") {
            if let d = GovernanceSpec.parseDuration(text) { spec.expiresAt = .some(now + d) } else {
                problem("duration", "expected a number and a unit (s, m, h, d) such as \"30d\", found \"\(text)\"")
            }
        }
        if let node = m["roles"], let list = sequence(node, "roles") {
            var roles: [Role] = []
            for (i, item) in list.enumerated() {
                if case .scalar(let s) = item, let r = Role(rawValue: s.string) {
                    if !roles.contains(r) { roles.append(r) }
                } else {
                    problem("roles[\(i)]", "unknown role \(describe(item)) (allowed: admin, user, reviewer)")
                }
            }
            if roles.isEmpty && list.isEmpty { problem("roles", "a key needs at least one role") }
            spec.roles = roles.sorted()
        }
        if isNull(m["region"]) { spec.region = .some(nil) } else if let r = string(m, "region", "") { spec.region = .some(r) }
        if let text = string(m, "priority", "") {
            if let p = PriorityClass(rawValue: text) { spec.priority = p } else {
                problem("priority", "unknown priority class \"\(text)\" (allowed: critical, standard, batch)")
            }
        }
        if let node = m["limits"] { spec.limits = isNull(node) ? Limits() : limits(node, "limits") }
        spec.metadata = metadata(m, "")
        spec.provider = providerPreferences(m["provider"])
        if isNull(m["max_price_usd"]) { spec.maxPriceUSD = .some(nil) } else if let v = number(m, "max_price_usd", "", range: 0...1_000_000) {
            spec.maxPriceUSD = .some(v)
        }
        if let list = stringList(m, "allowed_ips", "", what: "an address or network such as 10.0.0.0/8") {
            for (i, text) in list.enumerated() where CIDR(text) == nil {
                problem("allowed_ips[\(i)]", "\"\(text)\" is not an IP address or network (such as 10.0.0.0/8 or 2001:db8::/32)")
            }
            spec.allowedIPs = list
        }
        return spec
    }

    mutating func teamSpec(_ node: Node) -> TeamSpec {
        var spec = TeamSpec()
        guard let m = mapping(node, "", allowed: GovernanceSpec.teamFields) else { return spec }
        spec.name = name(m, "name", "", what: "a team name")
        spec.models = globs(m, "")
        if let node = m["limits"] { spec.limits = isNull(node) ? Limits() : limits(node, "limits") }
        spec.metadata = metadata(m, "")
        if isNull(m["region"]) { spec.region = .some(nil) } else if let r = string(m, "region", "") { spec.region = .some(r) }
        spec.provider = providerPreferences(m["provider"])
        return spec
    }

    /// `provider`: OpenRouter's object, as a request would send it (`null` clears it).
    mutating func providerPreferences(_ node: Node?) -> ProviderPreferences?? {
        guard let node else { return nil }
        if isNull(node) { return .some(nil) }
        do { return .some(try ProviderPreferences(json: GovernanceSpec.json(node))) } catch {
            problem(error.param ?? "provider", error.message)
            return nil
        }
    }
}
