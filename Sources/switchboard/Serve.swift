import ArgumentParser
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import Synchronization

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway.",
        discussion: "Without --config it runs the embedded demo: simulated providers, models demo, demo-fast and demo-cheap, key \(DemoConfig.clientKey).")

    @Option(help: "The YAML configuration file (default: the embedded demo configuration).")
    var config: String?

    @Option(help: "Listen address HOST:PORT, or :PORT to keep the configured host; overrides server.listen.")
    var listen: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info, or $LOG_LEVEL).")
    var logLevel: String?

    func run() async throws {
        var cfg = try loadConfig(path: config)
        // `--listen` wins over the file's `server.listen`, at start and in every configuration a reload reads.
        var override: @Sendable (inout GatewayConfig) -> Void = { _ in }
        if let listen {
            guard let (host, port) = listenAddress(listen, defaultHost: cfg.server.host) else {
                throw ValidationError("--listen expects HOST:PORT or :PORT, got \(listen)")
            }
            override = { ($0.server.host, $0.server.port) = (host, port) }
            override(&cfg)
        }
        // Before anything touches the event loop group: the configured count, else one per CPU this process may use
        // (NIO's own default counts the machine's cores even under `taskset`).
        NIOSingletons.groupLoopCountSuggestion = cfg.server.eventLoopThreads > 0 ? cfg.server.eventLoopThreads : defaultEventLoopThreads()
        let logger = makeLogger("switchboard", level: logLevel, format: cfg.logging.format)
        let demo = config == nil
        let final = cfg
        let started = StartFlag()
        let address = "\(cfg.server.host):\(cfg.server.port)"
        let app: any ApplicationProtocol
        do {
            let source = config.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? ConfigReport.demoSource
            // SIGHUP and `POST /admin/config/reload` re-read `source` (the demo reloads to itself; ConfigReload.swift).
            app = try await buildApplication(config: cfg, configSource: source, adjustReloaded: override, logger: logger) { port in
                started.set()
                let cfg = final
                let url = "\(cfg.server.tls == nil ? "http" : "https")://\(cfg.server.host.contains(":") ? "[\(cfg.server.host)]" : cfg.server.host):\(port)"
                say("Switchboard listening on \(url)  (OpenAI base URL: \(url)/v1)")
                let virtual = cfg.router.virtualModels.isEmpty ? "" : " (routed: \(cfg.router.virtualModels.joined(separator: ", ")))"
                say("models: \(cfg.models.map(\.name).joined(separator: ", "))\(virtual)   storage: \(shownStorage(cfg.storage))")
                if demo {
                    say("demo key: \(DemoConfig.clientKey)")
                    say("console: \(url)/ui  (admin key: \(DemoConfig.adminKey))")
                    say("try:")
                    say("  curl \(url)/v1/chat/completions -H 'Authorization: Bearer \(DemoConfig.clientKey)' -H 'Content-Type: application/json' \\")
                    say("    -d '{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'")
                }
            }
        } catch let error as ConfigError {
            // A configuration that only fails when used (an unreadable TLS file): every problem at its key path.
            let file = config ?? "the demo configuration"
            complain("\(file): \(error.problems.count) problem(s):\n" + error.problems.map { "  \($0)" }.joined(separator: "\n"))
            throw ExitCode(1)
        } catch {
            complain("error: Switchboard could not start: \(describeStartFailure(error)) (storage \(cfg.storage))")
            throw ExitCode(1)
        }
        var groupConfig = ServiceGroupConfiguration(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .milliseconds(Int64(cfg.server.shutdownGraceSeconds * 1000))
        let group = ServiceGroup(configuration: groupConfig)
        do {
            try await group.run()
        } catch {
            guard started.isSet else {
                // The listener never came up (the port is taken, the address is not this machine's, …).
                complain("error: Switchboard could not listen on \(address): \(describeStartFailure(error))")
                throw ExitCode(1)
            }
            logger.warning("Shutdown did not complete cleanly", metadata: ["error.type": "\(type(of: error))"])
        }
        say("Switchboard stopped.")
    }
}

/// The storage as the operator should see it: a relative SQLite path with the absolute one it resolves to here (the
/// `keys` and `teams` commands must run in the same folder as `serve` to share it).
func shownStorage(_ storage: StorageLocation) -> String {
    guard case .sqlite(let path) = storage, !path.hasPrefix("/") else { return storage.description }
    return "\(storage) (\(URL(fileURLWithPath: path).standardizedFileURL.path))"
}

/// `HOST:PORT`, or `:PORT` with `defaultHost`.
func listenAddress(_ text: String, defaultHost: String) -> (String, Int)? {
    if text.hasPrefix(":") { return parseListen(defaultHost.contains(":") ? "[\(defaultHost)]\(text)" : defaultHost + text) }
    return parseListen(text)
}

/// Why the gateway could not start, in words: the system's message for a socket error, the storage's own reason.
func describeStartFailure(_ error: any Error) -> String {
    if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
    if let e = error as? StorageError { return e.detail }
    return String(describing: error)
}

func complain(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Set once the listener is up.
final class StartFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
