import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardRouting
@testable import SwitchboardServer

/// Pure tests of key/team specs, key texts, budget calendars and the admission book.
@Suite struct GovernanceSpecTests {
    @Test func keySpecReadsEveryFieldAndReportsEveryProblemAtItsPath() throws {
        let json = JSONValue.parse(Data(#"""
            {"name":"ci","team":"research","models":["chat*"],"duration":"30d","roles":["user","admin"],"region":"eu",
             "priority":"batch","metadata":{"owner":"ana"},
             "limits":{"rpm":100,"tpm":5000,"max_concurrent":3,"budgets":[{"period":"month","usd":50,"alert_usd":40}],
                       "models":{"chat":{"rpm":10}}}}
            """#.utf8))!
        let spec = try GovernanceSpec.key(json: json, now: 1000)
        #expect(spec.name == "ci" && spec.team == .some("research") && spec.models == ["chat*"])
        #expect(spec.expiresAt == .some(1000 + 30 * 86_400))
        #expect(spec.roles == [.admin, .user] && spec.region == .some("eu") && spec.priority == .batch)
        #expect(spec.limits == Limits(rates: .init(rpm: 100, tpm: 5000, maxConcurrent: 3),
                                      budgets: [Budget(period: .month, limitUSD: 50, alertUSD: 40)], models: ["chat": .init(rpm: 10)]))
        #expect(spec.metadata == ["owner": "ana"])

        let bad = JSONValue.parse(Data(#"""
            {"name":"","roles":["owner"],"priority":"urgent","expires_at":"tomorrow","limits":{"rpm":0,"budgets":[{"period":"year","usd":-1}],"rps":3},"colour":1}
            """#.utf8))!
        let problems = try #require(throws: ConfigError.self) { try GovernanceSpec.key(json: bad, now: 0) }.problems.map(\.path)
        for path in ["colour", "name", "roles[0]", "priority", "expires_at", "limits.rpm", "limits.rps", "limits.budgets[0].period", "limits.budgets[0].usd"] {
            #expect(problems.contains(path), "missing a problem at \(path): \(problems)")
        }
        // null clears optional fields.
        let clear = try GovernanceSpec.key(json: JSONValue.parse(Data(#"{"team":null,"expires_at":null,"region":null}"#.utf8))!, now: 0)
        #expect(clear.team == .some(nil) && clear.expiresAt == .some(nil) && clear.region == .some(nil))
    }

    @Test func storedSpecReadsBackTheSameKey() throws {
        let key = KeyRecord(id: "abcdefghij12", name: "svc", team: "t", models: ["a", "b*"], roles: [.reviewer, .user], region: "us",
                            priority: .critical, limits: Limits(rates: .init(tpm: 9), budgets: [Budget(period: .total, limitUSD: 1.5)]),
                            metadata: ["k": "v"], createdAt: 5, secretHash: "h", salt: "s")
        var back = KeyRecord(id: key.id, name: key.name, team: key.team, createdAt: 5, secretHash: "h", salt: "s")
        try GovernanceSpec.key(json: GovernanceSpec.storedSpec(key), now: 0).apply(to: &back)
        #expect(back == key)
    }

    @Test func keyTextsParseOnlyInTheirExactShape() {
        let id = KeyText.random(12, alphabet: KeyText.idAlphabet), secret = KeyText.random(40, alphabet: KeyText.secretAlphabet)
        let text = KeyText.make(id: id, secret: secret)
        #expect(KeyText.parse(text)! == (id, secret))
        for bad in ["", "sk-sb-", text + "x", String(text.dropLast()), text.replacingOccurrences(of: "_", with: "-"),
                    "sk-xx-" + text.dropFirst(6), "sk-sb-ABCDEFGHIJKL_" + secret] {
            #expect(KeyText.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func budgetPeriodsFollowTheUTCCalendar() {
        // 2027-03-10 is a Wednesday.
        let d = BudgetCalendar.days(year: 2027, month: 3, day: 10)
        #expect(BudgetCalendar.civil(d) == (2027, 3, 10))
        #expect(BudgetCalendar.start(of: .week, containing: d) == BudgetCalendar.days(year: 2027, month: 3, day: 8))
        #expect(BudgetCalendar.end(of: .week, containing: d) == BudgetCalendar.days(year: 2027, month: 3, day: 15))
        #expect(BudgetCalendar.start(of: .month, containing: d) == BudgetCalendar.days(year: 2027, month: 3, day: 1))
        #expect(BudgetCalendar.end(of: .month, containing: BudgetCalendar.days(year: 2027, month: 12, day: 31)) == BudgetCalendar.days(year: 2028, month: 1, day: 1))
        #expect(BudgetCalendar.end(of: .month, containing: BudgetCalendar.days(year: 2028, month: 2, day: 3)) == BudgetCalendar.days(year: 2028, month: 3, day: 1))
        #expect(BudgetCalendar.day(0) == 0 && BudgetCalendar.start(of: .week, containing: 0) == -3)   // 1970-01-01, a Thursday
        // Every day round-trips through the civil calendar over four centuries.
        for day in stride(from: -200_000, through: 200_000, by: 97) {
            let (y, m, dd) = BudgetCalendar.civil(day)
            #expect(BudgetCalendar.days(year: y, month: m, day: dd) == day)
        }
    }
}

@Suite struct AdmissionBookTests {
    static let now = 1_804_680_000_000.0   // ms
    static var today: Int { BudgetCalendar.day(now / 1000) }

    @Test func rpmAdmitsExactlyTheLimitInAnySixtySecondsThenAgesOut() {
        var book = AdmissionBook()
        let checks = [AdmissionCheck(scope: "key:a", rates: .init(rpm: 100))]
        var admitted = 0
        for i in 0..<300 {
            if case .admitted = book.admit(checks, charge: .init(tokens: 1, reserveUSD: 0), nowMs: Self.now + Double(i), today: Self.today) { admitted += 1 }
        }
        #expect(admitted == 100)
        guard case .refused(.rate(_, let limit, 100, let retry?, let status)) = book.admit(checks, charge: .init(tokens: 1, reserveUSD: 0), nowMs: Self.now + 500, today: Self.today) else {
            Issue.record("expected an rpm refusal")
            return
        }
        #expect(limit == "rpm" && status.remainingRequests == 0 && retry > 59_000 && retry <= 60_000)
        if case .refused = book.admit(checks, charge: .init(tokens: 1, reserveUSD: 0), nowMs: Self.now + 59_000, today: Self.today) {} else { Issue.record("admitted before the window moved on") }
        if case .admitted = book.admit(checks, charge: .init(tokens: 1, reserveUSD: 0), nowMs: Self.now + 60_000, today: Self.today) {} else { Issue.record("refused after the window moved on") }
    }

    @Test func tokensAreEstimatedThenCorrectedAndConcurrencyIsGivenBack() {
        var book = AdmissionBook()
        let checks = [AdmissionCheck(scope: "key:a", rates: .init(tpm: 1000, maxConcurrent: 2))]
        guard case .admitted(let g1) = book.admit(checks, charge: .init(tokens: 600, reserveUSD: 0), nowMs: Self.now, today: Self.today) else { Issue.record("1"); return }
        // 600 + 600 > 1000: the second waits for tokens, not for a place.
        guard case .refused(.rate(_, "tpm", 1000, _, _)) = book.admit(checks, charge: .init(tokens: 600, reserveUSD: 0), nowMs: Self.now, today: Self.today) else { Issue.record("2"); return }
        // The first used only 100: the correction makes room.
        _ = book.complete(g1, actualTokens: 100, actualUSD: 0, nowMs: Self.now + 10)
        guard case .admitted(let g2) = book.admit(checks, charge: .init(tokens: 600, reserveUSD: 0), nowMs: Self.now + 20, today: Self.today) else { Issue.record("3"); return }
        guard case .admitted = book.admit(checks, charge: .init(tokens: 10, reserveUSD: 0), nowMs: Self.now + 30, today: Self.today) else { Issue.record("4"); return }
        guard case .refused(.rate(_, "max_concurrent", 2, nil, _)) = book.admit(checks, charge: .init(tokens: 1, reserveUSD: 0), nowMs: Self.now + 40, today: Self.today) else { Issue.record("5"); return }
        _ = book.complete(g2, actualTokens: 600, actualUSD: 0, nowMs: Self.now + 50)
        guard case .admitted = book.admit(checks, charge: .init(tokens: 1, reserveUSD: 0), nowMs: Self.now + 60, today: Self.today) else { Issue.record("6"); return }
    }

    @Test func admissionIsAllOrNothingAcrossScopes() {
        var book = AdmissionBook()
        let key = AdmissionCheck(scope: "key:a", rates: .init(rpm: 10))
        let team = AdmissionCheck(scope: "team:t", rates: .init(rpm: 3))
        for _ in 0..<3 { _ = book.admit([key, team], charge: .init(tokens: 0, reserveUSD: 0), nowMs: Self.now, today: Self.today) }
        guard case .refused(.rate(scope: "team:t", _, _, _, _)) = book.admit([key, team], charge: .init(tokens: 0, reserveUSD: 0), nowMs: Self.now, today: Self.today) else {
            Issue.record("the team limit should refuse")
            return
        }
        // The refused request charged nothing to the key: 7 more fit under the key alone.
        var admitted = 0
        for _ in 0..<10 { if case .admitted = book.admit([key], charge: .init(tokens: 0, reserveUSD: 0), nowMs: Self.now, today: Self.today) { admitted += 1 } }
        #expect(admitted == 7)
    }

    @Test func budgetsCountSpendAndReservationsAndAlertOncePerPeriod() {
        var book = AdmissionBook()
        let budget = Budget(period: .day, limitUSD: 1.0, alertUSD: 0.55)
        let checks = [AdmissionCheck(scope: "key:a", budgets: [budget])]
        #expect(book.unloadedBudgets(checks) == ["key:a"])
        book.load("key:a", SpendLedger(days: [Self.today: 0.3, Self.today - 1: 5.0], before: 100))
        #expect(book.unloadedBudgets(checks).isEmpty)
        // 0.3 spent; each request reserves 0.25: 0.3, 0.55, 0.8 are under 1.0, then 1.05 is not.
        var grants: [AdmissionGrant] = []
        for _ in 0..<5 {
            if case .admitted(let g) = book.admit(checks, charge: .init(tokens: 0, reserveUSD: 0.25), nowMs: Self.now, today: Self.today) { grants.append(g) }
        }
        #expect(grants.count == 3)
        guard case .refused(.budget(_, .day, 1.0, let spent, let retry?)) = book.admit(checks, charge: .init(tokens: 0, reserveUSD: 0.25), nowMs: Self.now, today: Self.today) else {
            Issue.record("expected a budget refusal")
            return
        }
        #expect(abs(spent - 0.3) < 1e-9 && retry == 12 * 3_600_000)   // the day ends at midnight UTC, 12 h after noon
        // Actual costs replace reservations; the first crossing of 0.55 alerts, later ones do not.
        let alerts = grants.map { book.complete($0, actualTokens: nil, actualUSD: 0.1, nowMs: Self.now, budgets: ["key:a": [budget]]) }
        #expect(alerts.map(\.count) == [0, 0, 1] && alerts[2].first?.spentUSD ?? 0 > 0.59)
        #expect(abs(book.ledgers["key:a"]!.spent(.day, today: Self.today) - 0.6) < 1e-9 && book.ledgers["key:a"]!.reserved == 0)
        #expect(abs(book.ledgers["key:a"]!.spent(.total, today: Self.today) - 105.6) < 1e-9)
        // A new day: the day budget starts again (the week's spend still counts for a week budget).
        let tomorrow = Self.today + 1
        if case .admitted = book.admit(checks, charge: .init(tokens: 0, reserveUSD: 0.9), nowMs: Self.now + 86_400_000, today: tomorrow) {} else { Issue.record("refused on a new day") }
    }

    /// Random admissions and completions over several scopes never exceed any limit, against a plain model.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func neverExceedsAnyLimitUnderRandomTraffic(_ seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var book = AdmissionBook()
        let scopes = [AdmissionCheck(scope: "key:a", rates: .init(rpm: 40, tpm: 3000, maxConcurrent: 5)),
                      AdmissionCheck(scope: "team:t", rates: .init(rpm: 60, maxConcurrent: 7))]
        var inFlight: [(AdmissionGrant, [String])] = []
        var starts: [String: [Double]] = [:]
        var concurrent: [String: Int] = [:]
        var t = Self.now
        for _ in 0..<5000 {
            t += Double(rng.next() % 400)
            if !inFlight.isEmpty, rng.next() % 2 == 0 {
                let (g, s) = inFlight.remove(at: Int(rng.next() % UInt64(inFlight.count)))
                _ = book.complete(g, actualTokens: Int(rng.next() % 100), actualUSD: 0, nowMs: t)
                for scope in s { concurrent[scope, default: 0] -= 1 }
                continue
            }
            let checks = rng.next() % 3 == 0 ? [scopes[1]] : scopes
            if case .admitted(let g) = book.admit(checks, charge: .init(tokens: Int(rng.next() % 100), reserveUSD: 0), nowMs: t, today: Self.today) {
                inFlight.append((g, checks.map(\.scope)))
                for c in checks {
                    starts[c.scope, default: []].append(t)
                    concurrent[c.scope, default: 0] += 1
                    #expect(concurrent[c.scope]! <= c.rates.maxConcurrent!)
                    // Requests in the last 59 whole seconds (the window is 60 one-second buckets).
                    let second = (t / 1000).rounded(.down)
                    let recent = starts[c.scope]!.filter { ($0 / 1000).rounded(.down) > second - 60 }.count
                    #expect(recent <= c.rates.rpm!)
                }
            }
        }
        #expect(starts["key:a"]!.count > 100)
    }

    /// The window's running sums always equal its counted seconds, against a plain model of whole seconds.
    @Test(arguments: [4, 5, 6] as [UInt64])
    func windowSumsFollowItsSecondsUnderRandomUse(_ seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var w = CapacityWindow(limits: DeploymentLimits(rpm: 1_000_000, tpm: 1_000_000_000))
        var model: [Int: (requests: Int, tokens: Int)] = [:]
        var started: [(ms: Double, estimate: Int)] = []
        var t = Self.now
        var latest = Int((t / 1000).rounded(.down))
        for _ in 0..<4000 {
            t += rng.next() % 50 == 0 ? Double(30_000 + rng.next() % 60_000) : Double(rng.next() % 700)
            let second = Int((t / 1000).rounded(.down))
            latest = max(latest, second)
            if !started.isEmpty, rng.next() % 2 == 0 {
                let (ms, estimate) = started.remove(at: Int(rng.next() % UInt64(started.count)))
                let actual = Int(rng.next() % 300)
                w.release(estimate: estimate, actualTokens: actual, startedMs: ms, nowMs: t)
                let s = Int((ms / 1000).rounded(.down))
                if s > latest - 60, s <= latest, let b = model[s] { model[s] = (b.requests, max(0, b.tokens + actual - estimate)) }
            } else {
                let estimate = Int(rng.next() % 200)
                w.acquire(tokens: estimate, nowMs: t)
                started.append((t, estimate))
                model[second, default: (0, 0)].requests += 1
                model[second, default: (0, 0)].tokens += estimate
            }
            model = model.filter { $0.key > latest - 60 }
            let requests = w.requestsInWindow(nowMs: t), tokens = w.tokensInWindow(nowMs: t)
            #expect(requests == model.values.reduce(0) { $0 + $1.requests })
            #expect(tokens == model.values.reduce(0) { $0 + $1.tokens })
        }
    }

    /// The reset durations of the `x-ratelimit-*` headers read exactly as `String(format: "%.3gs")` wrote them.
    @Test func resetSecondsReadAsTheFormatterWroteThem() {
        var rng = SplitMix64(seed: 7)
        var values: [Double] = [0, 0.0001, 0.000999, 0.001, 0.0015, 0.00999, 0.0625, 0.1, 0.125, 0.9995, 0.99951, 1, 1.005, 1.125,
                                9.995, 9.9951, 9.996, 10, 12.5, 59.999, 60, 99.95, 99.96, 100, 123.45, 999.4, 999.5, 999.6, 1000, 1234.5, 1e9]
        for _ in 0..<20_000 {
            let magnitude = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000][Int(rng.next() % 8)]
            values.append(Double(rng.next() % 1_000_000) / 1_000_000 * 10 * magnitude)
            values.append(Double(rng.next() % 60_001) / 1000)     // whole milliseconds of a minute's window
        }
        for v in values { #expect(RateLimitStatus.seconds(v) == String(format: "%.3gs", v), "\(v)") }
    }
}

@Suite struct PriorityGateTests {
    @Test func admitsUpToCapacityThenQueuesByClassAndWakesStrictlyByPriority() {
        var g = PriorityGateState(capacity: 2, depth: 4)
        #expect(g.arrive(1, .batch) == .admitted && g.arrive(2, .batch) == .admitted)
        #expect(g.arrive(3, .batch) == .queued(evicted: nil) && g.arrive(4, .standard) == .queued(evicted: nil))
        #expect(g.arrive(5, .critical) == .queued(evicted: nil) && g.arrive(6, .batch) == .queued(evicted: nil))
        // Full: a critical newcomer pushes out the newest batch waiter; a batch newcomer is shed.
        #expect(g.arrive(7, .critical) == .queued(evicted: 6))
        #expect(g.arrive(8, .batch) == .shed)
        #expect(g.arrive(9, .standard) == .queued(evicted: 3))
        #expect(g.arrive(10, .standard) == .shed)    // no lower class left to push out
        // Places go to critical (oldest first), then standard, then batch.
        var order: [UInt64] = []
        while let next = g.release() { order.append(next) }
        #expect(order == [5, 7, 4, 9])
        #expect(g.inFlight == 1 && g.queued == 0)
        // A newcomer does not overtake waiters of its class or above, even with a free place... and takes it when none wait.
        #expect(g.arrive(11, .batch) == .admitted)
        #expect(g.arrive(12, .standard) == .queued(evicted: nil))
        #expect(g.remove(12) && !g.remove(12))
    }

    /// Random arrivals and releases: never more in flight than capacity, never more waiting than depth, and a
    /// waiter is only woken while no waiter of a higher class exists.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func invariantsHoldUnderRandomTraffic(_ seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var g = PriorityGateState(capacity: 3, depth: 5)
        var classOf: [UInt64: PriorityClass] = [:]
        var waiting: Set<UInt64> = []
        for id in UInt64(1)...3000 {
            if rng.next() % 2 == 0 {
                let p = PriorityClass.allCases[Int(rng.next() % 3)]
                classOf[id] = p
                switch g.arrive(id, p) {
                case .admitted: break
                case .queued(let evicted):
                    waiting.insert(id)
                    if let e = evicted {
                        #expect(classOf[e]!.rank > p.rank)
                        waiting.remove(e)
                    }
                case .shed: #expect(waiting.allSatisfy { classOf[$0]!.rank <= p.rank } && waiting.count == 5)
                }
            } else if g.inFlight > 0 {
                if let woken = g.release() {
                    #expect(waiting.allSatisfy { classOf[$0]!.rank >= classOf[woken]!.rank })
                    waiting.remove(woken)
                }
            }
            #expect(g.inFlight <= 3 && g.queued <= 5 && g.queued == waiting.count)
        }
    }
}
