import Foundation
import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore

/// State in PostgreSQL, shared by every replica pointed at the same database: the request log, keys, teams,
/// daily spend, and the rate-limit windows and in-flight counts of `PostgresAdmission`.
public final class PostgresStorage: Storage {
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    init(client: PostgresClient, logger: Logger, started: CheckedContinuation<Void, Never>? = nil) {
        self.client = client
        self.logger = logger
        runner = Task {
            started?.resume()
            await client.run()
        }
    }

    /// Connects to `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
    public static func open(url: String, logger: Logger = Logger(label: "switchboard.postgres")) async throws -> PostgresStorage {
        guard let c = URLComponents(string: url), ["postgres", "postgresql"].contains(c.scheme ?? ""), let host = c.host, !host.isEmpty else {
            throw StorageError.corrupt("storage URL: expected postgres://USER@HOST:PORT/DATABASE")
        }
        let database = String(c.path.drop { $0 == "/" })
        let mode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS = switch mode {
        case "require", "verify-full": .require(.makeClientConfiguration())
        case "prefer": .prefer(.makeClientConfiguration())
        default: .disable
        }
        let port = c.port ?? 5432
        if mode == "disable" {
            // One plain connection first, so a server that cannot be reached (or refuses the user or database) is
            // reported at once, in words, instead of the pool retrying forever.
            try await preflight(.init(host: host, port: port, username: c.user ?? "postgres", password: c.password,
                                      database: database.isEmpty ? nil : database, tls: .disable), target: "\(host):\(port)", logger: logger)
        }
        var config = PostgresClient.Configuration(host: host, port: port, username: c.user ?? "postgres",
                                                  password: c.password, database: database.isEmpty ? nil : database, tls: tls)
        config.options.maximumConnections = 16
        config.options.minimumConnections = 2
        config.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        // The pool must be running before the first query (else postgres-nio warns and waits).
        var storage: PostgresStorage?
        await withCheckedContinuation { started in storage = PostgresStorage(client: client, logger: logger, started: started) }
        await Task.yield()
        return storage!
    }

