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
}
