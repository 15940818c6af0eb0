import CoreMetrics
import Crypto
import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOSSL
import ServiceLifecycle
import SwitchboardCore
import SwitchboardRouting
import Synchronization

/// Live configuration reload: `SIGHUP` and `POST /admin/config/reload` re-read the file the gateway started with.
///
/// A valid file becomes a new engine (`Gateway`) that serves every request starting after the swap; requests and
/// streams already running finish on the engine they started on, and the new routing table adopts the state of the
/// deployments both configurations share (RoutingTable+Adopt.swift). Shared services — storage, request log,
/// metrics registry, admission, review desk, tracer, provider credentials, the upstream clients — stay as they are.
/// Settings only a restart can change keep their running values and are listed as `needs_restart`
/// (`ConfigDiff.applicable`). An invalid file changes nothing and is answered with `switchboard check`'s problems.
/// Reloads run one at a time; nothing here awaits while holding a lock.
public final class ConfigReloader: Sendable {
    /// The configuration in force and what describes it.
    struct InForce: Sendable {
        var config: GatewayConfig
        var source: String
        var hash: String
        var version = 1
        var loadedAt: Double
        var needsRestart: [String] = []
        /// `GET /admin/config`'s body.
        var report = ""
    }

    private let inForce: Mutex<InForce>
    /// Held for a whole reload (a signal and a request at once run one after the other).
    private let serial = Mutex(())
    /// Applied to every configuration read (`serve --listen` overrides the file's `server.listen`).
    private let adjust = Mutex<@Sendable (inout GatewayConfig) -> Void>({ _ in })
    let live: LiveGateway
    /// Builds an engine for a configuration around the shared services; the second argument is the engine it
    /// replaces (its unchanged priority queues are kept).
    let make: @Sendable (GatewayConfig, Gateway?) -> Gateway
    let keys: KeyDirectory
    let metrics: GatewayMetrics
    let healthChecks: HealthCheckService
    let pricing: PricingService?
    let scrubber: SecretScrubber
    let wallClock: @Sendable () -> Double
    private let results: (ok: CoreMetrics.Counter, rejected: CoreMetrics.Counter)
    private let gauges: (successful: Gauge, timestamp: Gauge, version: Gauge)
    /// `switchboard_config_info` of the configuration in force, and its hash label.
    private let info: Mutex<(hash: String, gauge: Gauge)>

    init(config: GatewayConfig, live: LiveGateway, make: @escaping @Sendable (GatewayConfig, Gateway?) -> Gateway, keys: KeyDirectory,
         metrics: GatewayMetrics, healthChecks: HealthCheckService, pricing: PricingService?, scrubber: SecretScrubber,
         wallClock: @escaping @Sendable () -> Double) {
        (self.live, self.make, self.keys, self.metrics) = (live, make, keys, metrics)
        (self.healthChecks, self.pricing, self.scrubber, self.wallClock) = (healthChecks, pricing, scrubber, wallClock)
        let f = metrics.factory
        results = (CoreMetrics.Counter(label: "switchboard_config_reloads_total", dimensions: [("result", "ok")], factory: f),
                   CoreMetrics.Counter(label: "switchboard_config_reloads_total", dimensions: [("result", "rejected")], factory: f))
        gauges = (Gauge(label: "switchboard_config_last_reload_successful", factory: f),
                  Gauge(label: "switchboard_config_last_reload_success_timestamp_seconds", factory: f),
                  Gauge(label: "switchboard_config_version", factory: f))
        var first = InForce(config: config, source: ConfigReport.inCodeSource, hash: "", loadedAt: wallClock())
        first.report = Self.report(first)
        inForce = Mutex(first)
        info = Mutex(("", Gauge(label: "switchboard_config_info", dimensions: [("hash", "")], factory: f)))
        publish(first)
        gauges.successful.record(1)
    }

    /// Where the configuration is read from: a file's absolute path, `ConfigReport.demoSource` (the embedded demo,
    /// which reloads to itself) or `ConfigReport.inCodeSource` (nothing to re-read: a reload is refused).
    var source: String { inForce.withLock { $0.source } }

    func setSource(_ source: String) {
        let text = try? Self.text(of: source)
        let current = inForce.withLock { s in
            s.source = source
            s.hash = text.map(Self.sha256) ?? ""
            s.report = Self.report(s)
            return s
        }
        publish(current)
    }

