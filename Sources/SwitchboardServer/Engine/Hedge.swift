import SwitchboardCore
import SwitchboardRouting

// Step 6 of the engine — hedge: for a model with `hedge:`, an attempt that has no first byte after a delay (fixed,
// or a percentile of the deployment's recent times to first byte) gets a twin on another deployment; the first to
// answer wins and the other is cancelled. The delay is on the engine's clock.

extension Gateway {
    /// Runs `lease`'s attempt; if it has no first byte after `afterMs`, starts a second one on another deployment.
    /// The first to answer wins and the other is cancelled (its lease abandoned: no verdict on its health). A
    /// failure before the hedge starts is returned at once, so the caller's retry logic takes over.
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    func hedged<API: ClientAPI>(_ call: Call<API>, _ lease: AttemptLease, plan: inout RoutePlan, afterMs: Double,
                                exchange: inout Exchange, trace: AttemptTrace) async -> (AttemptResult, AttemptLease) {
        let frozen = plan
        let clock = self.clock
        return await withTaskGroup(of: (AttemptResult, AttemptLease)?.self) { group in
            /// Ends the spans of streams that lost the race (their bodies are dropped, which cancels them).
            func drainLosers() async {
                while let outcome = await group.next() {
                    if case .streaming(_, _, _, _, let span)? = outcome?.0 {
                        span?.attributes["switchboard.attempt.cancelled"] = true
                        span?.end()
                    }
                }
            }
            group.addTask { (await self.attempt(call, lease, plan: frozen, trace: trace), lease) }
            group.addTask {
                try? await clock.sleep(ms: afterMs)
                return nil
            }
            var running: [AttemptLease] = [lease]
            var lastFailure: (AttemptResult, AttemptLease)?
            while let outcome = await group.next() {
                guard let (result, owner) = outcome else {
                    // The delay is over: hedge, unless the first attempt already ended.
                    if running.count == 1, !Task.isCancelled, let second = plan.hedge(excluding: lease) {
                        running.append(second)
                        exchange.record.hedged = true
                        exchange.record.attempts += 1
                        let now = plan
                        var hedgeTrace = trace
                        hedgeTrace.number = exchange.record.attempts + 1
                        group.addTask { (await self.attempt(call, second, plan: now, trace: hedgeTrace), second) }
                    }
                    continue
                }
                running.removeAll { $0 === owner }
                guard case .failed(_, let kind) = result else {
                    for other in running { other.abandon() }
                    group.cancelAll()
                    await drainLosers()
                    return (result, owner)
                }
                if running.isEmpty {
                    group.cancelAll()
                    await drainLosers()
                    return (result, owner)
                }
                // The other attempt may still answer; this failure is reported now — unless a client that went away
                // cut it short: no verdict on the deployment then.
                if Task.isCancelled { owner.abandon() } else { plan.failed(owner, kind) }
                lastFailure = (result, owner)
            }
            return lastFailure ?? (.failed(.internalError("no attempt finished"), .failed), lease)
        }
    }
}
