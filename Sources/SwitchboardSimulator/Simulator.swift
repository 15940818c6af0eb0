import Foundation
import SwitchboardCore
import SwitchboardRouting

/// The figures of one simulated run (one policy, or the oracle), over the requests that arrived after the warm-up.
public struct SimulationResult: Sendable {
    public var policy: String
    public var requests = 0
    public var errors = 0
    /// Time from arrival to the first byte of the answer, for answered requests.
    public var p50Ms = 0.0
    public var p99Ms = 0.0
    public var costUSD = 0.0
    /// Attempts started per request (retries and hedges included).
    public var attemptsPerRequest = 0.0
    /// Share of answers per provider.
    public var share: [String: Double] = [:]
    /// For the watched provider: seconds from its recovery to its next answered request, and the ejection back-off
    /// it was under when it recovered.
    public var recoverySeconds: Double?
    public var backoffAtRecoverySeconds: Double?
    /// Why requests failed, by reason.
    public var failures: [String: Int] = [:]

    public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
}

/// Runs the gateway's real routing code — `RoutingTable`, `RoutePlan`, balancers, circuit breakers, caps, back-off,
/// fallbacks, hedging — against simulated providers on a virtual clock. A discrete-event simulation: nothing sleeps,
/// so hours of traffic take seconds.
public struct Simulator: Sendable {
    public let config: GatewayConfig
    public let scenario: Scenario
    public let model: String

    public init(config: GatewayConfig, scenario: Scenario) throws(ConfigError) {
        self.config = config
        self.scenario = scenario
        guard let name = scenario.model ?? config.models.first?.name else {
            throw ConfigError(problems: [ConfigProblem(path: "model", message: "the configuration has no models")])
        }
        guard config.models.contains(where: { $0.name == name }) else {
            throw ConfigError(problems: [ConfigProblem(path: "model", message: "unknown model \"\(name)\" (known: \(config.models.map(\.name).joined(separator: ", ")))")])
        }
        let providers = Set(config.providers.map(\.name))
        var problems: [ConfigProblem] = []
        for name in scenario.providers.keys.sorted() where !providers.contains(name) {
            let hint = suggestion(for: name, among: Array(providers)).map { "; did you mean \"\($0)\"?" } ?? ""
            problems.append(ConfigProblem(path: "providers.\(name)", message: "no provider \"\(name)\" in the configuration\(hint)"))
        }
        if let w = scenario.watch, !providers.contains(w) {
            problems.append(ConfigProblem(path: "watch.provider", message: "no provider \"\(w)\" in the configuration"))
        }
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        model = name
    }

    /// The oracle first, then every policy of the scenario.
    public func runAll() -> [SimulationResult] {
        [runOracle()] + scenario.policies.map { run(policy: $0) }
    }

    /// One run with the model balanced by `policy` (everything else as configured).
    public func run(policy: BalancingPolicyName) -> SimulationResult {
        var config = self.config
        for i in config.models.indices where config.models[i].name == model { config.models[i].balancing = policy }
        var engine = Engine(config: config, scenario: scenario, model: model)
        return engine.run(label: policy.rawValue)
    }

    /// A router that knows every provider's true current behaviour: each request goes to the deployment with the
    /// lowest true median latency among those up, then the next on failure. A lower bound for the policies.
    public func runOracle() -> SimulationResult {
        var engine = Engine(config: config, scenario: scenario, model: model)
        return engine.runOracle()
    }
}
