import SwitchboardCore
import SwitchboardRouting

/// This replica's slices of the limits shared through PostgreSQL (see `PostgresAdmission`): what it may admit
/// without asking the database, what a lease must ask for, and what it owes back. Pure: the caller passes its
/// monotonic clock (seconds) and does the I/O.
///
/// Per scope: a rate slice (requests and tokens charged in one database second, usable until that second ends),
/// spare in-flight slots and spare reserved USD. A request is admitted here only if every one of its scopes has
/// room; otherwise it asks `sb_lease` for what is lacking (and takes the rest here, put back if refused).
struct LeaseBook {
    /// A spare part is at most this share of what remains after the request…
    static let share = 0.125
    /// …and none when fewer than this many requests' worth remain: near a limit, admission is per request.
    static let spareFloor = 64
    static let maxAsk = 4096
    /// A rate slice stops this long before its database second ends (replies take time; clocks drift).
    static let margin = 0.05

    struct RateSlice {
        var second: Int
        var deadline: Double
        var requests: Int
        var tokens: Int
        var granted: Int
    }

    struct Scope {
        var rates: DeploymentLimits
        var budgets: [Budget]
        var rate: RateSlice?
        var slots = 0
        var usd = 0.0
        /// The last request's reservation: sizes the USD kept.
        var reserve = 0.0
        /// Spare units asked with the next lease: doubled each time the request finds its slice empty, halved
        /// when most of an expired rate slice was unused.
        var rateAsk = 0, slotAsk = 0, usdAsk = 0
        /// Asks grew since the last reply on this scope: they grow once per round trip, not once per request
        /// missing at the same time, and only after a first reply (a burst of first requests asks for no spare).
        var grew = false, replied = false
        /// The window's counts and oldest second at the last lease (`x-ratelimit-*` figures; -1: none).
        var used = 0, usedTokens = 0, oldest = -1
        var touched = true

        init(rates: DeploymentLimits, budgets: [Budget]) {
            self.rates = rates
            self.budgets = budgets
        }

        var hasRate: Bool { (rates.rpm ?? 0) > 0 || (rates.tpm ?? 0) > 0 }

        func rateRoom(_ tokens: Int) -> Bool {
            guard let r = rate else { return false }
            return ((rates.rpm ?? 0) == 0 || r.requests >= 1) && ((rates.tpm ?? 0) == 0 || r.tokens >= tokens)
        }

        func usdRoom(_ reserve: Double) -> Bool {
            budgets.isEmpty || (reserve > 0 ? usd + 1e-12 >= reserve : usd > 0)
        }
    }

    enum Step {
        case admitted(AdmissionGrant)
        case lease(Ask)
    }

    var scopes: [String: Scope] = [:]
    var returns = Returns()
    /// Database clock minus this clock, from the last reply.
    var offset = 0.0
    /// Counts the times unused rate units were given back (a refused request may then ask again).
    var givenBack = 0

