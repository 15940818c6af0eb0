import Foundation
import SwitchboardCore

/// Table definitions and statements shared by the SQL storages (SQLite and PostgreSQL spell types differently).
enum GovernanceSchema {
    static func keys(real: String) -> String {
        """
        CREATE TABLE keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            team TEXT,
            secret_hash TEXT NOT NULL,
            salt TEXT NOT NULL,
            created_at \(real) NOT NULL,
            updated_at \(real) NOT NULL,
            expires_at \(real),
            revoked_at \(real),
            spec TEXT NOT NULL
        )
        """
    }

    /// Names are unique among keys that are not revoked.
    static let keyNameIndex = "CREATE UNIQUE INDEX keys_active_name ON keys (name) WHERE revoked_at IS NULL"

    static func teams(real: String) -> String {
        "CREATE TABLE teams (name TEXT PRIMARY KEY, created_at \(real) NOT NULL, updated_at \(real) NOT NULL, spec TEXT NOT NULL)"
    }

    static func spend(real: String, integer: String) -> String {
        """
        CREATE TABLE spend_daily (
            scope TEXT NOT NULL,
            day \(integer) NOT NULL,
            usd \(real) NOT NULL,
            requests \(integer) NOT NULL,
            tokens \(integer) NOT NULL,
            PRIMARY KEY (scope, day)
        )
        """
    }

    static func spendUpsert(placeholders p: [String]) -> String {
        """
        INSERT INTO spend_daily (scope, day, usd, requests, tokens) VALUES (\(p.joined(separator: ", ")))
        ON CONFLICT (scope, day) DO UPDATE SET usd = spend_daily.usd + excluded.usd,
            requests = spend_daily.requests + excluded.requests, tokens = spend_daily.tokens + excluded.tokens
        """
    }

    static func credentials(real: String) -> String {
        "CREATE TABLE provider_credentials (provider TEXT PRIMARY KEY, sealed TEXT NOT NULL, updated_at \(real) NOT NULL)"
    }

    static func credentialUpsert(placeholders p: [String]) -> String {
        """
        INSERT INTO provider_credentials (provider, sealed, updated_at) VALUES (\(p.joined(separator: ", ")))
        ON CONFLICT (provider) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
        """
    }

    /// For `/admin/logs` and `/admin/analytics` filters.
    static let logIndexes = [
        "CREATE INDEX request_log_key ON request_log (key_id, started_at)",
        "CREATE INDEX request_log_model ON request_log (model, started_at)",
        "CREATE INDEX request_log_team ON request_log (team, started_at)",
    ]

    /// Request and response bodies (`logging.bodies`), apart from the request log so that its scans stay small.
    static func bodies(real: String) -> [String] {
        [
            "CREATE TABLE request_bodies (id TEXT NOT NULL, started_at \(real) NOT NULL, request TEXT, response TEXT)",
            "CREATE INDEX request_bodies_id ON request_bodies (id, started_at)",
            "CREATE INDEX request_bodies_started_at ON request_bodies (started_at)",
        ]
    }

    /// For `/admin/logs/{id}`.
    static let logIDIndex = "CREATE INDEX request_log_id ON request_log (id, started_at)"

    static let keyColumns = "id, name, team, secret_hash, salt, created_at, updated_at, expires_at, revoked_at, spec"

    /// A key read back from its columns (the spec column through the same parser as the admin API).
    static func key(id: String, name: String, team: String?, secretHash: String, salt: String, createdAt: Double,
                    updatedAt: Double, expiresAt: Double?, revokedAt: Double?, spec: String) throws -> KeyRecord {
        guard let json = JSONValue.parse(Data(spec.utf8)), let parsed = try? GovernanceSpec.key(json: json, now: 0) else {
            throw StorageError.corrupt("key \(id)")
        }
        var k = KeyRecord(id: id, name: name, team: team, createdAt: createdAt, updatedAt: updatedAt, revokedAt: revokedAt,
                          secretHash: secretHash, salt: salt)
        parsed.apply(to: &k)
        k.expiresAt = expiresAt
        return k
    }

    static func team(name: String, createdAt: Double, updatedAt: Double, spec: String) throws -> TeamRecord {
        guard let json = JSONValue.parse(Data(spec.utf8)), let parsed = try? GovernanceSpec.team(json: json) else {
            throw StorageError.corrupt("team \(name)")
        }
        var t = TeamRecord(name: name, createdAt: createdAt, updatedAt: updatedAt)
        parsed.apply(to: &t)
        return t
    }
}

/// Finished requests summed per spend scope and UTC day: one upsert per (scope, day) per batch.
struct SpendRollup {
    struct Row: Equatable {
        var scope: String
        var day: Int
        var usd: Double
        var requests: Int
        var tokens: Int
    }
    private(set) var rows: [Row] = []

    private struct Key: Hashable {
        var scope: String
        var day: Int
    }

    init(_ records: [RequestRecord]) {
        var index: [Key: Int] = [:]
        for r in records {
            let day = BudgetCalendar.day(r.startedAt)
            for scope in spendScopes(r) where !r.chargedScopes.contains(scope) {
                let k = Key(scope: scope, day: day)
                if let i = index[k] {
                    rows[i].usd += r.costUSD
                    rows[i].requests += 1
                    rows[i].tokens += r.usage.totalTokens
                } else {
                    index[k] = rows.count
                    rows.append(Row(scope: scope, day: day, usd: r.costUSD, requests: 1, tokens: r.usage.totalTokens))
                }
            }
        }
    }
}

/// An async mutex: one write section at a time, in arrival order, without blocking a thread.
actor WriteGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
