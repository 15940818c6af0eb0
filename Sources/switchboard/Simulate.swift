import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardSimulator

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare balancing policies on simulated traffic, with the gateway's real routing code on a virtual clock.",
        discussion: """
            The scenario describes traffic and how each provider of the configuration behaves over time (latency, errors, \
            outages, 429 storms, slowdowns). Prints p50/p99 time to first byte, error rate, cost and traffic share per \
            policy, next to an oracle that knows every provider's true latency. Scenarios ship in scenarios/.
            """)

    @Option(help: "The gateway configuration (providers, models, routing) to simulate.")
    var config: String

    @Option(help: "The scenario YAML file.")
    var scenario: String

    @Option(help: "Only these policies (comma-separated), overriding the scenario's list.")
    var policies: String?

    func run() throws {
        let gateway = try loadConfig(path: config)
        let text: String
        do {
            text = try ConfigLoader.readFile(scenario)
        } catch {
            complain("error: cannot read scenario file \"\(scenario)\": \(error.reason)")
            throw ExitCode(1)
        }
        var parsed: Scenario
        do {
            parsed = try ScenarioLoader.load(yaml: text)
        } catch {
            report(error, file: scenario)
            throw ExitCode(1)
        }
        if let policies {
            parsed.policies = []
            for name in policies.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let p = BalancingPolicyName(rawValue: name) else {
                    throw ValidationError("unknown policy \"\(name)\" (known: \(BalancingPolicyName.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                parsed.policies.append(p)
            }
        }
        let simulator: Simulator
        do {
            simulator = try Simulator(config: gateway, scenario: parsed)
        } catch {
            report(error, file: scenario)
            throw ExitCode(1)
        }
        let start = ContinuousClock.now
        let results = simulator.runAll()
        let (s, atto) = (ContinuousClock.now - start).components
        say(SimulationReport.render(results, scenario: parsed, model: simulator.model, wallSeconds: Double(s) + Double(atto) / 1e18))
    }

    func report(_ error: ConfigError, file: String) {
        FileHandle.standardError.write(Data("\(file): \(error.problems.count) problem(s):\n".utf8))
        for p in error.problems { FileHandle.standardError.write(Data("  \(p)\n".utf8)) }
    }
}
