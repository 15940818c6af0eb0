import SwitchboardCore
import Testing
@testable import SwitchboardRouting

@Suite struct BalancerTests {
    @Test func roundRobinCountsDifferByAtMostOne() {
        for n in 1...7 {
            var state = RoundRobinState()
            var counts = Array(repeating: 0, count: n)
            for _ in 0..<(n * 13 + 3) { counts[state.pick(among: Array(0..<n))!] += 1 }
            #expect(counts.max()! - counts.min()! <= 1)
        }
    }

    @Test func roundRobinSkipsIneligibleAndReturnsNilForNone() {
        var state = RoundRobinState()
        #expect(state.pick(among: []) == nil)
        for _ in 0..<10 { #expect([0, 2].contains(state.pick(among: [0, 2])!)) }
    }

    @Test func smoothWeightedSplitsExactlyPerCycleAndInterleaves() {
        var state = SmoothWeightedState(weights: [5, 1, 1])
        let picks = (0..<7).map { _ in state.pick(among: [0, 1, 2])! }
        #expect(picks.filter { $0 == 0 }.count == 5)
        #expect(picks == [0, 0, 1, 0, 2, 0, 0])
        var again = SmoothWeightedState(weights: [3, 2])
        var counts = [0, 0]
        for _ in 0..<500 { counts[again.pick(among: [0, 1])!] += 1 }
        #expect(counts == [300, 200])
    }

    @Test func plannerTriesEveryDeploymentBeforeRepeating() {
        var planner = AttemptPlanner(deploymentCount: 3, retries: 4)
        let b = RoundRobinBalancer()
        var seen: [Int] = []
        while let i = planner.next(using: b) { seen.append(i) }
        #expect(seen.count == 5)
        #expect(Set(seen.prefix(3)) == [0, 1, 2])
    }

    @Test func plannerWithOneDeploymentRetriesIt() {
        var planner = AttemptPlanner(deploymentCount: 1, retries: 2)
        let b = RoundRobinBalancer()
        #expect([planner.next(using: b), planner.next(using: b), planner.next(using: b), planner.next(using: b)] == [0, 0, 0, nil])
    }

    @Test func retriesDoNotShiftTheRotation() {
        // Deployment 0 always fails: every request tries 0 then 1 under a shared balancer.
        let b = RoundRobinBalancer()
        var firsts: [Int] = []
        for _ in 0..<6 {
            var planner = AttemptPlanner(deploymentCount: 2, retries: 1)
            firsts.append(planner.next(using: b)!)
            _ = planner.next(using: b)
        }
        #expect(firsts == [0, 1, 0, 1, 0, 1])
        let w = WeightedRoundRobinBalancer(weights: [1, 1])
        var wf: [Int] = []
        for _ in 0..<6 {
            var planner = AttemptPlanner(deploymentCount: 2, retries: 1)
            wf.append(planner.next(using: w)!)
            #expect(planner.next(using: w) != wf.last)
        }
        #expect(wf.filter { $0 == 0 }.count == 3)
    }

    @Test func retryableFailures() {
        #expect(AttemptPlanner.isRetryable(.connection))
        #expect(AttemptPlanner.isRetryable(.timeout))
        for code in [429, 500, 502, 503, 504] { #expect(AttemptPlanner.isRetryable(.status(code))) }
        for code in [400, 401, 403, 404, 413, 422] { #expect(!AttemptPlanner.isRetryable(.status(code))) }
    }
}
