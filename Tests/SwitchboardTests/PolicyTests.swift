import Foundation
import HTTPTypes
import Synchronization
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import SwitchboardRouting


@Suite struct PolicyTests {
    static let deployments = (0..<4).map { DeploymentConfig(provider: "p\($0)", model: "m", weight: $0 + 1, price: Price(input: Double(4 - $0), output: 1)) }

    @Test(arguments: BalancingPolicyName.allCases)
    func picksOnlyEligibleAndNilOnlyWhenNone(_ policy: BalancingPolicyName) {
        let clock = ManualClock()
        let b = makeBalancer(policy, deployments: Self.deployments, seed: 42, now: { clock.now })
        var rng = SeededGenerator(seed: 7)
        for round in 0..<2000 {
            let candidates = (0..<4).filter { _ in Bool.random(using: &rng) }
            let key: String? = round % 3 == 0 ? nil : "session-\(round % 17)"
            let pick = b.choose(among: candidates, context: BalancingContext(attempt: 1 + round % 2, affinityKey: key))
            if candidates.isEmpty { #expect(pick == nil) } else { #expect(pick.map(candidates.contains) == true, "\(policy) picked \(String(describing: pick)) from \(candidates)") }
            if let pick {
                b.started(pick)
                clock.advance(1)
                b.finished(pick, latencyMs: round % 11 == 0 ? nil : Double(10 * (pick + 1)))
            }
        }
    }

    @Test(arguments: [BalancingPolicyName.random, .p2cEWMA, .leastOutstanding, .lowestLatency])
    func sameSeedSameSequence(_ policy: BalancingPolicyName) {
        func run() -> [Int] {
            let clock = ManualClock()
            let b = makeBalancer(policy, deployments: Self.deployments, seed: 99, now: { clock.now })
            return (0..<300).map { i in
                let p = b.choose(among: [0, 1, 2, 3], context: BalancingContext())!
                b.started(p)
                clock.advance(5)
                b.finished(p, latencyMs: Double(i % 7 + p * 3))
                return p
            }
        }
        #expect(run() == run())
    }

    @Test func peakEWMAJumpsUpAtOnceAndDecaysDown() {
        var s = LoadState(count: 1, tauMs: 1000)
        s.started(0); s.finished(0, latencyMs: 100, nowMs: 0)
        s.started(0); s.finished(0, latencyMs: 900, nowMs: 10)
        #expect(s.ewmaMs[0] == 900)                                 // a slow sample is believed immediately
        s.started(0); s.finished(0, latencyMs: 100, nowMs: 1010)    // one time constant later
        let v = s.ewmaMs[0]!
        #expect(abs(v - (900 * exp(-1) + 100 * (1 - exp(-1)))) < 1e-9)
        s.started(0)
        #expect(s.cost(0) == v * 2)                                 // one request in flight doubles the cost
    }

    @Test func p2cSendsMostTrafficToTheFastDeployment() {
        let clock = ManualClock()
        let b = P2CEWMABalancer(count: 3, seed: 1, now: { clock.now })
        var counts = [0, 0, 0]
        let latency = [20.0, 200.0, 400.0]
        for _ in 0..<3000 {
            let p = b.choose(among: [0, 1, 2], context: BalancingContext())!
            counts[p] += 1
            b.started(p)
            clock.advance(3)
            b.finished(p, latencyMs: latency[p])
        }
        #expect(counts[0] > 2000, "\(counts)")
        #expect(counts[2] > 0)       // the slow ones still get probed now and then
    }

    @Test func leastOutstandingAvoidsBusyDeployments() {
        let b = LeastOutstandingBalancer(count: 3, seed: 3, now: { 0 })
        b.started(0); b.started(0); b.started(1)
        #expect(b.choose(among: [0, 1, 2], context: BalancingContext()) == 2)
        #expect(b.choose(among: [0, 1], context: BalancingContext()) == 1)
    }

    @Test func leastCostPicksTheCheapestAndRotatesTies() {
        let b = LeastCostBalancer(prices: [Price(input: 3, output: 15), Price(input: 0.15, output: 0.6), Price(input: 0.5, output: 0.2)])
        #expect((0..<5).map { _ in b.choose(among: [0, 1, 2], context: BalancingContext())! } == [2, 2, 2, 2, 2])
        #expect(b.choose(among: [0, 1], context: BalancingContext()) == 1)
        let tie = LeastCostBalancer(prices: [Price(input: 1), Price(input: 1)])
        #expect(Set((0..<4).map { _ in tie.choose(among: [0, 1], context: BalancingContext())! }) == [0, 1])
    }

    @Test func consistentHashIsStickyAndMovesOnlyTheRemovedDeploymentsKeys() {
        let b = ConsistentHashBalancer()
        let keys = (0..<400).map { "user-\($0)" }
        let all = keys.map { b.choose(among: [0, 1, 2, 3], context: BalancingContext(affinityKey: $0))! }
        #expect(all == keys.map { b.choose(among: [0, 1, 2, 3], context: BalancingContext(affinityKey: $0))! })
        for d in 0..<4 { #expect(all.filter { $0 == d }.count > 50, "deployment \(d) gets its share") }
        let without2 = keys.map { b.choose(among: [0, 1, 3], context: BalancingContext(affinityKey: $0))! }
        for (before, after) in zip(all, without2) where before != 2 { #expect(before == after) }
    }
}

@Suite struct PolicyAppTests {
    static let yaml = """
    auth: { keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: a, kind: mock, seed: 1 }
      - { name: b, kind: mock, seed: 2 }
      - { name: c, kind: mock, seed: 3 }
    models:
      - name: sticky
        balancing: consistent-hash
        deployments: [ { provider: a, model: x }, { provider: b, model: x }, { provider: c, model: x } ]
      - name: thrifty
        balancing: least-cost
        deployments: [ { provider: a, model: x, price: { input: 5, output: 15 } }, { provider: b, model: x, price: { input: 0.1, output: 0.4 } } ]
      - name: smart
        balancing: p2c-ewma
        deployments: [ { provider: a, model: x }, { provider: b, model: x } ]
    """

    @Test func affinityLeastCostAndP2CThroughTheGateway() async throws {
        try await withGateway(Self.yaml) { h in
            var seen: [String: Set<String>] = [:]
            for i in 0..<12 {
                let session = "s\(i % 4)"
                var headers = HTTPFields()
                headers[HTTPField.Name("x-switchboard-affinity")!] = session
                let r = try await h.post("/v1/chat/completions", #"{"model":"sticky","messages":[{"role":"user","content":"x"}]}"#, headers: headers)
                seen[session, default: []].insert(r.header("x-switchboard-provider") ?? "")
            }
            #expect(seen.values.allSatisfy { $0.count == 1 })           // each session stays on one deployment
            for _ in 0..<2 {   // the user field works as the key too
                let r = try await h.post("/v1/chat/completions", #"{"model":"sticky","user":"alice","messages":[{"role":"user","content":"x"}]}"#)
                seen["alice", default: []].insert(r.header("x-switchboard-provider") ?? "")
            }
            #expect(seen["alice"]?.count == 1)
            for _ in 0..<3 {
                #expect(try await h.post("/v1/chat/completions", #"{"model":"thrifty","messages":[{"role":"user","content":"x"}]}"#).header("x-switchboard-provider") == "b")
            }
            for _ in 0..<4 { #expect(try await h.post("/v1/chat/completions", #"{"model":"smart","messages":[{"role":"user","content":"x"}]}"#).status == .ok) }
        }
    }
}
