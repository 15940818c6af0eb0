import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting
import Synchronization

/// Active health checks: probes every provider that has `health_check`, on its interval, and takes its deployments
/// out of rotation (`probe_down` in `/admin/health`) after `unhealthy_threshold` failed probes in a row, back after
/// `healthy_threshold` good ones. Independent of passive health: a deployment is tried only when both allow it.
/// After a configuration reload (`follow(_:)`) it probes the new engine's providers; a provider whose health check
/// and endpoint did not change keeps its streak.
public final class HealthCheckService: Service, Sendable {
    struct Target: Sendable {
        let provider: any Provider
        let config: HealthCheckConfig
        let slots: [Int]
        /// What must stay the same for the streak to carry over a reload.
        let identity: String
    }

    /// The providers probed now, the table their verdicts go to, and each one's streak.
    struct Probes: Sendable {
        var targets: [Target]
        var table: RoutingTable
        var trackers: [ProbeTracker]
        var generation = 0
    }

    let logger: Logger
    private let probes: Mutex<Probes>
    /// Wakes `run()` when a reload changed the targets.
    private let changes: AsyncStream<Void>
    private let changed: AsyncStream<Void>.Continuation

    var targets: [Target] { probes.withLock { $0.targets } }
    var table: RoutingTable { probes.withLock { $0.table } }

    init(gateway: Gateway, logger: Logger) {
        let targets = Self.targets(gateway)
        probes = Mutex(Probes(targets: targets, table: gateway.table, trackers: targets.map(Self.tracker)))
        self.logger = logger
        (changes, changed) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    static func targets(_ gateway: Gateway) -> [Target] {
        gateway.config.providers.compactMap { p in
            guard let check = p.healthCheck, let provider = gateway.providers[p.name] else { return nil }
            return Target(provider: provider, config: check, slots: gateway.table.slots(ofProvider: p.name),
                          identity: "\(p.name)\u{0}\(ConfigDiff.endpoint(p))\u{0}\(check)")
        }
    }

    static func tracker(_ t: Target) -> ProbeTracker {
        ProbeTracker(healthyThreshold: t.config.healthyThreshold, unhealthyThreshold: t.config.unhealthyThreshold)
    }

    /// Probes the providers of a reloaded engine from now on (their deployments' verdicts were copied with the rest
    /// of the routing table's state).
    func follow(_ gateway: Gateway) {
        let targets = Self.targets(gateway)
        probes.withLock { p in
            var kept: [String: ProbeTracker] = [:]
            for (t, tracker) in zip(p.targets, p.trackers) { kept[t.identity] = tracker }
            p.trackers = targets.map { kept[$0.identity] ?? Self.tracker($0) }
            p.targets = targets
            p.table = gateway.table
            p.generation += 1
        }
        changed.yield()
    }

    /// One probe of target `i`; applies a change of state to its deployments.
    @discardableResult
    public func probe(_ i: Int) async -> ProbeResult {
        guard let (target, generation) = probes.withLock({ p in i < p.targets.count ? (p.targets[i], p.generation) : nil }) else {
            return .up(status: 0)
        }
        let result = await target.provider.probe(path: target.config.path, timeout: .milliseconds(Int64(target.config.timeoutSeconds * 1000)))
        // A reload while the probe ran: its verdict is about the old set of targets.
        guard let (change, table) = probes.withLock({ p -> (Bool?, RoutingTable)? in
            guard p.generation == generation else { return nil }
            return (p.trackers[i].record(up: result.isUp), p.table)
        }) else { return result }
        if let down = change {
            var reason = "unknown"
            if case .down(let r) = result { reason = String(r.map { $0 == "_" ? " " : $0 }) }
            let streak = down ? target.config.unhealthyThreshold : target.config.healthyThreshold
            let why = (down ? "probe failed: \(reason)" : "probe succeeded") + (streak > 1 ? " (\(streak) in a row)" : "")
            for slot in target.slots { table.health.setActivelyDown(slot, down, reason: why) }
            if down {
                logger.warning("Provider failed its health checks", metadata: ["provider": "\(target.provider.name)", "reason": "\(reason)"])
            } else {
                logger.notice("Provider passed its health checks again", metadata: ["provider": "\(target.provider.name)"])
            }
        }
        return result
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var changes = self.changes.makeAsyncIterator()
            while !Task.isCancelled {
                let intervals = self.targets.map { Duration.milliseconds(Int64($0.config.intervalSeconds * 1000)) }
                // Probe the current targets until a reload changes them (or shutdown); then start over with the new ones.
                await withDiscardingTaskGroup { group in
                    for (i, interval) in intervals.enumerated() {
                        group.addTask {
                            while !Task.isCancelled {
                                await self.probe(i)
                                try? await Task.sleep(for: interval)
                            }
                        }
                    }
                    _ = await changes.next()
                    group.cancelAll()
                }
            }
        }
    }
}