    /// Admits from the slices, or says what to lease (nil with `localOnly` when a lease would be needed).
    mutating func admit(_ checks: [AdmissionCheck], charge: AdmissionCharge, now: Double, localOnly: Bool = false) -> Step? {
        var names: [String] = []
        var rateScopes: [String] = []
        var budgetScopes: [String] = []
        for c in checks where !c.rates.isUnlimited || !c.budgets.isEmpty {
            if !c.rates.isUnlimited { rateScopes.append(c.scope) }
            if !c.budgets.isEmpty { budgetScopes.append(c.scope) }
            guard !names.contains(c.scope) else { continue }
            let rates = c.rates.isUnlimited ? DeploymentLimits() : c.rates
            if var s = scopes[c.scope], s.rates == rates, s.budgets == c.budgets {
                expire(&s, c.scope, now: now)
                s.touched = true
                scopes[c.scope] = s
            } else {
                drop(c.scope)    // limits changed: what was leased under the old ones goes back
                scopes[c.scope] = Scope(rates: rates, budgets: c.budgets)
            }
            names.append(c.scope)
        }
        names.sort()
        budgetScopes = Array(Set(budgetScopes)).sorted()
        let room = names.allSatisfy { name in
            let s = scopes[name]!
            return (!s.hasRate || s.rateRoom(charge.tokens)) && s.slots >= 1 && s.usdRoom(charge.reserveUSD)
        }
        if room {
            var second: Int?
            for name in names {
                if scopes[name]!.hasRate { second = takeRate(name, charge) }
                takeSlot(name)
                if !scopes[name]!.budgets.isEmpty { takeUSD(name, charge) }
            }
            var started = now + offset
            if let second { started = min(max(started, Double(second)), Double(second) + 0.999) }
            return .admitted(grant(names, rateScopes, budgetScopes, charge, startedS: started, dbNow: now + offset))
        }
        if localOnly { return nil }
        var ask = Ask(charge: charge, rateScopes: rateScopes, budgetScopes: budgetScopes, epoch: givenBack)
        for name in names {
            var s = scopes[name]!
            let grow = s.replied && !s.grew
            ask.scopes.append(name)
            ask.rpms.append(s.rates.rpm ?? 0)
            ask.tpms.append(s.rates.tpm ?? 0)
            ask.concs.append(s.rates.maxConcurrent ?? 0)
            if !s.hasRate {
                ask.rateAsk.append(-1)
                ask.tookRate.append(nil)
            } else if s.rateRoom(charge.tokens) {
                ask.rateAsk.append(-1)
                ask.tookRate.append(takeRate(name, charge))
                s = scopes[name]!
            } else {
                if let r = s.rate {    // usable but too small: it ran out within its second
                    returns.owe(RateKey(scope: name, second: r.second), requests: r.requests, tokens: r.tokens)
                    s.rate = nil
                }
                if grow { s.rateAsk = Self.grow(s.rateAsk) }
                ask.rateAsk.append(s.rateAsk)
                ask.tookRate.append(nil)
            }
            if s.slots >= 1 {
                s.slots -= 1
                ask.slotAsk.append(-1)
                ask.tookSlot.append(true)
            } else {
                if grow { s.slotAsk = Self.grow(s.slotAsk) }
                ask.slotAsk.append(s.slotAsk)
                ask.tookSlot.append(false)
            }
            if s.budgets.isEmpty || s.usdRoom(charge.reserveUSD) {
                if !s.budgets.isEmpty { s.usd = max(0, s.usd - charge.reserveUSD) }
                ask.usdAsk.append(-1)
                ask.usdBack.append(0)
                ask.tookUSD.append(!s.budgets.isEmpty)
            } else {
                if grow { s.usdAsk = Self.grow(s.usdAsk) }
                ask.usdAsk.append(Double(s.usdAsk) * charge.reserveUSD)
                ask.usdBack.append(s.usd)
                s.usd = 0
                ask.tookUSD.append(false)
            }
            if !s.budgets.isEmpty { s.reserve = charge.reserveUSD }
            if ask.rateAsk.last! >= 0 || ask.slotAsk.last! >= 0 || ask.usdAsk.last! >= 0 { s.grew = true }
            for b in s.budgets { ask.budgets.append((name, b)) }
            scopes[name] = s
        }
        // What this replica owes on these scopes goes back first, in the same statement.
        let owed = returns.rates.filter { names.contains($0.key.scope) }
        for (k, v) in owed {
            ask.back.append((k, v.requests, v.tokens))
            returns.rates[k] = nil
        }
        return .lease(ask)
    }

