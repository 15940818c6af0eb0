import SwitchboardCore

/// Where the gateway keeps its state. One protocol; SQLite (default, one process), PostgreSQL (several replicas),
/// memory (tests).
public protocol Storage: ResponseStorage, BatchStorage {
    /// Applies the migrations this version knows and the database has not seen yet.
    func migrate() async throws
    /// Succeeds when the storage answers (used by `/readyz`).
    func ping() async throws
    /// Appends finished requests to the request log and adds their cost to the daily spend of their key and team,
    /// in one transaction.
    func insert(_ records: [RequestRecord]) async throws
    /// Request-log entries that pass `query`, newest first.
    func requests(_ query: LogQuery) async throws -> [RequestRecord]
    /// The newest request-log entry with this request id, with its bodies when they were kept.
    func request(id: String) async throws -> RequestRecord?
    /// Deletes request-log entries (and their bodies) that started before `before` (seconds since 1970); how many
    /// were deleted.
    func deleteRequests(before: Double) async throws -> Int

    // MARK: Keys and teams

    /// Stores a new key; `StorageError.conflict` when its id or name is taken.
    func insertKey(_ key: KeyRecord) async throws
    /// Replaces a stored key (same id); `StorageError.conflict` when its new name is another key's.
    func updateKey(_ key: KeyRecord) async throws
    func key(id: String) async throws -> KeyRecord?
    /// Every key, revoked ones included, newest first.
    func keys() async throws -> [KeyRecord]
    /// Stores a new team; `StorageError.conflict` when the name is taken.
    func insertTeam(_ team: TeamRecord) async throws
    func updateTeam(_ team: TeamRecord) async throws
    func team(name: String) async throws -> TeamRecord?
    func teams() async throws -> [TeamRecord]
    /// Deletes a team; false when there was none.
    func deleteTeam(name: String) async throws -> Bool

    // MARK: Provider credentials (sealed: the storage never sees them in clear)

    /// Stores (or replaces) the sealed credential of a provider.
    func setCredential(provider: String, sealed: String, updatedAt: Double) async throws
    /// Every stored credential, sealed.
    func credentials() async throws -> [StoredCredential]
    /// Deletes a provider's credential; false when there was none.
    func deleteCredential(provider: String) async throws -> Bool

    // MARK: Audit log

    /// Appends audit entries.
    func insertAudit(_ entries: [AuditEntry]) async throws
    /// Audit entries that pass `query`, newest first (by time, then id).
    func audit(_ query: AuditQuery) async throws -> [AuditEntry]
    /// Deletes audit entries older than `beforeMs` (milliseconds since 1970); how many were deleted.
    func deleteAudit(beforeMs: Int64) async throws -> Int

    // MARK: Human review

    /// Stores a new ticket.
    func insertReview(_ ticket: ReviewTicket) async throws
    /// One ticket, or nil.
    func review(id: String) async throws -> ReviewTicket?
    /// Tickets with `status` (any when nil), newest first, at most `limit`.
    func reviews(status: ReviewTicket.Status?, limit: Int) async throws -> [ReviewTicket]
    /// Moves a ticket from `from` to the decision's status, atomically across replicas: false when it was not in
    /// `from` any more (someone else decided, or it expired). `edited` and `note` are kept when given.
    func decideReview(id: String, from: ReviewTicket.Status, _ decision: ReviewDecision) async throws -> Bool

    // MARK: Spend

    /// The spend of `scope` (`key:ID` or `team:NAME`) by UTC day from `fromDay` on, and the sum before it.
    func spend(scope: String, fromDay: Int) async throws -> SpendLedger

    func close() async throws
}

/// A provider's API key as stored: AES-GCM sealed (nonce, ciphertext, tag; base64), with the provider's name as
/// associated data so a sealed key cannot be moved to another provider.
public struct StoredCredential: Sendable, Equatable {
    public var provider: String
    public var sealed: String
    public var updatedAt: Double
    public init(provider: String, sealed: String, updatedAt: Double) {
        self.provider = provider
        self.sealed = sealed
        self.updatedAt = updatedAt
    }
}

public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A unique name or id is taken.
    case conflict(String)
    /// A stored row could not be read back.
    case corrupt(String)
    /// The storage cannot be reached (the reason, for the operator).
    case unreachable(String)

    public var description: String {
        switch self {
        case .conflict(let what): "already exists: \(what)"
        case .corrupt(let what): "unreadable stored data: \(what)"
        case .unreachable(let why): why
        }
    }

    /// What happened, without the kind.
    public var detail: String {
        switch self {
        case .conflict(let s), .corrupt(let s), .unreachable(let s): s
        }
    }
}

extension Storage {
    /// The newest request-log entries, newest first.
    public func recentRequests(limit: Int) async throws -> [RequestRecord] { try await requests(LogQuery(limit: limit)) }
}

/// One value bound into a request-log filter.
enum LogBind {
    case text(String)
    case real(Double)
    case int(Int)
}

/// The WHERE clause of a `LogQuery` with numbered placeholders (`placeholder(n)`), and its values.
func logWhere(_ q: LogQuery, placeholder: (Int) -> String) -> (sql: String, binds: [LogBind]) {
    var clauses: [String] = [], binds: [LogBind] = []
    func add(_ column: String, _ op: String, _ value: LogBind) {
        binds.append(value)
        clauses.append("\(column) \(op) \(placeholder(binds.count))")
    }
    if let v = q.from { add("started_at", ">=", .real(v)) }
    if let v = q.to { add("started_at", "<", .real(v)) }
    if let v = q.before { add("started_at", "<", .real(v)) }
    if let v = q.model { add("model", "=", .text(v)) }
    if let v = q.servedModel {
        // As `LogQuery.matches`: the record keeps `served_model` only when a fallback answered, and a refused one
        // (no provider tried) has no served model at all. The started_at index bounds the scan (no index of its own).
        clauses.append("provider IS NOT NULL")
        add("COALESCE(served_model, model)", "=", .text(v))
    }
    if let v = q.provider { add("provider", "=", .text(v)) }
    if let v = q.keyID { add("key_id", "=", .text(v)) }
    if let v = q.team { add("team", "=", .text(v)) }
    if let v = q.status { add("status", "=", .int(v)) }
    if let v = q.statusClass {
        add("status", ">=", .int(v * 100))
        add("status", "<", .int(v * 100 + 100))
    }
    return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), binds)
}

/// The spend scopes a record is charged to.
public func spendScopes(_ r: RequestRecord) -> [String] {
    var scopes: [String] = []
    if let id = r.keyID { scopes.append("key:" + id) } else if let scope = r.staticScope { scopes.append(scope) }
    if let team = r.team { scopes.append("team:" + team) }
    return scopes
}

/// Opens the storage a configuration names.
public func openStorage(_ location: StorageLocation) async throws -> any Storage {
    switch location {
    case .memory: MemoryStorage()
    case .sqlite(let path): try await SQLiteStorage.open(path: path)
    case .postgres(let url): try await PostgresStorage.open(url: url)
    }
}
