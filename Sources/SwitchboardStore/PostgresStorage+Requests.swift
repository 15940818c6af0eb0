// The request log in PostgreSQL: writing records (with their bodies and the spend they add), reading them back,
// and deleting old ones.
import Logging
import PostgresNIO
import SwitchboardCore

extension PostgresStorage {
    public func deleteRequests(before: Double) async throws -> Int {
        try await client.withTransaction(logger: logger) { tx in
            try await tx.query("DELETE FROM request_bodies WHERE started_at < \(before)", logger: logger)
            var n = 0
            for try await _ in try await tx.query("DELETE FROM request_log WHERE started_at < \(before) RETURNING 1", logger: logger).decode(Int.self) { n += 1 }
            return n
        }
    }

    static let logColumns = SQLiteStorage.columns
    static let logColumnCount = SQLiteStorage.columnCount

    public func insert(_ records: [RequestRecord]) async throws {
        guard !records.isEmpty else { return }
        try await client.withTransaction(logger: logger) { tx in
            var start = 0
            while start < records.count {
                let batch = records[start..<min(start + 500, records.count)]
                start += batch.count
                var binds = PostgresBindings(capacity: batch.count * Self.logColumnCount)
                var rows: [String] = []
                var n = 0
                for r in batch {
                    rows.append("(" + (1...Self.logColumnCount).map { "$\(n + $0)" }.joined(separator: ",") + ")")
                    n += Self.logColumnCount
                    binds.append(r.id); binds.append(r.startedAt); binds.append(r.keyName); binds.append(r.endpoint); binds.append(r.model)
                    binds.append(r.provider); binds.append(r.upstreamModel); binds.append(r.stream ? 1 : 0); binds.append(r.status)
                    binds.append(r.errorCode); binds.append(r.attempts); binds.append(r.latencyMs); binds.append(r.ttftMs)
                    binds.append(r.usage.promptTokens); binds.append(r.usage.completionTokens); binds.append(r.usage.cachedTokens)
                    binds.append(r.costUSD); binds.append(r.usage.cacheWriteTokens); binds.append(r.usage.reasoningTokens)
                    binds.append(r.keyID); binds.append(r.team); binds.append(r.routeReason); binds.append(r.servedModel); binds.append(r.hedged ? 1 : 0)
                    binds.append(r.routeRule)
                }
                try await tx.query(PostgresQuery(unsafeSQL: "INSERT INTO request_log (\(Self.logColumns)) VALUES " + rows.joined(separator: ","), binds: binds), logger: logger)
            }
            let withBodies = records.filter(\.hasBodies)
            if !withBodies.isEmpty {
                try await tx.query("""
                    INSERT INTO request_bodies (id, started_at, request, response)
                    SELECT id, at, NULLIF(req, ''), NULLIF(res, '')
                    FROM unnest(\(withBodies.map(\.id))::text[], \(withBodies.map(\.startedAt))::float8[],
                                \(withBodies.map { $0.requestBody ?? "" })::text[], \(withBodies.map { $0.responseBody ?? "" })::text[])
                         AS t(id, at, req, res)
                    """, logger: logger)
            }
            let spend = SpendRollup(records).rows
            if !spend.isEmpty {
                try await Self.addSpend(spend, tx, logger)
            }
        }
    }

    /// One upsert for many (scope, day) rows (each pair at most once), in (scope, day) order so that concurrent
    /// writers lock rows in the same order.
    static func addSpend(_ unsorted: [SpendRollup.Row], _ conn: PostgresConnection, _ logger: Logger) async throws {
        let rows = unsorted.sorted { ($0.scope, $0.day) < ($1.scope, $1.day) }
        try await conn.query("""
            INSERT INTO spend_daily (scope, day, usd, requests, tokens)
            SELECT * FROM unnest(\(rows.map(\.scope))::text[], \(rows.map(\.day))::bigint[], \(rows.map(\.usd))::float8[],
                                 \(rows.map(\.requests))::bigint[], \(rows.map(\.tokens))::bigint[])
            ON CONFLICT (scope, day) DO UPDATE SET usd = spend_daily.usd + excluded.usd,
                requests = spend_daily.requests + excluded.requests, tokens = spend_daily.tokens + excluded.tokens
            """, logger: logger)
    }

    /// A filter's values as PostgreSQL bindings.
    static func bindings(_ values: [LogBind]) -> PostgresBindings {
        var binds = PostgresBindings()
        for v in values {
            switch v {
            case .text(let t): binds.append(t)
            case .real(let d): binds.append(d)
            case .int(let i): binds.append(i)
            }
        }
        return binds
    }

    public func requests(_ query: LogQuery) async throws -> [RequestRecord] {
        let (clause, values) = logWhere(query) { "$\($0)" }
        let binds = Self.bindings(values)
        let sql = "SELECT \(Self.logColumns) FROM request_log \(clause) ORDER BY started_at DESC LIMIT \(max(query.limit, 0))"
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
        return try rows.map(Self.record)
    }

    public func request(id: String) async throws -> RequestRecord? {
        let sql = "SELECT \(Self.logColumns) FROM request_log WHERE id = $1 ORDER BY started_at DESC LIMIT 1"
        var binds = PostgresBindings()
        binds.append(id)
        guard let row = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().first else { return nil }
        var record = try Self.record(row)
        let started = record.startedAt
        for try await (request, response) in try await client.query(
            "SELECT request, response FROM request_bodies WHERE id = \(id) AND started_at = \(started) LIMIT 1", logger: logger
        ).decode((String?, String?).self) {
            record.requestBody = request
            record.responseBody = response
        }
        return record
    }

    static func record(_ row: PostgresRow) throws -> RequestRecord {
        let r = row.makeRandomAccess()
        func text(_ c: String) throws -> String? { try r[c].decode(String?.self) }
        func int(_ c: String) throws -> Int { try r[c].decode(Int?.self) ?? 0 }
        func double(_ c: String) throws -> Double? { try r[c].decode(Double?.self) }
        return RequestRecord(
            id: try text("id") ?? "", startedAt: try double("started_at") ?? 0, keyName: try text("key_name") ?? "",
            endpoint: try text("endpoint") ?? "", model: try text("model") ?? "", provider: try text("provider"),
            upstreamModel: try text("upstream_model"), stream: try int("stream") != 0, status: try int("status"),
            errorCode: try text("error_code"), attempts: try int("attempts"), latencyMs: try double("latency_ms") ?? 0,
            ttftMs: try double("ttft_ms"),
            usage: Usage(promptTokens: try int("prompt_tokens"), completionTokens: try int("completion_tokens"), cachedTokens: try int("cached_tokens"),
                         cacheWriteTokens: try int("cache_write_tokens"), reasoningTokens: try int("reasoning_tokens")),
            costUSD: try double("cost_usd") ?? 0, keyID: try text("key_id"), team: try text("team"), routeReason: try text("route_reason"),
            servedModel: try text("served_model"), hedged: try int("hedged") != 0, routeRule: try text("route_rule"))
    }
}
