import SwitchboardCore
import SwitchboardRouting

/// What `LeaseBook` exchanges with the database: what a replica owes back, a lease to ask for, its answer.
extension LeaseBook {
    struct RateKey: Hashable {
        var scope: String
        var second: Int
    }

    /// What the replica owes the database: unused units of rate slices, spare slots, spare USD.
    struct Returns {
        var rates: [RateKey: (requests: Int, tokens: Int)] = [:]
        var slots: [String: Int] = [:]
        var usd: [String: Double] = [:]
        var isEmpty: Bool { rates.isEmpty && slots.isEmpty && usd.isEmpty }

        mutating func merge(_ o: Returns) {
            for (k, v) in o.rates { owe(k, requests: v.requests, tokens: v.tokens) }
            for (k, v) in o.slots { slots[k, default: 0] += v }
            for (k, v) in o.usd { usd[k, default: 0] += v }
        }

        mutating func owe(_ key: RateKey, requests: Int, tokens: Int) {
            let (r, t) = (max(0, requests), max(0, tokens))
            guard r > 0 || t > 0 else { return }
            let old = rates[key] ?? (0, 0)
            rates[key] = (old.requests + r, old.tokens + t)
        }
    }

    /// One lease to ask for. Per scope (sorted): `*Ask` ≥ 0 asks the database for the request's part plus that
    /// many spare; -1 means the part was taken here (`took*`, to put back if refused) or is not limited.
    struct Ask {
        var scopes: [String] = []
        var rpms: [Int] = [], tpms: [Int] = [], concs: [Int] = []
        var rateAsk: [Int] = [], slotAsk: [Int] = []
        var usdAsk: [Double] = [], usdBack: [Double] = []
        var back: [(key: RateKey, requests: Int, tokens: Int)] = []
        var budgets: [(scope: String, budget: Budget)] = []
        var tookRate: [Int?] = [], tookSlot: [Bool] = [], tookUSD: [Bool] = []
        var charge: AdmissionCharge
        var rateScopes: [String], budgetScopes: [String]
        /// `LeaseBook.givenBack` when the lease was asked.
        var epoch = 0
    }

    /// `sb_lease`'s answer when it admits: per scope of the ask, what was granted and the window's counts.
    struct Reply {
        var now: Double
        var requests: [Int], tokens: [Int], slots: [Int], usd: [Double]
        var used: [Int], usedTokens: [Int], oldest: [Int]
    }
}