    /// Applies `change` to every configuration a reload reads, before it is compared with the running one.
    public func adjustEachLoad(_ change: @escaping @Sendable (inout GatewayConfig) -> Void) { adjust.withLock { $0 = change } }

    /// The configuration in force (as it runs: restart-only settings as they were at start).
    var config: GatewayConfig { inForce.withLock { $0.config } }
    var version: Int { inForce.withLock { $0.version } }
    var hash: String { inForce.withLock { $0.hash } }
    /// `GET /admin/config`'s body.
    var report: String { inForce.withLock { $0.report } }

    /// Re-reads the configuration and, when it is valid, puts it in force for new requests.
    public func reload(logger: Logger) -> ReloadResult {
        serial.withLock { _ in
            let current = inForce.withLock { $0 }
            let result: ReloadResult
            switch read(current.source) {
            case .failure(let error):
                result = ReloadResult(status: .rejected, source: current.source, version: current.version, hash: current.hash,
                                      problems: error.problems)
            case .success(let (text, config)):
                result = apply(config, hash: Self.sha256(text), over: current)
            }
            record(result, logger: logger)
            return result
        }
    }

    /// The text and configuration at `source`, or every problem with it.
    private func read(_ source: String) -> Result<(String, GatewayConfig), ConfigError> {
        do {
            let text = try Self.text(of: source)
            var config = try ConfigLoader.load(yaml: text, environment: ProcessInfo.processInfo.environment)
            adjust.withLock { $0 }(&config)
            try Self.checkRuntime(config)
            return .success((text, config))
        } catch let error as ConfigError {
            return .failure(error)
        } catch {
            return .failure(ConfigError(problems: [ConfigProblem(path: "", message: "\(error)")]))
        }
    }

    /// Builds the engine of `next`, hands it the state of the deployments it shares with the serving one, and swaps.
    private func apply(_ next: GatewayConfig, hash: String, over current: InForce) -> ReloadResult {
        let (config, needsRestart) = ConfigDiff.applicable(next, running: current.config)
        let changed = ConfigDiff.changes(from: current.config, to: config)
        scrubber.add(config.providers.flatMap(\.kind.secrets))
        let old = live.gateway
        let gateway = make(config, old)
        gateway.table.adopt(from: old.table, previousSlot: ConfigDiff.previousSlots(gateway.table, config, old: old.table, old.config))
        keys.replaceStaticKeys(config.auth)
        metrics.reconfigure(config, gone: ConfigDiff.gone(from: current.config, to: config))
        live.replace(with: gateway)
        healthChecks.follow(gateway)
        pricing?.follow(gateway.table)
        var now = current
        (now.config, now.hash, now.version, now.loadedAt, now.needsRestart) = (config, hash, current.version + 1, wallClock(), needsRestart)
        now.report = Self.report(now)
        inForce.withLock { $0 = now }
        publish(now)
        return ReloadResult(status: .reloaded, source: now.source, version: now.version, hash: hash, changed: changed, needsRestart: needsRestart)
    }

    private func publish(_ s: InForce) {
        let gauge = Gauge(label: "switchboard_config_info", dimensions: [("hash", s.hash)], factory: metrics.factory)
        let previous = info.withLock { i in
            defer { i = (s.hash, gauge) }
            return i
        }
        gauge.record(1)
        if previous.hash != s.hash { previous.gauge.destroy() }
        gauges.version.record(s.version)
        gauges.timestamp.record(s.loadedAt)
    }

    private func record(_ r: ReloadResult, logger: Logger) {
        switch r.status {
        case .reloaded:
            results.ok.increment()
            gauges.successful.record(1)
            var metadata: Logger.Metadata = ["config.source": "\(r.source)", "config.version": "\(r.version)", "config.hash": "\(r.hash)",
                                             "config.changed": "\(r.changed.jsonText)"]
            if !r.needsRestart.isEmpty { metadata["config.needs_restart"] = "\(r.needsRestart.joined(separator: ", "))" }
            logger.notice("Configuration reloaded", metadata: metadata)
        case .rejected:
            results.rejected.increment()
            gauges.successful.record(0)
            // As `switchboard check` prints them, less anything credential-shaped a quoted line of the file may hold.
            let problems = scrubber.scrub(r.problems.map(\.description).joined(separator: "\n"))
            logger.error("Configuration reload rejected; the configuration in force stays",
                         metadata: ["config.source": "\(r.source)", "config.version": "\(r.version)", "config.problems": "\(problems)"])
        }
    }

