import SwitchboardCore
import Synchronization

/// Keeps everything in process memory, bounded: the request log holds the newest `capacity` entries in a ring.
public final class MemoryStorage: Storage {
    private struct Ring {
        var slots: [RequestRecord] = []
        var next = 0      // where the next record goes once the ring is full
    }

    private let log = Mutex(Ring())
    public let capacity: Int

    public init(capacity: Int = 10_000) { self.capacity = max(capacity, 1) }

    public func migrate() async throws {}
    public func ping() async throws {}

    public func insert(_ new: [RequestRecord]) async throws {
        log.withLock { ring in
            for r in new {
                if ring.slots.count < capacity {
                    ring.slots.append(r)
                } else {
                    ring.slots[ring.next] = r
                    ring.next = (ring.next + 1) % capacity
                }
            }
        }
    }

    public func recentRequests(limit: Int) async throws -> [RequestRecord] {
        log.withLock { ring in
            // Oldest first is slots[next...] + slots[..<next]; newest first is its reverse.
            let ordered = ring.slots[ring.next...] + ring.slots[..<ring.next]
            return Array(ordered.suffix(max(limit, 0)).reversed())
        }
    }

    public func close() async throws {}
}
