import SwitchboardCore
import Synchronization

/// Keeps everything in process memory, bounded: the request log holds the newest `capacity` entries in a ring.
/// Keys, teams and daily spend are kept whole (they are few).
public final class MemoryStorage: Storage {
    private struct State {
        var slots: [RequestRecord] = []
        var next = 0      // where the next record goes once the ring is full
        var keys: [String: KeyRecord] = [:]
        var teams: [String: TeamRecord] = [:]
        var spend: [String: [Int: Double]] = [:]
        var credentials: [String: StoredCredential] = [:]
        /// The audit log, oldest first, at most `auditCapacity` entries.
        var audit: [AuditEntry] = []
        var reviews: [String: ReviewTicket] = [:]
        /// Bodies by request id, oldest first, at most `maxBodyBytes` in all.
        var bodies: [String: (request: String?, response: String?)] = [:]
        var bodyOrder: [String] = []
        var bodyBytes = 0
    }

    private let state = Mutex(State())
    /// Stored Responses API responses (MemoryStorage+Responses.swift).
    let responseState = MemoryResponseState()
    /// Files and batches (MemoryStorage+Batches.swift).
    let batchState = MemoryBatchState()
    public let capacity: Int

    /// Bodies kept in all (`logging.bodies`); the oldest go first.
    public let maxBodyBytes: Int

    /// Audit entries kept; the oldest go first.
    public let auditCapacity: Int

    public init(capacity: Int = 10_000, maxBodyBytes: Int = 16 << 20, auditCapacity: Int = 100_000) {
        self.capacity = max(capacity, 1)
        self.maxBodyBytes = maxBodyBytes
        self.auditCapacity = max(auditCapacity, 1)
    }

    public func migrate() async throws {}
    public func ping() async throws {}

    public func insert(_ new: [RequestRecord]) async throws {
        state.withLock { s in
            for var r in new {
                if r.hasBodies {
                    let bytes = r.bodyBytes
                    if bytes <= maxBodyBytes {
                        if let old = s.bodies.updateValue((r.requestBody, r.responseBody), forKey: r.id) {
                            s.bodyBytes -= RequestRecord.bytes(old.request, old.response)
                        } else {
                            s.bodyOrder.append(r.id)
                        }
                        s.bodyBytes += bytes
                        while s.bodyBytes > maxBodyBytes, !s.bodyOrder.isEmpty {
                            if let gone = s.bodies.removeValue(forKey: s.bodyOrder.removeFirst()) {
                                s.bodyBytes -= RequestRecord.bytes(gone.request, gone.response)
                            }
                        }
                    }
                    r.dropBodies()
                }
                if s.slots.count < capacity {
                    s.slots.append(r)
                } else {
                    if s.slots[s.next].id != r.id { Self.dropBodies(&s, s.slots[s.next].id) }
                    s.slots[s.next] = r
                    s.next = (s.next + 1) % capacity
                }
            }
            for row in SpendRollup(new).rows { s.spend[row.scope, default: [:]][row.day, default: 0] += row.usd }
        }
    }

    public func requests(_ query: LogQuery) async throws -> [RequestRecord] {
        state.withLock { s in
            // Oldest first is slots[next...] + slots[..<next]; newest first is its reverse.
            let ordered = s.slots[s.next...] + s.slots[..<s.next]
            return Array(ordered.reversed().lazy.filter(query.matches).prefix(max(query.limit, 0)))
        }
    }

    public func request(id: String) async throws -> RequestRecord? {
        state.withLock { s in
            guard var r = (s.slots[s.next...] + s.slots[..<s.next]).last(where: { $0.id == id }) else { return nil }
            if let b = s.bodies[id] {
                r.requestBody = b.request
                r.responseBody = b.response
            }
            return r
        }
    }

    public func deleteRequests(before: Double) async throws -> Int {
        state.withLock { s in
            let ordered = Array(s.slots[s.next...] + s.slots[..<s.next])
            let kept = ordered.filter { $0.startedAt >= before }
            for r in ordered where r.startedAt < before { Self.dropBodies(&s, r.id) }
            s.slots = kept
            s.next = 0
            return ordered.count - kept.count
        }
    }

    private static func dropBodies(_ s: inout State, _ id: String) {
        guard let gone = s.bodies.removeValue(forKey: id) else { return }
        s.bodyBytes -= RequestRecord.bytes(gone.request, gone.response)
        // Ids whose bodies are gone stay in `bodyOrder` (skipped when reached) until it is compacted.
        if s.bodyOrder.count > 2 * s.bodies.count + 1024 {
            let live = s.bodies
            s.bodyOrder.removeAll { live[$0] == nil }
        }
    }

