import SwitchboardCore
import SwitchboardStore

/// A test storage that wraps another and overrides some of its methods: everything it does not override goes to
/// `wrapped` (so a new storage method needs no change in every wrapper).
protocol WrappingStorage: Storage {
    var wrapped: any Storage { get }
}

extension WrappingStorage {
    func insertResponse(_ response: StoredResponse) async throws { try await wrapped.insertResponse(response) }
    func storedResponse(id: String) async throws -> StoredResponse? { try await wrapped.storedResponse(id: id) }
    func deleteResponse(id: String) async throws -> Bool { try await wrapped.deleteResponse(id: id) }
    func deleteResponses(beforeMs: Int64) async throws -> Int { try await wrapped.deleteResponses(beforeMs: beforeMs) }
}
