import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting
import Synchronization

/// Active health checks: probes every provider that has `health_check`, on its interval, and takes its deployments
/// out of rotation (`probe_down` in `/admin/health`) after `unhealthy_threshold` failed probes in a row, back after
/// `healthy_threshold` good ones. Independent of passive health: a deployment is tried only when both allow it.
public final class HealthCheckService: Service, Sendable {
    struct Target: Sendable {
        let provider: any Provider
        let config: HealthCheckConfig
        let slots: [Int]
    }

    let targets: [Target]
    let table: RoutingTable
    let logger: Logger
    private let trackers: Mutex<[ProbeTracker]>

    init(config: GatewayConfig, gateway: Gateway, logger: Logger) {
        targets = config.providers.compactMap { p in
            guard let check = p.healthCheck, let provider = gateway.providers[p.name] else { return nil }
            return Target(provider: provider, config: check, slots: gateway.table.slots(ofProvider: p.name))
        }
        table = gateway.table
        self.logger = logger
        trackers = Mutex(targets.map { ProbeTracker(healthyThreshold: $0.config.healthyThreshold, unhealthyThreshold: $0.config.unhealthyThreshold) })
    }

    /// One probe of target `i`; applies a change of state to its deployments.
    @discardableResult
    public func probe(_ i: Int) async -> ProbeResult {
        let target = targets[i]
        let result = await target.provider.probe(path: target.config.path, timeout: .milliseconds(Int64(target.config.timeoutSeconds * 1000)))
        let change = trackers.withLock { $0[i].record(up: result.isUp) }
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
        // A service that returned would end the whole group: without targets, just wait for shutdown.
        guard !targets.isEmpty else { try? await gracefulShutdown(); return }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for i in self.targets.indices {
                    group.addTask {
                        let interval = Duration.milliseconds(Int64(self.targets[i].config.intervalSeconds * 1000))
                        while !Task.isCancelled {
                            await self.probe(i)
                            try? await Task.sleep(for: interval)
                        }
                    }
                }
            }
        }
    }
}