    /// The database admitted the request: its spare parts join the slices.
    mutating func granted(_ ask: Ask, _ reply: Reply, now: Double) -> AdmissionGrant {
        offset = reply.now - now
        let second = Int(reply.now.rounded(.down))
        let deadline = now + (Double(second) + 1 - reply.now) - Self.margin
        for (i, name) in ask.scopes.enumerated() {
            guard var s = scopes[name] else {    // dropped meanwhile: the spare parts go back
                if ask.rateAsk[i] >= 0 {
                    returns.owe(RateKey(scope: name, second: second), requests: reply.requests[i] - 1, tokens: reply.tokens[i] - ask.charge.tokens)
                }
                if ask.slotAsk[i] >= 0, reply.slots[i] > 1 { returns.slots[name, default: 0] += reply.slots[i] - 1 }
                if ask.usdAsk[i] >= 0, reply.usd[i] > ask.charge.reserveUSD { returns.usd[name, default: 0] += reply.usd[i] - ask.charge.reserveUSD }
                continue
            }
            if ask.rateAsk[i] >= 0 {
                let fresh = RateSlice(second: second, deadline: deadline, requests: reply.requests[i] - 1,
                                      tokens: reply.tokens[i] - ask.charge.tokens, granted: reply.requests[i])
                if var r = s.rate, r.second == second {
                    r.requests += fresh.requests
                    r.tokens += fresh.tokens
                    r.granted += fresh.granted
                    s.rate = r
                } else if let r = s.rate, r.second > second {
                    returns.owe(RateKey(scope: name, second: second), requests: fresh.requests, tokens: fresh.tokens)
                } else {
                    if let r = s.rate { returns.owe(RateKey(scope: name, second: r.second), requests: r.requests, tokens: r.tokens) }
                    s.rate = fresh
                }
            }
            if reply.oldest[i] >= 0 {
                s.used = reply.used[i]
                s.usedTokens = reply.usedTokens[i]
                s.oldest = reply.oldest[i]
            }
            if ask.slotAsk[i] >= 0 { s.slots += reply.slots[i] - 1 }
            if ask.usdAsk[i] >= 0 { s.usd += max(0, reply.usd[i] - ask.charge.reserveUSD) }
            s.grew = false
            s.replied = true
            scopes[name] = s
        }
        return grant(ask.scopes, ask.rateScopes, ask.budgetScopes, ask.charge, startedS: reply.now, dbNow: reply.now)
    }

    /// The database refused the request (or could not be asked: `applied` false): what it took here goes back.
    mutating func putBack(_ ask: Ask, refused: Bool) {
        if refused {
            for name in ask.scopes { scopes[name]?.grew = false }
        }
        for (i, name) in ask.scopes.enumerated() {
            if let second = ask.tookRate[i] {
                if var r = scopes[name]?.rate, r.second == second {
                    r.requests += 1
                    r.tokens += ask.charge.tokens
                    scopes[name]!.rate = r
                } else {
                    returns.owe(RateKey(scope: name, second: second), requests: 1, tokens: ask.charge.tokens)
                }
            }
            if ask.tookSlot[i] { giveSlot(name) }
            // Spare USD handed back is applied only when admitted: on a refusal it is still this replica's.
            let usd = (ask.tookUSD[i] ? ask.charge.reserveUSD : 0) + (refused ? ask.usdBack[i] : 0)
            if usd > 0 {
                if scopes[name] != nil { scopes[name]!.usd += usd } else { returns.usd[name, default: 0] += usd }
            }
        }
    }

    /// A request ended: its slots stay with this replica (its reservation is released by the completion batch).
    mutating func complete(_ grant: AdmissionGrant) {
        for name in Set(grant.rateScopes + grant.budgetScopes) { giveSlot(name) }
    }

    /// Whether this replica has unused units of expired slices on a scope of `checks`, not yet given back.
    func owes(_ checks: [AdmissionCheck], now: Double) -> Bool {
        checks.contains { c in
            if let r = scopes[c.scope]?.rate, now >= r.deadline, r.requests > 0 || r.tokens > 0 { return true }
            return returns.rates.keys.contains { $0.scope == c.scope }
        }
    }

