import Foundation
import SwitchboardCore
import Testing

/// `Analytics.aggregate` (pure) and `/admin/analytics` over known traffic: requests count under the model and
/// provider that served them, refusals in a row of their own, keys by name.
@Suite struct AnalyticsTests {
    static func record(_ t: Double, asked: String, served: String? = nil, provider: String?, status: Int = 200, code: String? = nil,
                       key: (name: String, id: String?) = ("ci", nil), latency: Double = 10) -> RequestRecord {
        RequestRecord(id: "req_\(t)", startedAt: t, keyName: key.name, endpoint: "/v1/chat/completions", model: asked, provider: provider,
                      status: status, errorCode: code, attempts: provider == nil ? 0 : 1, latencyMs: latency, keyID: key.id,
                      servedModel: served)
    }

    static let minute0 = 1_804_680_000.0
    static let records = [
        record(minute0 + 1, asked: "gpt-4o", provider: "openai", latency: 100),
        record(minute0 + 2, asked: "gpt-4o", served: "claude", provider: "anthropic", latency: 300),  // a fallback answered
        record(minute0 + 3, asked: "gtp-4o", provider: nil, status: 404, code: "model_not_found"),  // a typo
        record(minute0 + 4, asked: "gpt-4o", provider: nil, status: 429, code: "rate_limit_exceeded"),  // never tried
        record(minute0 + 61, asked: "gpt-4o", provider: "openai", status: 504, code: "upstream_timeout", latency: 900),
        record(minute0 + 62, asked: "nope", provider: nil, status: 404, code: "model_not_found"),
    ]

    @Test func modelsAreTheServedOnesAndRefusalsARowOfTheirOwn() {
        let rows = Analytics.aggregate(Self.records, groupBy: .model, bucket: .none)
        #expect(rows.map(\.group) == [nil, "claude", "gpt-4o"])
        let refused = rows[0]
        #expect(refused.refused && refused.requests == 3 && refused.errors == 3)
        #expect(refused.errorCodes == ["model_not_found": 2, "rate_limit_exceeded": 1])
        #expect(rows[1].requests == 1 && !rows[1].refused && rows[1].p95LatencyMs == 300)
        #expect(rows[2].requests == 2 && rows[2].errors == 1 && rows[2].errorCodes == ["upstream_timeout": 1])
        #expect(!rows.contains { $0.group == "gtp-4o" || $0.group == "nope" })
    }

    @Test func providersNeverIncludeANoneForRefusals() {
        let rows = Analytics.aggregate(Self.records, groupBy: .provider, bucket: .minute)
        #expect(!rows.contains { $0.group == "none" })
        let shape = rows.map { "\(Int($0.bucketStart! - Self.minute0)) \($0.refused ? "refused" : $0.group!) \($0.requests)" }
        #expect(shape == ["0 refused 2", "0 anthropic 1", "0 openai 1", "60 refused 1", "60 openai 1"])
    }

    @Test func otherGroupingsKeepRefusalsInTheirGroup() {
        let all = Analytics.aggregate(Self.records, groupBy: .none, bucket: .none)
        #expect(all.count == 1 && all[0].requests == 6 && all[0].errors == 4 && !all[0].refused)
        let keys = Analytics.aggregate(Self.records, groupBy: .key, bucket: .none)
        #expect(keys.count == 1 && keys[0].group == "ci" && keys[0].keyName == "ci" && keys[0].requests == 6)
    }

    @Test func keysAreGroupedByIdAndNamedByTheirLatestRecord() {
        let rows = Analytics.aggregate([
            Self.record(Self.minute0, asked: "m", provider: "p", key: ("old-name", "k1")),
            Self.record(Self.minute0 + 5, asked: "m", provider: "p", key: ("ci-pipeline", "k1")),
            Self.record(Self.minute0 + 2, asked: "m", provider: "p", key: ("tester", nil)),
        ], groupBy: .key, bucket: .none)
        #expect(rows.map(\.group) == ["k1", "tester"])
        #expect(rows.map(\.keyName) == ["ci-pipeline", "tester"])
        #expect(rows[0].requests == 2)
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

    @Test func theAPIGroupsByServedModelAndNamesKeys() async throws {
        try await withGateway(Self.yaml) { h in
            let chat = { (model: String, key: String) in
                try await h.post("/v1/chat/completions", #"{"model":"\#(model)","messages":[{"role":"user","content":"x"}]}"#, key: key)
            }
            let (id, managed) = try await KeysAppTests.createKey(h, #"{"name":"ci-pipeline"}"#)
            #expect(try await chat("ok", managed).status == .ok)
            #expect(try await chat("flaky", "sk-test").status == .ok)  // answered by its fallback, ok
            #expect(try await chat("no-such-model", "sk-test").status == .notFound)

            let byModel = try #require(try await h.get("/admin/analytics?group_by=model", key: "sk-master").json()["data"] as? [[String: Any]])
            #expect(byModel.count == 2)
            let ok = try #require(byModel.first { $0["group"] as? String == "ok" })
            #expect(ok["requests"] as? Int == 2 && ok["refused"] as? Bool == false)
            let refused = try #require(byModel.first { $0["refused"] as? Bool == true })
            #expect(refused["group"] is NSNull && refused["requests"] as? Int == 1)
            #expect((refused["error_codes"] as? [String: Int]) == ["model_not_found": 1])

            let byProvider = try #require(try await h.get("/admin/analytics?group_by=provider", key: "sk-master").json()["data"] as? [[String: Any]])
            #expect(Set(byProvider.compactMap { $0["group"] as? String }) == ["good"])
            #expect(byProvider.first { $0["refused"] as? Bool == true }?["requests"] as? Int == 1)

            let byKey = try #require(try await h.get("/admin/analytics?group_by=key", key: "sk-master").json()["data"] as? [[String: Any]])
            let ci = try #require(byKey.first { $0["group"] as? String == id })
            #expect(ci["key_name"] as? String == "ci-pipeline" && ci["requests"] as? Int == 1)
            #expect(byKey.first { $0["group"] as? String == "tester" }?["key_name"] as? String == "tester")
        }
    }
}