    private static func nameTaken(_ s: State, by key: KeyRecord) -> Bool {
        key.revokedAt == nil && s.keys.values.contains { $0.id != key.id && $0.name == key.name && $0.revokedAt == nil }
    }

    public func insertKey(_ key: KeyRecord) async throws {
        try state.withLock { s in
            guard s.keys[key.id] == nil, !Self.nameTaken(s, by: key) else { throw StorageError.conflict("a key named \"\(key.name)\"") }
            s.keys[key.id] = key
        }
    }

    public func updateKey(_ key: KeyRecord) async throws {
        try state.withLock { s in
            guard !Self.nameTaken(s, by: key) else { throw StorageError.conflict("a key named \"\(key.name)\"") }
            if s.keys[key.id] != nil { s.keys[key.id] = key }
        }
    }

    public func key(id: String) async throws -> KeyRecord? { state.withLock { $0.keys[id] } }

    public func keys() async throws -> [KeyRecord] {
        state.withLock { s in s.keys.values.sorted { ($0.createdAt, $1.id) > ($1.createdAt, $0.id) } }
    }

    public func insertTeam(_ team: TeamRecord) async throws {
        try state.withLock { s in
            guard s.teams[team.name] == nil else { throw StorageError.conflict("a team named \"\(team.name)\"") }
            s.teams[team.name] = team
        }
    }

    public func updateTeam(_ team: TeamRecord) async throws {
        state.withLock { s in if s.teams[team.name] != nil { s.teams[team.name] = team } }
    }

    public func team(name: String) async throws -> TeamRecord? { state.withLock { $0.teams[name] } }
    public func teams() async throws -> [TeamRecord] { state.withLock { $0.teams.values.sorted { $0.name < $1.name } } }
    public func deleteTeam(name: String) async throws -> Bool { state.withLock { $0.teams.removeValue(forKey: name) != nil } }

    public func setCredential(provider: String, sealed: String, updatedAt: Double) async throws {
        state.withLock { $0.credentials[provider] = StoredCredential(provider: provider, sealed: sealed, updatedAt: updatedAt) }
    }

    public func credentials() async throws -> [StoredCredential] {
        state.withLock { $0.credentials.values.sorted { $0.provider < $1.provider } }
    }

    public func deleteCredential(provider: String) async throws -> Bool {
        state.withLock { $0.credentials.removeValue(forKey: provider) != nil }
    }

    public func insertAudit(_ entries: [AuditEntry]) async throws {
        state.withLock { s in
            s.audit.append(contentsOf: entries)
            // Kept in order; entries usually arrive in order, so this is a short insertion at the end.
            s.audit.sort { AuditEntry.newerFirst($1, $0) }
            if s.audit.count > auditCapacity { s.audit.removeFirst(s.audit.count - auditCapacity) }
        }
    }

    public func audit(_ query: AuditQuery) async throws -> [AuditEntry] {
        state.withLock { s in Array(s.audit.reversed().lazy.filter(query.matches).prefix(max(query.limit, 0))) }
    }

    public func deleteAudit(beforeMs: Int64) async throws -> Int {
        state.withLock { s in
            let before = s.audit.count
            s.audit.removeAll { $0.atMs < beforeMs }
            return before - s.audit.count
        }
    }

    public func insertReview(_ ticket: ReviewTicket) async throws {
        try state.withLock { s in
            guard s.reviews[ticket.id] == nil else { throw StorageError.conflict("review \(ticket.id)") }
            s.reviews[ticket.id] = ticket
        }
    }

    public func review(id: String) async throws -> ReviewTicket? {
        state.withLock { $0.reviews[id] }
    }

    public func reviews(status: ReviewTicket.Status?, limit: Int) async throws -> [ReviewTicket] {
        state.withLock { s in
            Array(s.reviews.values.filter { status == nil || $0.status == status }
                .sorted { ($0.createdMs, $0.id) > ($1.createdMs, $1.id) }.prefix(max(limit, 0)))
        }
    }

    public func decideReview(id: String, from: ReviewTicket.Status, _ decision: ReviewDecision) async throws -> Bool {
        state.withLock { s in
            guard var ticket = s.reviews[id], ticket.status == from else { return false }
            ticket.status = decision.status
            ticket.decidedBy = decision.by
            ticket.decidedMs = decision.atMs
            if let note = decision.note { ticket.note = note }
            if let edited = decision.edited { ticket.edited = edited }
            s.reviews[id] = ticket
            return true
        }
    }

    public func spend(scope: String, fromDay: Int) async throws -> SpendLedger {
        state.withLock { s in
            let days = s.spend[scope] ?? [:]
            return SpendLedger(days: days.filter { $0.key >= fromDay }, before: days.reduce(0) { $1.key < fromDay ? $0 + $1.value : $0 })
        }
    }

    public func close() async throws {}
}
