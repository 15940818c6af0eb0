import Synchronization
import SwitchboardCore
import SwitchboardRouting

/// `server.max_in_flight` with a priority queue in front (`PriorityGateState`), for async callers. A place is held
/// by a `GatePermit` until the request's record is emitted (its stream has ended).
final class PriorityGate: Sendable {
    enum Outcome: Sendable {
        case entered(GatePermit)
        /// Turned away: `full` (the queue was full, or a higher class pushed this request out) or `timedOut` (no
        /// place within the queue timeout, or the client left).
        case shed(Shed)
    }

    enum Shed: Sendable { case full, timedOut }

    /// How a waiter's wait ended.
    private enum Wake: Sendable { case admitted, pushedOut, gaveUp }

    private struct State {
        var gate: PriorityGateState
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Wake, Never>] = [:]
        /// Decisions that arrived before their waiter parked.
        var early: [UInt64: Wake] = [:]
    }

    private let state: Mutex<State>
    let timeoutSeconds: Double
    /// What a queued request's wait is timed on (the engine's clock).
    let clock: any EngineClock

    init(capacity: Int, depth: Int, timeoutSeconds: Double, clock: any EngineClock = SystemEngineClock()) {
        state = Mutex(State(gate: PriorityGateState(capacity: capacity, depth: depth)))
        self.timeoutSeconds = timeoutSeconds
        self.clock = clock
    }

    var snapshot: (inFlight: Int, queued: Int) { state.withLock { ($0.gate.inFlight, $0.gate.queued) } }

    func enter(_ priority: PriorityClass) async -> Outcome {
        let (id, arrival) = state.withLock { s in
            s.nextID += 1
            return (s.nextID, s.gate.arrive(s.nextID, priority))
        }
        switch arrival {
        case .admitted: return .entered(GatePermit(self))
        case .shed: return .shed(.full)
        case .queued(let evicted):
            if let evicted { resolve(evicted, .pushedOut) }
        }
        let timer = Task { [clock, timeoutSeconds] in
            try await clock.sleep(ms: timeoutSeconds * 1000)
            self.giveUp(id)
        }
        let wake = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Wake, Never>) in
                let early = state.withLock { s -> Wake? in
                    if let r = s.early.removeValue(forKey: id) { return r }
                    s.waiters[id] = c
                    return nil
                }
                if let early { c.resume(returning: early) }
            }
        } onCancel: {
            self.giveUp(id)
        }
        timer.cancel()
        switch wake {
        case .admitted: return .entered(GatePermit(self))
        case .pushedOut: return .shed(.full)
        case .gaveUp: return .shed(.timedOut)
        }
    }

    /// The waiter gives up (timeout, client gone) if it still waits.
    private func giveUp(_ id: UInt64) {
        let removed = state.withLock { $0.gate.remove(id) }
        if removed { resolve(id, .gaveUp) }
    }

    private func resolve(_ id: UInt64, _ wake: Wake) {
        let c = state.withLock { s -> CheckedContinuation<Wake, Never>? in
            if let c = s.waiters.removeValue(forKey: id) { return c }
            s.early[id] = wake
            return nil
        }
        c?.resume(returning: wake)
    }

    fileprivate func release() {
        if let next = state.withLock({ $0.gate.release() }) { resolve(next, .admitted) }
    }
}

/// A place in the gate, given back exactly once (when the request ends, or on deinit).
final class GatePermit: Sendable {
    private let gate: PriorityGate
    private let done = Atomic<Bool>(false)
    init(_ gate: PriorityGate) { self.gate = gate }
    func release() { if !done.exchange(true, ordering: .acquiringAndReleasing) { gate.release() } }
    deinit { release() }
}