    /// The schema, one step per version (PostgreSQL's own list: it started with everything SQLite has grown).
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE request_log (
                id TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL, key_name TEXT NOT NULL, endpoint TEXT NOT NULL,
                model TEXT NOT NULL, provider TEXT, upstream_model TEXT, stream BIGINT NOT NULL, status BIGINT NOT NULL,
                error_code TEXT, attempts BIGINT NOT NULL, latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION,
                prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL, cache_write_tokens BIGINT NOT NULL DEFAULT 0,
                reasoning_tokens BIGINT NOT NULL DEFAULT 0, key_id TEXT, team TEXT, route_reason TEXT, served_model TEXT,
                hedged BIGINT NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX request_log_started_at ON request_log (started_at)",
            GovernanceSchema.keys(real: "DOUBLE PRECISION"),
            GovernanceSchema.keyNameIndex,
            GovernanceSchema.teams(real: "DOUBLE PRECISION"),
            GovernanceSchema.spend(real: "DOUBLE PRECISION", integer: "BIGINT"),
            // Requests and tokens started per scope and whole second (PostgresAdmission).
            """
            CREATE TABLE rate_windows (scope TEXT NOT NULL, second BIGINT NOT NULL, requests BIGINT NOT NULL,
                tokens BIGINT NOT NULL, PRIMARY KEY (scope, second))
            """,
            // Requests in flight and USD reserved per scope and replica; rows of a replica that stopped sending
            // heartbeats are ignored.
            """
            CREATE TABLE inflight (scope TEXT NOT NULL, replica TEXT NOT NULL, requests BIGINT NOT NULL,
                reserved_usd DOUBLE PRECISION NOT NULL, heartbeat DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, replica))
            """,
            // Budget alerts sent, once per scope and period, whichever replica crosses the soft limit.
            "CREATE TABLE budget_alerts (scope TEXT NOT NULL, period TEXT NOT NULL, sent_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, period))",
            // Takes the advisory locks of `scopes` in a fixed order (no deadlocks) and returns the database's clock.
            """
            CREATE FUNCTION sb_lock_scopes(scopes TEXT[]) RETURNS DOUBLE PRECISION AS $$
            DECLARE s TEXT;
            BEGIN
                FOR s IN SELECT DISTINCT x FROM unnest(scopes) AS x ORDER BY x LOOP
                    PERFORM pg_advisory_xact_lock(hashtextextended(s, 0));
                END LOOP;
                RETURN extract(epoch FROM clock_timestamp());
            END $$ LANGUAGE plpgsql
            """,
        ]),
        (2, [GovernanceSchema.credentials(real: "DOUBLE PRECISION")]),
        (3, [sbAdmit]),
        (4, GovernanceSchema.logIndexes),
        (5, GovernanceSchema.bodies(real: "DOUBLE PRECISION")),
        (6, [GovernanceSchema.logIDIndex]),
        (7, ["ALTER TABLE request_log ADD COLUMN route_rule TEXT"]),
        (8, AuditSchema.table(integer: "BIGINT", collate: #" COLLATE "C""#)),
        (9, ReviewSchema.table(integer: "BIGINT", collate: #" COLLATE "C""#)),
    ] + ResponseSchema.postgresMigrations + BatchSchema.postgresMigrations + LeaseSchema.postgresMigrations

    /// One admission in one statement (see `PostgresAdmission`): locks the scopes, checks rate limits (the last 60
    /// whole seconds), concurrency (in-flight rows of live replicas) and budgets (period spend plus live
    /// reservations) in the order `AdmissionBook` does, and charges every scope when it admits. `at_s` replaces
    /// the database clock (tests).
    static let sbAdmit = #"""
CREATE FUNCTION sb_admit(scopes TEXT[], rpms BIGINT[], tpms BIGINT[], concs BIGINT[],
                         b_scopes TEXT[], b_periods TEXT[], b_limits DOUBLE PRECISION[],
                         req_tokens BIGINT, reserve DOUBLE PRECISION, replica_id TEXT, stale DOUBLE PRECISION,
                         at_s DOUBLE PRECISION)
RETURNS TABLE (admitted BOOLEAN, kind TEXT, r_scope TEXT, r_limit TEXT, r_value DOUBLE PRECISION, retry_ms DOUBLE PRECISION,
               spent DOUBLE PRECISION, now_s DOUBLE PRECISION, lim_req BIGINT, rem_req BIGINT, reset_req_ms DOUBLE PRECISION,
               lim_tok BIGINT, rem_tok BIGINT, reset_tok_ms DOUBLE PRECISION) AS $$
DECLARE
    t DOUBLE PRECISION;
    sec BIGINT;
    today BIGINT;
    i INT;
    used_req BIGINT;
    used_tok BIGINT;
    oldest BIGINT;
    flight BIGINT;
    held DOUBLE PRECISION;
    dropped_req BIGINT;
    dropped_tok BIGINT;
    reset DOUBLE PRECISION;
    w RECORD;
    p_start BIGINT;
    p_end BIGINT;
    total DOUBLE PRECISION;
BEGIN
    t := sb_lock_scopes(scopes || b_scopes);
    IF at_s IS NOT NULL THEN t := at_s; END IF;
    sec := floor(t)::BIGINT;
    today := floor(t / 86400)::BIGINT;
    now_s := t;
    admitted := true;
    -- Rate limits: the last 60 whole seconds; concurrency: in-flight rows of live replicas.
    FOR i IN 1..coalesce(array_length(scopes, 1), 0) LOOP
        SELECT coalesce(sum(x.requests), 0), coalesce(sum(x.tokens), 0), min(x.second) INTO used_req, used_tok, oldest
            FROM rate_windows x WHERE x.scope = scopes[i] AND x.second > sec - 60 AND x.second <= sec;
        reset := CASE WHEN oldest IS NULL THEN 0 ELSE greatest(0, (oldest + 60) * 1000.0 - t * 1000) END;
        IF concs[i] > 0 THEN
            SELECT coalesce(sum(f.requests), 0) INTO flight FROM inflight f WHERE f.scope = scopes[i] AND f.heartbeat > t - stale;
            IF flight >= concs[i] THEN
                admitted := false; kind := 'rate'; r_scope := scopes[i]; r_limit := 'max_concurrent'; r_value := concs[i];
                retry_ms := NULL;
            END IF;
        END IF;
        IF admitted AND ((rpms[i] > 0 AND used_req >= rpms[i]) OR (tpms[i] > 0 AND used_tok > 0 AND used_tok + req_tokens > tpms[i])) THEN
            admitted := false; kind := 'rate'; r_scope := scopes[i];
            IF rpms[i] > 0 AND used_req >= rpms[i] THEN r_limit := 'rpm'; r_value := rpms[i]; ELSE r_limit := 'tpm'; r_value := tpms[i]; END IF;
            -- Room comes back when enough of the oldest seconds have aged out.
            retry_ms := 60000; dropped_req := 0; dropped_tok := 0;
            FOR w IN SELECT x.second, x.requests, x.tokens FROM rate_windows x
                     WHERE x.scope = scopes[i] AND x.second > sec - 60 AND x.second <= sec ORDER BY x.second LOOP
                dropped_req := dropped_req + w.requests;
                dropped_tok := dropped_tok + w.tokens;
                IF (rpms[i] = 0 OR used_req - dropped_req < rpms[i])
                   AND (tpms[i] = 0 OR used_tok - dropped_tok = 0 OR used_tok - dropped_tok + req_tokens <= tpms[i]) THEN
                    retry_ms := greatest(1, (w.second + 60) * 1000.0 - t * 1000);
                    EXIT;
                END IF;
            END LOOP;
        END IF;
        IF NOT admitted THEN
            -- The refused scope's figures for the x-ratelimit-* headers.
            lim_req := NULLIF(rpms[i], 0); rem_req := CASE WHEN rpms[i] > 0 THEN greatest(0, rpms[i] - used_req) END;
            reset_req_ms := CASE WHEN rpms[i] > 0 THEN reset END;
            lim_tok := NULLIF(tpms[i], 0); rem_tok := CASE WHEN tpms[i] > 0 THEN greatest(0, tpms[i] - used_tok) END;
            reset_tok_ms := CASE WHEN tpms[i] > 0 THEN reset END;
            RETURN NEXT;
            RETURN;
        END IF;
        -- Keep the tightest limit's figures as they will be once this request is charged.
        IF rpms[i] > 0 AND (rem_req IS NULL OR rpms[i] - used_req - 1 < rem_req) THEN
            lim_req := rpms[i]; rem_req := greatest(0, rpms[i] - used_req - 1);
            reset_req_ms := CASE WHEN oldest IS NULL THEN greatest(0, (sec + 60) * 1000.0 - t * 1000) ELSE reset END;
        END IF;
        IF tpms[i] > 0 AND (rem_tok IS NULL OR tpms[i] - used_tok - req_tokens < rem_tok) THEN
            lim_tok := tpms[i]; rem_tok := greatest(0, tpms[i] - used_tok - req_tokens);
            reset_tok_ms := CASE WHEN oldest IS NULL THEN greatest(0, (sec + 60) * 1000.0 - t * 1000) ELSE reset END;
        END IF;
    END LOOP;
    -- Budgets: the period's spend plus what live replicas' requests in flight have reserved.
    FOR i IN 1..coalesce(array_length(b_scopes, 1), 0) LOOP
        p_start := CASE b_periods[i]
            WHEN 'day' THEN today
            WHEN 'week' THEN today - ((today % 7 + 7 + 3) % 7)
            WHEN 'month' THEN floor(extract(epoch FROM date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC')) / 86400)::BIGINT
            ELSE NULL END;
        -- One statement, one snapshot: a completion moves a request from reserved to spent atomically.
        SELECT (SELECT coalesce(sum(d.usd), 0) FROM spend_daily d WHERE d.scope = b_scopes[i] AND (p_start IS NULL OR d.day >= p_start)),
               (SELECT coalesce(sum(f.reserved_usd), 0) FROM inflight f WHERE f.scope = b_scopes[i] AND f.heartbeat > t - stale)
            INTO total, held;
        IF total + greatest(held, 0) >= b_limits[i] THEN
            p_end := CASE b_periods[i]
                WHEN 'day' THEN today + 1
                WHEN 'week' THEN p_start + 7
                WHEN 'month' THEN floor(extract(epoch FROM date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC') + interval '1 month') / 86400)::BIGINT
                ELSE NULL END;
            admitted := false; kind := 'budget'; r_scope := b_scopes[i]; r_limit := b_periods[i]; r_value := b_limits[i];
            retry_ms := CASE WHEN p_end IS NULL THEN NULL ELSE p_end * 86400000.0 - t * 1000 END;
            spent := total;
            RETURN NEXT;
            RETURN;
        END IF;
    END LOOP;
    -- Admitted: charge every scope.
    INSERT INTO rate_windows (scope, second, requests, tokens) SELECT DISTINCT x, sec, 1, req_tokens FROM unnest(scopes) AS x ORDER BY x
        ON CONFLICT (scope, second) DO UPDATE SET requests = rate_windows.requests + 1, tokens = rate_windows.tokens + excluded.tokens;
    INSERT INTO inflight (scope, replica, requests, reserved_usd, heartbeat)
        SELECT x, replica_id, 1, CASE WHEN x = ANY(b_scopes) THEN reserve ELSE 0 END, t
        FROM (SELECT DISTINCT unnest(scopes || b_scopes) AS x) AS u ORDER BY x
        ON CONFLICT (scope, replica) DO UPDATE SET requests = inflight.requests + 1,
            reserved_usd = inflight.reserved_usd + excluded.reserved_usd, heartbeat = excluded.heartbeat;
    RETURN NEXT;
END $$ LANGUAGE plpgsql
"""#

    public func migrate() async throws {
        try await client.withConnection { conn in
            // One replica migrates at a time; the others wait, then find nothing to do.
            try await conn.query("SELECT pg_advisory_lock(72431001)", logger: logger)
            do {
                try await conn.query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", logger: logger)
                var applied = Set<Int>()
                for try await v in try await conn.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) { applied.insert(v) }
                for migration in Self.migrations where !applied.contains(migration.version) {
                    try await conn.withTransaction(logger: logger) { tx in
                        for statement in migration.statements { try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                        try await tx.query("INSERT INTO schema_migrations (version, applied_at) VALUES (\(migration.version), \(Date().timeIntervalSince1970))", logger: logger)
                    }
                }
                try await conn.query("SELECT pg_advisory_unlock(72431001)", logger: logger)
            } catch {
                _ = try? await conn.query("SELECT pg_advisory_unlock(72431001)", logger: logger)
                throw error
            }
        }
    }

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    // MARK: Keys and teams

    /// Runs a write; a unique violation becomes `StorageError.conflict(what)`.
    func write(_ query: PostgresQuery, conflict what: String) async throws {
        do {
            try await client.query(query, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StorageError.conflict(what)
        }
    }

    public func insertKey(_ k: KeyRecord) async throws {
        try await write("""
            INSERT INTO keys (\(unescaped: GovernanceSchema.keyColumns)) VALUES (\(k.id), \(k.name), \(k.team), \(k.secretHash), \(k.salt),
                \(k.createdAt), \(k.updatedAt), \(k.expiresAt), \(k.revokedAt), \(GovernanceSpec.storedSpec(k).jsonText))
            """, conflict: "a key named \"\(k.name)\"")
    }

    public func updateKey(_ k: KeyRecord) async throws {
        try await write("""
            UPDATE keys SET name = \(k.name), team = \(k.team), secret_hash = \(k.secretHash), salt = \(k.salt), created_at = \(k.createdAt),
                updated_at = \(k.updatedAt), expires_at = \(k.expiresAt), revoked_at = \(k.revokedAt), spec = \(GovernanceSpec.storedSpec(k).jsonText)
            WHERE id = \(k.id)
            """, conflict: "a key named \"\(k.name)\"")
    }

    func keyRows(_ query: PostgresQuery) async throws -> [KeyRecord] {
        try await client.query(query, logger: logger).collect().map { row in
            let r = row.makeRandomAccess()
            return try GovernanceSchema.key(
                id: try r["id"].decode(String.self), name: try r["name"].decode(String.self), team: try r["team"].decode(String?.self),
                secretHash: try r["secret_hash"].decode(String.self), salt: try r["salt"].decode(String.self),
                createdAt: try r["created_at"].decode(Double.self), updatedAt: try r["updated_at"].decode(Double.self),
                expiresAt: try r["expires_at"].decode(Double?.self), revokedAt: try r["revoked_at"].decode(Double?.self),
                spec: try r["spec"].decode(String.self))
        }
    }

    public func key(id: String) async throws -> KeyRecord? {
        try await keyRows("SELECT \(unescaped: GovernanceSchema.keyColumns) FROM keys WHERE id = \(id)").first
    }

    public func keys() async throws -> [KeyRecord] {
        try await keyRows("SELECT \(unescaped: GovernanceSchema.keyColumns) FROM keys ORDER BY created_at DESC, id")
    }

    public func insertTeam(_ t: TeamRecord) async throws {
        try await write("INSERT INTO teams (name, created_at, updated_at, spec) VALUES (\(t.name), \(t.createdAt), \(t.updatedAt), \(GovernanceSpec.storedSpec(t).jsonText))",
                        conflict: "a team named \"\(t.name)\"")
    }

    public func updateTeam(_ t: TeamRecord) async throws {
        try await write("UPDATE teams SET updated_at = \(t.updatedAt), spec = \(GovernanceSpec.storedSpec(t).jsonText) WHERE name = \(t.name)",
                        conflict: "a team named \"\(t.name)\"")
    }

    func teamRows(_ query: PostgresQuery) async throws -> [TeamRecord] {
        try await client.query(query, logger: logger).collect().map { row in
            let r = row.makeRandomAccess()
            return try GovernanceSchema.team(name: try r["name"].decode(String.self), createdAt: try r["created_at"].decode(Double.self),
                                             updatedAt: try r["updated_at"].decode(Double.self), spec: try r["spec"].decode(String.self))
        }
    }

    public func team(name: String) async throws -> TeamRecord? {
        try await teamRows("SELECT name, created_at, updated_at, spec FROM teams WHERE name = \(name)").first
    }

    public func teams() async throws -> [TeamRecord] {
        try await teamRows("SELECT name, created_at, updated_at, spec FROM teams ORDER BY name")
    }

    public func deleteTeam(name: String) async throws -> Bool {
        try await !client.query("DELETE FROM teams WHERE name = \(name) RETURNING name", logger: logger).collect().isEmpty
    }

    public func setCredential(provider: String, sealed: String, updatedAt: Double) async throws {
        var binds = PostgresBindings()
        binds.append(provider)
        binds.append(sealed)
        binds.append(updatedAt)
        try await client.query(PostgresQuery(unsafeSQL: GovernanceSchema.credentialUpsert(placeholders: ["$1", "$2", "$3"]), binds: binds), logger: logger)
    }

    public func credentials() async throws -> [StoredCredential] {
        var out: [StoredCredential] = []
        for try await (provider, sealed, updatedAt) in try await client.query(
            "SELECT provider, sealed, updated_at FROM provider_credentials ORDER BY provider", logger: logger).decode((String, String, Double).self) {
            out.append(StoredCredential(provider: provider, sealed: sealed, updatedAt: updatedAt))
        }
        return out
    }

    public func deleteCredential(provider: String) async throws -> Bool {
        try await !client.query("DELETE FROM provider_credentials WHERE provider = \(provider) RETURNING provider", logger: logger).collect().isEmpty
    }

    public func spend(scope: String, fromDay: Int) async throws -> SpendLedger {
        var days: [Int: Double] = [:]
        var before = 0.0
        for try await (day, usd) in try await client.query("""
            SELECT day, usd FROM spend_daily WHERE scope = \(scope) AND day >= \(fromDay)
            UNION ALL SELECT -1, COALESCE(SUM(usd), 0) FROM spend_daily WHERE scope = \(scope) AND day < \(fromDay)
            """, logger: logger).decode((Int, Double).self) {
            if day == -1 { before = usd } else { days[day, default: 0] += usd }
        }
        return SpendLedger(days: days, before: before)
    }

    public func close() async throws {
        runner.cancel()
        _ = await runner.value
    }
}
