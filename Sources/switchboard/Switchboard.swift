import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
import SwitchboardServer

@main
enum Entry {
    static func main() async {
        MallocTuning.applyByRestarting()
        await Switchboard.main()
    }
}

struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A self-hosted LLM gateway: one OpenAI-compatible endpoint in front of many model providers.",
        subcommands: [Serve.self, Check.self, MockProvider.self, Simulate.self, Keys.self, Teams.self, Route.self, Router.self, ImportConfig.self],
        defaultSubcommand: nil
    )
}

/// Reads the configuration file (or the embedded demo), printing why it cannot be read or every problem, and exiting 1.
func loadConfig(path: String?) throws -> GatewayConfig {
    let text: String
    if let path {
        do {
            text = try ConfigLoader.readFile(path)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    } else {
        text = DemoConfig.yaml
    }
    do {
        return try ConfigLoader.load(yaml: text, environment: ProcessInfo.processInfo.environment)
    } catch {
        let file = path ?? "the demo configuration"
        FileHandle.standardError.write(Data("\(file): \(error.problems.count) problem(s):\n".utf8))
        // A problem may span lines (a YAML error shows the offending line): each line indented under the heading.
        for p in error.problems { FileHandle.standardError.write(Data("  \(p.description.replacingOccurrences(of: "\n", with: "\n  "))\n".utf8)) }
        throw ExitCode(1)
    }
}

func makeLogger(_ label: String, level: String?, format: LoggingConfig.Format = .text) -> Logger {
    switch format {
    case .text: LoggingSystem.bootstrap { DeferredMetadataLogHandler(base: StreamLogHandler.standardError(label: $0)) }
    case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
    }
    var logger = Logger(label: label)
    logger.logLevel = level.flatMap(Logger.Level.init(rawValue:))
        ?? ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

/// One event loop per CPU in the process's affinity mask, capped by what cgroups allow.
func defaultEventLoopThreads() -> Int {
    let allowed = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)).flatMap(allowedCPUCount(procStatus:))
    return max(1, min(allowed ?? System.coreCount, System.coreCount))
}

func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a configuration file and print every problem (exit 1 if any).")

    @Option(help: "The YAML configuration file.")
    var config: String

    func run() async throws {
        let cfg = try loadConfig(path: config)
        say("\(config): OK — \(cfg.providers.count) provider(s), \(cfg.models.count) model(s), listen \(cfg.server.host):\(cfg.server.port), storage \(cfg.storage)")
    }
}

struct MockProvider: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-provider",
        abstract: "Run the simulated OpenAI-compatible provider alone (for demos, tests and benchmarks).")

    @Option(help: "Listen address HOST:PORT, or :PORT on 127.0.0.1.")
    var listen: String = "127.0.0.1:9090"
    @Option(help: "Delay before the response head, in ms.")
    var latencyMs: Int = 0
    @Option(help: "For streams, delay from the head to the first token, in ms.")
    var ttftMs: Int = 0
    @Option(help: "Generation speed in tokens per second (0: instant).")
    var tokensPerS: Double = 0
    @Option(help: "Fraction of requests (0…1) answered with HTTP 500.")
    var errorRate: Double = 0
    @Option(help: "Seed of the simulated randomness.")
    var seed: UInt64 = 0
    @Option(help: "Tokens generated when the request sets no max_tokens.")
    var completionTokens: Int = 16
    @Option(help: "Embedding vector length when the request sets no dimensions.")
    var embeddingDimensions: Int = 64
    @Option(help: "Log level (default info).")
    var logLevel: String?

    func validate() throws {
        guard listenAddress(listen, defaultHost: "127.0.0.1") != nil else { throw ValidationError("--listen expects HOST:PORT or :PORT, got \(listen)") }
        guard latencyMs >= 0, ttftMs >= 0, tokensPerS >= 0 else { throw ValidationError("delays and speeds must not be negative") }
        guard (0...1).contains(errorRate) else { throw ValidationError("--error-rate must be between 0 and 1") }
        guard completionTokens >= 1, (1...16_384).contains(embeddingDimensions) else {
            throw ValidationError("--completion-tokens must be ≥ 1 and --embedding-dimensions 1…16384")
        }
    }

    func run() async throws {
        guard let (host, port) = listenAddress(listen, defaultHost: "127.0.0.1") else { throw ExitCode(2) }
        var mock = MockProviderConfig()
        mock.latencyMs = latencyMs
        mock.ttftMs = ttftMs
        mock.tokensPerSecond = tokensPerS
        mock.errorRate = errorRate
        mock.seed = seed
        mock.completionTokens = completionTokens
        mock.embeddingDimensions = embeddingDimensions
        let logger = makeLogger("switchboard.mock", level: logLevel)
        let app = buildMockProviderApplication(config: mock, host: host, port: port, logger: logger) { port in
            say("mock provider listening on http://\(host):\(port)  (OpenAI base URL: http://\(host):\(port)/v1)")
        }
        try await app.runService()
    }
}
