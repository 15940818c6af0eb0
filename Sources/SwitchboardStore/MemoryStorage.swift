import SwitchboardCore
import Synchronization

/// Keeps everything in process memory, bounded: the request log holds the newest `capacity` entries.
public final class MemoryStorage: Storage {
    private let records: Mutex<[RequestRecord]> = Mutex([])
    public let capacity: Int

    public init(capacity: Int = 10_000) { self.capacity = capacity }

    public func migrate() async throws {}
    public func ping() async throws {}

    public func insert(_ new: [RequestRecord]) async throws {
        records.withLock { all in
            all.append(contentsOf: new)
            if all.count > capacity { all.removeFirst(all.count - capacity) }
        }
    }

    public func recentRequests(limit: Int) async throws -> [RequestRecord] {
        records.withLock { Array($0.suffix(max(limit, 0)).reversed()) }
    }

    public func close() async throws {}
}
