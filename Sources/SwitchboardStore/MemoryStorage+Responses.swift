import SwitchboardCore
import Synchronization

/// MemoryStorage's stored responses, at most `capacity` (the oldest go first).
final class MemoryResponseState: Sendable {
    struct State {
        var byID: [String: StoredResponse] = [:]
        var order: [String] = []
    }

    let state = Mutex(State())
    let capacity = 100_000
}

extension MemoryStorage {
    public func insertResponse(_ response: StoredResponse) async throws {
        let capacity = responseState.capacity
        responseState.state.withLock { s in
            if s.byID.updateValue(response, forKey: response.id) == nil { s.order.append(response.id) }
            while s.order.count > capacity { s.byID[s.order.removeFirst()] = nil }
        }
    }

    public func storedResponse(id: String) async throws -> StoredResponse? {
        responseState.state.withLock { $0.byID[id] }
    }

    public func deleteResponse(id: String) async throws -> Bool {
        responseState.state.withLock { s in
            guard s.byID.removeValue(forKey: id) != nil else { return false }
            s.order.removeAll { $0 == id }
            return true
        }
    }

    public func deleteResponses(beforeMs: Int64) async throws -> Int {
        responseState.state.withLock { s in
            let old = Set(s.byID.values.filter { $0.createdMs < beforeMs }.map(\.id))
            for id in old { s.byID[id] = nil }
            s.order.removeAll { old.contains($0) }
            return old.count
        }
    }
}