    /// Everything owed, for the completion batch: unused units of expired slices, and spare slots and USD beyond
    /// what is kept (none near a limit). `everything` gives all back (shutdown); `idle` also gives back the scopes
    /// not used since the last idle collection, and forgets them.
    mutating func collect(now: Double, everything: Bool = false, idle: Bool = false) -> Returns {
        for (name, var s) in scopes {
            expire(&s, name, now: now)
            if everything || (idle && !s.touched) {
                scopes[name] = s
                drop(name)
                continue
            }
            let keepSlots = s.rates.maxConcurrent.map { min(s.slotAsk, $0 / Self.spareFloor) } ?? s.slotAsk
            if s.slots > keepSlots {
                returns.slots[name, default: 0] += s.slots - keepSlots
                s.slots = keepSlots
            }
            var keepUSD = 0.0
            if s.reserve > 0, let units = s.budgets.map({ Int($0.limitUSD / (Double(Self.spareFloor) * s.reserve)) }).min() {
                keepUSD = Double(min(s.usdAsk, units)) * s.reserve
            }
            if s.usd > keepUSD + 1e-12 {
                returns.usd[name, default: 0] += s.usd - keepUSD
                s.usd = keepUSD
            }
            if idle { s.touched = false }
            scopes[name] = s
        }
        defer { returns = Returns() }
        return returns
    }

    // MARK: Parts

    private mutating func expire(_ s: inout Scope, _ name: String, now: Double) {
        guard let r = s.rate, now >= r.deadline else { return }
        returns.owe(RateKey(scope: name, second: r.second), requests: r.requests, tokens: r.tokens)
        if r.requests * 2 > r.granted { s.rateAsk /= 2 }
        s.rate = nil
    }

    /// Gives back everything held on a scope and forgets it.
    private mutating func drop(_ name: String) {
        guard let s = scopes.removeValue(forKey: name) else { return }
        if let r = s.rate { returns.owe(RateKey(scope: name, second: r.second), requests: r.requests, tokens: r.tokens) }
        if s.slots > 0 { returns.slots[name, default: 0] += s.slots }
        if s.usd > 1e-12 { returns.usd[name, default: 0] += s.usd }
    }

    private mutating func takeRate(_ name: String, _ charge: AdmissionCharge) -> Int {
        var r = scopes[name]!.rate!
        r.requests -= 1
        r.tokens -= charge.tokens
        scopes[name]!.rate = r
        return r.second
    }

    private mutating func takeSlot(_ name: String) {
        scopes[name]!.slots -= 1
    }

    private mutating func takeUSD(_ name: String, _ charge: AdmissionCharge) {
        let usd = scopes[name]!.usd - charge.reserveUSD
        scopes[name]!.usd = usd < 1e-12 ? 0 : usd
    }

    private static func grow(_ ask: Int) -> Int { min(maxAsk, max(1, ask * 2)) }

    private mutating func giveSlot(_ name: String) {
        if scopes[name] != nil { scopes[name]!.slots += 1 } else { returns.slots[name, default: 0] += 1 }
    }

    /// The grant, with the tightest `x-ratelimit-*` figures as this replica knows them (the window at its last
    /// lease, less what its slices still hold).
    private func grant(_ names: [String], _ rateScopes: [String], _ budgetScopes: [String], _ charge: AdmissionCharge,
                       startedS: Double, dbNow: Double) -> AdmissionGrant {
        var status = RateLimitStatus()
        for name in names {
            guard let s = scopes[name], s.hasRate else { continue }
            let reset = s.oldest < 0 ? 0 : max(0, Double(s.oldest + 60) * 1000 - dbNow * 1000)
            if let rpm = s.rates.rpm, rpm > 0 {
                let left = max(0, rpm - s.used + max(0, s.rate?.requests ?? 0))
                if status.remainingRequests.map({ left < $0 }) ?? true {
                    status.limitRequests = rpm
                    status.remainingRequests = left
                    status.resetRequestsMs = reset
                }
            }
            if let tpm = s.rates.tpm, tpm > 0 {
                let left = max(0, tpm - s.usedTokens + max(0, s.rate?.tokens ?? 0))
                if status.remainingTokens.map({ left < $0 }) ?? true {
                    status.limitTokens = tpm
                    status.remainingTokens = left
                    status.resetTokensMs = reset
                }
            }
        }
        return AdmissionGrant(rateScopes: rateScopes, budgetScopes: budgetScopes, charge: charge, startedMs: startedS * 1000, status: status)
    }
}
