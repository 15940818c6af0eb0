import SwitchboardCore

/// The gateway's places for requests in flight, and the queue in front of them, by priority class (pure).
///
/// A request takes a place when one is free and nobody of its class or a higher one waits; otherwise it queues.
/// A freed place goes to the oldest waiter of the highest class (strict priority: `critical` is never starved).
/// The queue holds at most `depth` requests of all classes: when it is full, a newcomer pushes out the newest
/// waiter of the lowest class below its own (`batch` first), and is itself shed when there is none.
public struct PriorityGateState: Sendable {
    public let capacity: Int
    public let depth: Int
    public private(set) var inFlight = 0
    /// Waiting request ids per class rank, oldest first.
    private var waiting: [[UInt64]] = Array(repeating: [], count: PriorityClass.allCases.count)

    public init(capacity: Int, depth: Int) {
        self.capacity = max(1, capacity)
        self.depth = max(0, depth)
    }

    public enum Arrival: Sendable, Equatable {
        case admitted
        /// Waits; `evicted` is a lower-class waiter pushed out to make room (shed now).
        case queued(evicted: UInt64?)
        case shed
    }

    public var queued: Int { waiting.reduce(0) { $0 + $1.count } }
    public func queued(_ p: PriorityClass) -> Int { waiting[p.rank].count }

    public mutating func arrive(_ id: UInt64, _ p: PriorityClass) -> Arrival {
        let ahead = waiting[...p.rank].contains { !$0.isEmpty }
        if inFlight < capacity && !ahead {
            inFlight += 1
            return .admitted
        }
        if queued < depth {
            waiting[p.rank].append(id)
            return .queued(evicted: nil)
        }
        for rank in stride(from: waiting.count - 1, to: p.rank, by: -1) where !waiting[rank].isEmpty {
            let evicted = waiting[rank].removeLast()
            waiting[p.rank].append(id)
            return .queued(evicted: evicted)
        }
        return .shed
    }

    /// A request in flight ended; returns the waiter that takes its place, if any.
    public mutating func release() -> UInt64? {
        for rank in waiting.indices where !waiting[rank].isEmpty {
            return waiting[rank].removeFirst()
        }
        inFlight = max(0, inFlight - 1)
        return nil
    }

    /// Takes a waiter out of the queue (it gave up); false when it was not waiting.
    public mutating func remove(_ id: UInt64) -> Bool {
        for rank in waiting.indices {
            if let i = waiting[rank].firstIndex(of: id) {
                waiting[rank].remove(at: i)
                return true
            }
        }
        return false
    }
}
