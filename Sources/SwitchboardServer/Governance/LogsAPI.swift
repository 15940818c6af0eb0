import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardStore

/// `/admin/logs` (the request log, filtered and paged) and `/admin/analytics` (its aggregates). Admin role.
enum LogsAPI {
    static let maxAnalyticsRecords = 200_000

    static func bad(_ param: String, _ message: String) -> GatewayError { .invalidParameter(param, "\(param): \(message)") }

    /// A time as ISO 8601 or seconds since 1970.
    static func time(_ request: Request, _ name: String) throws(GatewayError) -> Double? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        if let t = Double(text), t.isFinite { return t }
        if let t = GovernanceSpec.parseISO(text) { return t }
        throw bad(name, "expected an ISO 8601 time (2026-11-30T12:00:00Z) or seconds since 1970, found \"\(text)\"")
    }

    /// The filter shared by both endpoints: from, to, model (asked for), served_model (served, after fallbacks), provider,
    /// key_id, team, status (`429` or `4xx`).
    static func query(_ request: Request, limit: Int) throws(GatewayError) -> LogQuery {
        let p = request.uri.queryParameters
        var q = LogQuery(from: try time(request, "from"), to: try time(request, "to"), model: p.get("model"), provider: p.get("provider"),
                         keyID: p.get("key_id"), team: p.get("team"), before: try time(request, "before"), limit: limit)
        if let served = p.get("served_model") {
            guard !served.isEmpty else { throw bad("served_model", "expected a public model name, found an empty value") }
            q.servedModel = served
        }
        if let status = p.get("status") {
            if status.count == 3, status.hasSuffix("xx"), let c = Int(status.prefix(1)), (1...5).contains(c) { q.statusClass = c } else if let s = Int(status), (100...599).contains(s) { q.status = s } else {
                throw bad("status", "expected a status such as 429 or a class such as 5xx, found \"\(status)\"")
            }
        }
        return q
    }

    static func json(_ r: RequestRecord) -> JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(r.id), "started_at": .string(GovernanceSpec.iso(r.startedAt)), "started_at_s": .double(r.startedAt),
            "key_name": .string(r.keyName), "key_id": opt(r.keyID), "team": opt(r.team), "endpoint": .string(r.endpoint),
            "model": .string(r.model), "served_model": opt(r.servedModel), "provider": opt(r.provider), "deployment": opt(r.upstreamModel),
            "stream": .bool(r.stream), "status": .int(r.status), "error_code": opt(r.errorCode), "attempts": .int(r.attempts),
            "route_reason": opt(r.routeReason), "route_rule": opt(r.routeRule), "hedged": .bool(r.hedged), "latency_ms": .double(r.latencyMs),
            "ttft_ms": r.ttftMs.map(JSONValue.double) ?? .null,
            "usage": .object(["prompt_tokens": .int(r.usage.promptTokens), "completion_tokens": .int(r.usage.completionTokens),
                              "cached_tokens": .int(r.usage.cachedTokens), "reasoning_tokens": .int(r.usage.reasoningTokens)]),
            "cost_usd": .double(r.costUSD),
        ])
    }

    /// One row of `/admin/analytics`. Grouped by model, provider or deployment, the row of requests refused before any provider
    /// was tried has `"refused": true` and a null group; grouped by key, `key_name` is the key's name.
    static func json(_ r: Analytics.Row, groupBy: Analytics.GroupBy) -> JSONValue {
        var o: [String: JSONValue] = [
            "bucket": r.bucketStart.map { .string(GovernanceSpec.iso($0)) } ?? .null, "group": r.group.map(JSONValue.string) ?? .null,
            "refused": .bool(r.refused), "requests": .int(r.requests), "errors": .int(r.errors), "error_rate": .double(r.errorRate),
            "error_codes": .object(r.errorCodes.mapValues(JSONValue.int)),
            "prompt_tokens": .int(r.promptTokens), "completion_tokens": .int(r.completionTokens), "cached_tokens": .int(r.cachedTokens),
            "cost_usd": .double(r.costUSD), "p50_latency_ms": .double(r.p50LatencyMs), "p95_latency_ms": .double(r.p95LatencyMs),
        ]
        if groupBy == .key { o["key_name"] = r.keyName.map(JSONValue.string) ?? .null }
        return .object(o)
    }

    static func add(to admin: RouterGroup<GatewayRequestContext>, storage: any Storage, flush: @escaping @Sendable () async -> Void) {
        admin.group("logs").add(middleware: RoleMiddleware(.admin)).get { request, _ in
            let limitText = request.uri.queryParameters.get("limit") ?? "100"
            guard let limit = Int(limitText), (1...1000).contains(limit) else { throw bad("limit", "expected 1 to 1000, found \"\(limitText)\"") }
            let q = try query(request, limit: limit)
            await flush()
            let records: [RequestRecord]
            do { records = try await storage.requests(q) } catch { throw GatewayError.storageUnavailable }
            var page: [String: JSONValue] = ["object": "list", "data": .array(records.map(json))]
            // The next page: records that started before the last one shown (same-instant neighbours may repeat).
            // As text, digit for digit: a JSON number could be rounded on its way and skip or repeat a record.
            page["next_before"] = records.count == limit ? .string(String(records.last!.startedAt)) : .null
            return AdminAPI.json(.object(page))
        }
        // One record with its bodies (kept when `logging.bodies` is enabled; redacted).
        admin.group("logs").add(middleware: RoleMiddleware(.admin)).get(":id") { _, context in
            let id = try context.parameters.require("id")
            await flush()
            let found: RequestRecord?
            do { found = try await storage.request(id: id) } catch { throw GatewayError.storageUnavailable }
            guard let record = found else {
                throw GatewayError(.notFound, "No request-log record has the id '\(id)'.")
            }
            guard case .object(var fields) = json(record) else { return AdminAPI.json(json(record)) }
            fields["request_body"] = record.requestBody.map(JSONValue.string) ?? .null
            fields["response_body"] = record.responseBody.map(JSONValue.string) ?? .null
            return AdminAPI.json(.object(fields))
        }
        admin.group("analytics").add(middleware: RoleMiddleware(.admin)).get { request, _ in
            let p = request.uri.queryParameters
            guard let groupBy = Analytics.GroupBy(rawValue: p.get("group_by") ?? "model") else {
                throw bad("group_by", "expected one of \(Analytics.GroupBy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let bucket = Analytics.Bucket(rawValue: p.get("bucket") ?? "none") else {
                throw bad("bucket", "expected one of \(Analytics.Bucket.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var q = try query(request, limit: maxAnalyticsRecords + 1)
            if q.from == nil { q.from = Date().timeIntervalSince1970 - 86_400 }
            await flush()
            var records: [RequestRecord]
            do { records = try await storage.requests(q) } catch { throw GatewayError.storageUnavailable }
            let truncated = records.count > maxAnalyticsRecords
            if truncated { records.removeLast() }
            let rows = Analytics.aggregate(records, groupBy: groupBy, bucket: bucket).map { json($0, groupBy: groupBy) }
            return AdminAPI.json(.object(["object": "list", "group_by": .string(groupBy.rawValue), "bucket": .string(bucket.rawValue),
                                          "from": .string(GovernanceSpec.iso(q.from!)), "data": .array(rows),
                                          "truncated": .bool(truncated)]))
        }
    }
}