    static func text(of source: String) throws -> String {
        switch source {
        case ConfigReport.demoSource: return DemoConfig.yaml
        case ConfigReport.inCodeSource:
            throw ConfigError(problems: [ConfigProblem(path: "", message: "the configuration was given in code: there is no file to re-read")])
        default:
            do { return try ConfigLoader.readFile(source) } catch { throw ConfigError(problems: [ConfigProblem(path: "", message: "\(error)")]) }
        }
    }

    /// What only shows when the configuration is used: a GeoIP database that cannot be opened, a provider's CA bundle
    /// that does not parse, a difficulty model that cannot be loaded (checked at start too).
    static func checkRuntime(_ config: GatewayConfig) throws(ConfigError) {
        if let geoip = config.router.geoip {
            do { _ = try MaxMindDB(path: geoip.database) } catch {
                throw ConfigError(problems: [ConfigProblem(path: "router.geoip.database", message: "cannot open \(geoip.database): \(error)")])
            }
        }
        for (i, p) in config.providers.enumerated() {
            guard let caFile = p.caFile else { continue }
            do { _ = try NIOSSLCertificate.fromPEMFile(caFile) } catch {
                throw ConfigError(problems: [ConfigProblem(path: "providers[\(i)].ca_file", message: "not a PEM certificate bundle: \(error)")])
            }
        }
        if config.router.classifierFile != nil {
            do { _ = try RouterStage.classifier(config.router) } catch {
                throw ConfigError(problems: [ConfigProblem(path: "router.classifier", message: "cannot load the difficulty model: \(error)")])
            }
        }
    }

    static func sha256(_ text: String) -> String {
        KeyHash.hex(SHA256.hash(data: Data(text.utf8)))
    }

    static func report(_ s: InForce) -> String {
        guard case .object(var o) = ConfigReport.json(s.config, source: s.source) else { return "{}" }
        o["version"] = .int(s.version)
        o["hash"] = .string(s.hash)
        o["loaded_at"] = .string(GovernanceSpec.iso(s.loadedAt))
        o["needs_restart"] = .array(s.needsRestart.map(JSONValue.string))
        return JSONValue.object(o).jsonText
    }
}

/// What a reload did: `reloaded` with the new version, hash and changes, or `rejected` with every problem (the
/// configuration in force, its version and hash unchanged).
public struct ReloadResult: Sendable {
    public enum Status: String, Sendable { case reloaded, rejected }
    public var status: Status
    public var source: String
    public var version: Int
    public var hash: String
    public var problems: [ConfigProblem] = []
    public var changed: JSONValue = .object([:])
    public var needsRestart: [String] = []

    /// The answer of `POST /admin/config/reload`: 200 when reloaded, 400 with the problems when rejected.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["status": .string(status.rawValue), "source": .string(source), "version": .int(version), "hash": .string(hash)]
        switch status {
        case .reloaded:
            o["changed"] = changed
            o["needs_restart"] = .array(needsRestart.map(JSONValue.string))
            if source == ConfigReport.demoSource { o["note"] = "the demo configuration is built into the binary: it reloads to itself" }
        case .rejected:
            o["problems"] = .array(problems.map { .object(["path": .string($0.path), "message": .string($0.message)]) })
            let summary = "\(problems.count) problem(s) in the configuration; the configuration in force stays: "
                + problems.map(\.description).joined(separator: "; ")
            o["error"] = .object(["message": .string(summary), "type": "invalid_request_error", "param": .null, "code": "invalid_config"])
        }
        return .object(o)
    }

    func response() -> Response { jsonResponse(json.jsonText, status: status == .reloaded ? .ok : .badRequest) }
}

/// Reloads the configuration on `SIGHUP`, for as long as the gateway runs.
struct ConfigReloadSignalService: Service {
    let reloader: ConfigReloader
    let logger: Logger

    func run() async throws {
        let (signals, received) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { received.yield() }
        source.resume()
        defer { source.cancel() }
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                self.logger.info("SIGHUP: reloading the configuration")
                _ = self.reloader.reload(logger: self.logger)
            }
        }
    }
}
