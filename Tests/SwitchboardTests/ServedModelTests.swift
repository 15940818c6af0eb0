import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardStore

/// The `served_model` filter of the request log (every storage, and `/admin/logs` / `/admin/analytics`) and
/// analytics grouped by deployment.
@Suite struct ServedModelTests {
    static let t0 = 1_804_680_000.0

    /// Asked `chat`: served by `chat` itself, by its fallback `chat-large`, or refused before any provider was tried.
    static let records: [RequestRecord] = [
        RequestRecord(id: "s0", startedAt: t0, keyName: "k", endpoint: "chat.completions", model: "chat", provider: "mock-a",
                      upstreamModel: "gpt-4o-mini", status: 200, attempts: 1),
        RequestRecord(id: "s1", startedAt: t0 + 1, keyName: "k", endpoint: "chat.completions", model: "chat", provider: "mock-b",
                      upstreamModel: "big-1", status: 200, attempts: 2, servedModel: "chat-large"),
        RequestRecord(id: "s2", startedAt: t0 + 2, keyName: "k", endpoint: "chat.completions", model: "chat", status: 429,
                      errorCode: "rate_limit_exceeded"),
        RequestRecord(id: "s3", startedAt: t0 + 3, keyName: "k", endpoint: "chat.completions", model: "chat-large", provider: "mock-b",
                      upstreamModel: "big-1", status: 502, errorCode: "upstream_error", attempts: 1),
        RequestRecord(id: "s4", startedAt: t0 + 4, keyName: "k", endpoint: "chat.completions", model: "chat", provider: "mock-a",
                      upstreamModel: "gpt-4o", status: 200, attempts: 1),
    ]

    /// The same answers from every storage: `served_model` is the model that served (the asked one unless a fallback
    /// answered), never a refused request's; `model` keeps matching the asked model.
    static func filterContract(_ s: any Storage) async throws {
        try await s.insert(records)
        func ids(_ q: LogQuery) async throws -> [String] { try await s.requests(q).map(\.id) }
        #expect(try await ids(LogQuery(servedModel: "chat")) == ["s4", "s0"])
        #expect(try await ids(LogQuery(servedModel: "chat-large")) == ["s3", "s1"])
        #expect(try await ids(LogQuery(model: "chat", servedModel: "chat-large")) == ["s1"])
        #expect(try await ids(LogQuery(model: "chat")) == ["s4", "s2", "s1", "s0"])
        #expect(try await ids(LogQuery(servedModel: "chat-large", status: 200)) == ["s1"])
        #expect(try await ids(LogQuery(servedModel: "nope")).isEmpty)
    }

    @Test func memoryFiltersByServedModel() async throws {
        try await Self.filterContract(MemoryStorage())
    }

    @Test func sqliteFiltersByServedModel() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let s = try await SQLiteStorage.open(path: path)
        try await s.migrate()
        try await Self.filterContract(s)
        try await s.close()
    }

    @Test(.needsPostgres) func postgresFiltersByServedModel() async throws {
        let s = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
        try await s.migrate()
        try await Self.filterContract(s)
        try await s.close()
    }

    @Test func deploymentsGroupByProviderAndUpstreamModel() {
        let rows = Analytics.aggregate(Self.records, groupBy: .deployment, bucket: .none)
        #expect(rows.map(\.group) == [nil, "mock-a/gpt-4o", "mock-a/gpt-4o-mini", "mock-b/big-1"])
        #expect(rows[0].refused && rows[0].requests == 1 && rows[0].errorCodes == ["rate_limit_exceeded": 1])
        #expect(rows[3].requests == 2 && rows[3].errors == 1 && !rows[3].refused)
        #expect(rows.dropFirst().allSatisfy { !$0.refused })
    }

    static let yaml = """
    auth: { master_key: "sk-master", keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: good, kind: mock }
      - { name: bad, kind: mock, error_rate: 1.0 }
    models:
      - { name: ok, deployments: [ { provider: good, model: g-1 } ] }
      - { name: flaky, retries: 0, fallbacks: [ok], deployments: [ { provider: bad, model: b-1 } ] }
    """

    @Test func theAPIFiltersByServedModelAndGroupsByDeployment() async throws {
        try await withGateway(Self.yaml) { h in
            let chat = { (model: String) in
                try await h.post("/v1/chat/completions", #"{"model":"\#(model)","messages":[{"role":"user","content":"x"}]}"#, key: "sk-test")
            }
            #expect(try await chat("ok").status == .ok)
            #expect(try await chat("flaky").status == .ok)  // answered by its fallback `ok`
            #expect(try await chat("no-such-model").status == .notFound)

            func logModels(_ query: String) async throws -> [String] {
                let data = try #require(try await h.get("/admin/logs?\(query)", key: "sk-master").json()["data"] as? [[String: Any]])
                return data.map { ($0["model"] as? String ?? "?") + ">" + ($0["served_model"] as? String ?? "-") }
            }
            #expect(try await logModels("served_model=ok") == ["flaky>ok", "ok>-"])
            #expect(try await logModels("model=flaky") == ["flaky>ok"])
            #expect(try await logModels("served_model=flaky").isEmpty)
            #expect(try await logModels("served_model=no-such-model").isEmpty)

            let served = try #require(try await h.get("/admin/analytics?served_model=ok", key: "sk-master").json()["data"] as? [[String: Any]])
            #expect(served.count == 1 && served[0]["group"] as? String == "ok" && served[0]["requests"] as? Int == 2)

            let byDeployment = try await h.get("/admin/analytics?group_by=deployment", key: "sk-master").json()
            #expect(byDeployment["group_by"] as? String == "deployment")
            let rows = try #require(byDeployment["data"] as? [[String: Any]])
            #expect(rows.map { $0["group"] as? String ?? "null" } == ["null", "good/g-1"])
            #expect(rows[0]["refused"] as? Bool == true && rows[0]["requests"] as? Int == 1)
            #expect(rows[1]["refused"] as? Bool == false && rows[1]["requests"] as? Int == 2)

            let empty = try await h.get("/admin/logs?served_model=", key: "sk-master")
            #expect(empty.status == .badRequest && (empty.errorObject?["param"] as? String) == "served_model")
            #expect(try await h.get("/admin/analytics?group_by=deployment", key: "sk-test").status == .forbidden)
        }
    }
}
