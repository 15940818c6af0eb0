import Foundation
import SwitchboardCore
import SwitchboardSimulator
import Testing

/// The routing simulator on the shipped scenarios: the figures the README and the closing note quote.
@Suite struct SimulatorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func simulator(_ scenario: String, policies: [BalancingPolicyName]? = nil) throws -> Simulator {
        let config = try ConfigLoader.load(yaml: try String(contentsOf: root.appending(path: "scenarios/config.yaml"), encoding: .utf8), environment: [:])
        var s = try ScenarioLoader.load(yaml: try String(contentsOf: root.appending(path: "scenarios/\(scenario).yaml"), encoding: .utf8))
        if let policies { s.policies = policies }
        return try Simulator(config: config, scenario: s)
    }

    @Test func p2cIsWithinAFifthOfTheOracleWithOneSlowProvider() throws {
        let sim = try Self.simulator("one-slow-provider", policies: [.p2cEWMA, .roundRobin])
        let oracle = sim.runOracle()
        let p2c = sim.run(policy: .p2cEWMA)
        let rr = sim.run(policy: .roundRobin)
        #expect(p2c.requests > 10_000)
        #expect(p2c.p99Ms <= 1.2 * oracle.p99Ms, "p2c p99 \(p2c.p99Ms) vs oracle \(oracle.p99Ms)")
        #expect(rr.p99Ms > 3 * oracle.p99Ms)           // the scenario does tell policies apart
        #expect((p2c.share["slow-c"] ?? 0) < 0.01)
    }

    @Test func noClientVisibleErrorsWhenAProviderIsDown() throws {
        let p2c = try Self.simulator("provider-down").run(policy: .p2cEWMA)
        #expect(p2c.errors == 0, "\(p2c.failures)")
        #expect(p2c.attemptsPerRequest < 1.05)          // after ejection the dead provider is only probed
    }

    @Test func trafficReturnsWithinTheBackOffAfterRecovery() throws {
        let sim = try Self.simulator("degrade-recover")
        for policy in [BalancingPolicyName.p2cEWMA, .roundRobin, .leastOutstanding] {
            let r = sim.run(policy: policy)
            let back = try #require(r.recoverySeconds, "\(policy) never sent traffic back")
            let backoff = try #require(r.backoffAtRecoverySeconds)
            #expect(back <= max(backoff, 1), "\(policy): back after \(back) s, back-off \(backoff) s")
            #expect(r.errors == 0)
        }
    }

    @Test func rateLimitStormIsAbsorbed() throws {
        let r = try Self.simulator("429-storm").run(policy: .p2cEWMA)
        #expect(r.errors == 0)
    }

    @Test func sameSeedSameFigures() throws {
        let sim = try Self.simulator("provider-down")
        let a = sim.run(policy: .random), b = sim.run(policy: .random)
        #expect(a.p50Ms == b.p50Ms && a.p99Ms == b.p99Ms && a.errors == b.errors && a.share == b.share)
    }

    @Test func reportListsEveryPolicyAndTheOracle() throws {
        let sim = try Self.simulator("degrade-recover", policies: [.p2cEWMA, .leastCost])
        let text = SimulationReport.render(sim.runAll(), scenario: sim.scenario, model: sim.model, wallSeconds: 0.5)
        for row in ["oracle", "p2c-ewma", "least-cost", "back after s", "p99/oracle"] { #expect(text.contains(row)) }
    }

    @Test func badScenariosAreReportedWithTheirPaths() throws {
        let yaml = """
            name: broken
            duration_s: 10
            warmup_s: 20
            policies: [p2c-ewm]
            providers:
              fast-a: { latency_ms: { p50: 500, p99: 100 }, events: [ { at_s: 5, until_s: 2, down: maybe } ] }
            surprise: 1
            """
        #expect(throws: ConfigError.self) { try ScenarioLoader.load(yaml: yaml) }
        do {
            _ = try ScenarioLoader.load(yaml: yaml)
        } catch {
            let text = error.description
            for needle in ["warmup_s", "policies[0]", "did you mean \"p2c-ewma\"", "providers.fast-a.latency_ms.p99",
                           "providers.fast-a.events[0].until_s", "providers.fast-a.events[0].down", "surprise"] {
                #expect(text.contains(needle), "missing \(needle) in \(text)")
            }
        }
        let config = try ConfigLoader.load(yaml: try String(contentsOf: Self.root.appending(path: "scenarios/config.yaml"), encoding: .utf8), environment: [:])
        var s = Scenario(name: "x")
        s.providers["fast-z"] = SimulatedProvider()
        #expect(throws: ConfigError.self) { try Simulator(config: config, scenario: s) }
    }
}
