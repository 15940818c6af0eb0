import SwitchboardCore
import SwitchboardRouting
import Testing
@testable import SwitchboardStore

/// The slices of one replica, without a database: what is admitted locally, what must be leased, what is owed.
@Suite struct LeaseBookTests {
    let checks = [AdmissionCheck(scope: "key:k", rates: .init(rpm: 1000, maxConcurrent: 50), budgets: [Budget(period: .day, limitUSD: 10)])]
    let charge = AdmissionCharge(tokens: 5, reserveUSD: 0.01)

    /// The database's answer to `ask`: the request's part plus `spare` of everything.
    func reply(_ ask: LeaseBook.Ask, spare: Int, now: Double) -> LeaseBook.Reply {
        let n = ask.scopes.count
        return LeaseBook.Reply(now: now, requests: Array(repeating: 1 + spare, count: n), tokens: Array(repeating: 5 * (1 + spare), count: n),
                               slots: Array(repeating: 1 + spare, count: n), usd: Array(repeating: 0.01 * Double(1 + spare), count: n),
                               used: Array(repeating: 1 + spare, count: n), usedTokens: Array(repeating: 0, count: n), oldest: Array(repeating: 100, count: n))
    }

    @Test func admitsFromItsSlicesUntilTheyRunOutThenAsks() throws {
        var book = LeaseBook()
        guard case .lease(let first)? = book.admit(checks, charge: charge, now: 0) else { Issue.record("nothing to admit from yet"); return }
        #expect(first.rateAsk == [0] && first.slotAsk == [0] && first.usdAsk == [0])
        _ = book.granted(first, reply(first, spare: 3, now: 100.25), now: 0)
        for _ in 0..<3 {
            guard case .admitted(let g)? = book.admit(checks, charge: charge, now: 0.1) else { Issue.record("not admitted from the slice"); return }
            #expect(g.startedMs >= 100_000 && g.startedMs < 101_000)
        }
        // Empty: never refused here, a lease is asked (for more: the slice ran out within its second).
        guard case .lease(let second)? = book.admit(checks, charge: charge, now: 0.2) else { Issue.record("admitted with empty slices"); return }
        #expect(second.rateAsk == [1] && second.tookRate == [nil])
        // Refused: nothing was taken locally, nothing changes; the next request asks again.
        book.putBack(second, refused: true)
        #expect(book.admit(checks, charge: charge, now: 0.2, localOnly: true) == nil)
    }

    @Test func expiredSlicesAreOwedAndSparePartsGoBack() throws {
        var book = LeaseBook()
        guard case .lease(let ask)? = book.admit(checks, charge: charge, now: 0) else { return }
        _ = book.granted(ask, reply(ask, spare: 9, now: 100.5), now: 0)
        guard case .admitted(let grant)? = book.admit(checks, charge: charge, now: 0.1) else { Issue.record("not admitted"); return }
        // The second ended (less the margin): 8 unused requests owed on second 100, and the spare slots and USD go
        // back beyond what is kept: nothing (50 slots is under 64 requests' worth; the USD ask is still 0).
        let owed = book.collect(now: 0.46)
        #expect(owed.rates[LeaseBook.RateKey(scope: "key:k", second: 100)]?.requests == 8)
        #expect(owed.slots["key:k"] == 8)
        #expect(abs((owed.usd["key:k"] ?? 0) - 0.08) < 1e-9)
        // A completed request's slot stays with the replica until the next collection.
        book.complete(grant)
        #expect(book.scopes["key:k"]?.slots == 1)
        #expect(book.collect(now: 0.5, everything: true).slots["key:k"] == 1)
        #expect(book.scopes.isEmpty)
    }
}

extension LeaseBook.Step: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.admitted(let x), .admitted(let y)): x == y
        default: false
        }
    }
}
