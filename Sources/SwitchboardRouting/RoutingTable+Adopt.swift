import SwitchboardCore
import Synchronization

// A configuration reload builds a new routing table. The deployments both configurations have in common keep what
// the old table knew about them: `adopt(from:previousSlot:)` copies their health, caps, latency, prices and balancer
// estimates, and the old table then hands every later event of its attempts that were counted in that copy (a
// stream still running on the old engine ends, fails, answers) on to the new one, so that in-flight counts neither
// leak nor double.

/// Where a routing table's attempts also report after a configuration reload: the table that replaced it and, per
/// slot of this table, the new table's slot for the same deployment (nil: the deployment is gone or changed).
public final class TableSuccession: Sendable {
    struct Link: Sendable {
        let next: RoutingTable
        let slotMap: [Int?]
    }

    private let handedOn = Atomic<Bool>(false)
    private let link = Mutex<Link?>(nil)

    public init() {}

    /// Whether this table has a successor (one atomic load: the lease path reads it once per attempt).
    public var isSet: Bool { handedOn.load(ordering: .acquiring) }

    func set(_ next: RoutingTable, slotMap: [Int?]) {
        link.withLock { $0 = Link(next: next, slotMap: slotMap) }
        handedOn.store(true, ordering: .releasing)
    }

    /// The successor's table, slot, and the public model's deployment index there (nil when the model no longer
    /// has this deployment), for an attempt on `slot` of `model`.
    func target(slot: Int, model: String) -> (table: RoutingTable, slot: Int, model: RoutedModel?, deployment: Int?)? {
        guard isSet, let l = link.withLock({ $0 }), slot < l.slotMap.count, let s = l.slotMap[slot] else { return nil }
        let m = l.next.models[model]
        return (l.next, s, m, m?.deployments.firstIndex { $0.slot == s })
    }
}

/// What an attempt reports, forwarded along successions.
enum LeaseEvent {
    case answered(ttftMs: Double)
    case ended(answered: Bool, latencyMs: Double?, tokens: Int?, estimate: Int, startedMs: Double, health: AttemptLease.HealthEffect)
}

extension RoutingTable {
    /// Takes over the state of `old`'s deployments that this configuration keeps (a configuration reload, before the
    /// new table serves a request). `previousSlot[i]` is `old`'s slot for this table's slot `i` — the same provider,
    /// upstream model and endpoint — or nil for a new or changed deployment, which starts fresh.
    ///
    /// Copied: circuit state and events (under this table's health policy), rpm/tpm windows and requests in flight
    /// (under this table's limits), time-to-first-token samples, prices from the pricing source, and each public
    /// model's balancer estimates (its latency average and requests outstanding, from the old model of the same
    /// name). From then on the attempts that were in flight on
    /// `old` report their ends here too, so the copied in-flight counts come down as they finish.
    public func adopt(from old: RoutingTable, previousSlot: [Int?]) {
        var slotMap = [Int?](repeating: nil, count: old.slotDeployments.count)
        for (i, j) in previousSlot.enumerated() { if let j, j < slotMap.count { slotMap[j] = i } }
        // Handed on first, copied second: an attempt that starts on `old` after this line is not forwarded, and every
        // one that is forwarded was started before it, so it is in the copy.
        old.succession.set(self, slotMap: slotMap)
        health.adopt(from: old.health, map: previousSlot)
        capacity.adopt(from: old.capacity, map: previousSlot)
        latency.adopt(from: old.latency, map: previousSlot)
        if let prices, let theirs = old.prices {
            prices.set(previousSlot.map { $0.flatMap(theirs.price) })
        }
        for (name, model) in models {
            guard let mine = model.balancer as? LoadAwareBalancer else { continue }
            // Only from the model of the same name: its attempts still in flight report their ends to this one.
            guard let source = old.models[name], let theirs = source.balancer as? LoadAwareBalancer else { continue }
            let load = theirs.load
            for (i, d) in model.deployments.enumerated() {
                guard d.slot < previousSlot.count, let oldSlot = previousSlot[d.slot],
                      let j = source.deployments.firstIndex(where: { $0.slot == oldSlot }) else { continue }
                mine.state.withLock { $0.load.adopt(i, from: load, j) }
            }
        }
    }

    /// Applies an attempt's event that began on a predecessor to this table's deployment, and hands it on further.
    func receive(_ event: LeaseEvent, slot: Int, model: RoutedModel?, deployment: Int?) {
        switch event {
        case .answered(let ttft):
            if let model, let deployment { model.balancer.answered(deployment, latencyMs: ttft) }
            health.succeeded(slot)
            latency.add(slot, ms: ttft)
        case .ended(let answered, let latencyMs, let tokens, let estimate, let startedMs, let effect):
            if let model, let deployment {
                if answered { model.balancer.finishedAfterAnswer(deployment) } else { model.balancer.finished(deployment, latencyMs: latencyMs) }
            }
            capacity.release(slot, estimate: estimate, actualTokens: tokens, startedMs: startedMs)
            switch effect {
            case .none: break
            case .succeeded: health.succeeded(slot)
            case .failed: health.failed(slot)
            case .rateLimited(let ms): health.rateLimited(slot, retryAfterMs: ms)
            case .abandoned: health.abandoned(slot)
            }
        }
        forward(event, slot: slot, model: model?.name)
    }

    /// Hands an event of an attempt on `slot` on to the successor, if this table has one that kept the deployment.
    func forward(_ event: LeaseEvent, slot: Int, model: String?) {
        guard succession.isSet, let t = succession.target(slot: slot, model: model ?? "") else { return }
        t.table.receive(event, slot: t.slot, model: t.model, deployment: t.deployment)
    }
}
