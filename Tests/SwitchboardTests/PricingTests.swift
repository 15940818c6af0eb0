import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardTesting
import Synchronization
import Testing

/// `router.pricing`: a price list in OpenRouter's format over the configured prices — read, applied to costs and to
/// routing, its last good copy kept when the source fails, its age shown.
@Suite struct PricingTests {
    static let list = #"""
        {"data":[
          {"id":"openai/gpt-4o-mini","pricing":{"prompt":"0.00000015","completion":"0.0000006","input_cache_read":"0.000000075"}},
          {"id":"anthropic/claude-x","pricing":{"prompt":"0.000003","completion":"0.000015"}},
          {"id":"acme/m","pricing":{"prompt":"0.000001","completion":"0.000002"}},
          {"id":"other/m","pricing":{"prompt":"0.000009","completion":"0.000009"}},
          {"id":"bad","pricing":{"prompt":"-1","completion":"x"}},
          {"id":"huge","pricing":{"prompt":"1e300","completion":"0"}}
        ]}
        """#

    @Test func readsOpenRoutersFormatAndMatchesDeployments() throws {
        let prices = try PriceList.parse(Data(Self.list.utf8))
        #expect(prices.count == 4 && prices["bad"] == nil && prices["huge"] == nil)
        let mini = try #require(prices["openai/gpt-4o-mini"])
        #expect(abs(mini.input - 0.15) < 1e-9 && abs(mini.output - 0.6) < 1e-9 && abs((mini.cachedInput ?? 0) - 0.075) < 1e-9)
        #expect(PriceList.entry(prices, id: nil, upstreamModel: "gpt-4o-mini")?.id == "openai/gpt-4o-mini")
        // Two vendors have an `m`: no guess, unless the deployment names its entry.
        #expect(PriceList.entry(prices, id: nil, upstreamModel: "m") == nil)
        #expect(PriceList.entry(prices, id: "other/m", upstreamModel: "m")?.price.input == 9)
        for bad in ["[]", #"{"data":{}}"#, #"{"data":[{"id":"x"}]}"#, "not json"] {
            #expect(throws: PriceList.Invalid.self) { try PriceList.parse(Data(bad.utf8)) }
        }
    }

    @Test func livePricesApplyAndTheLastGoodCopyStaysWhenTheSourceFails() async throws {
        let failing = Mutex(false)
        try await FakeUpstream.run({ _ in
            failing.withLock { $0 } ? jsonReply(#"{"error":"down"}"#, status: .internalServerError) : jsonReply(Self.list)
        }) { fake in
            let yaml = """
                auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
                providers: [ { name: sim, kind: mock, seed: 1, completion_tokens: 10 } ]
                models:
                  - name: mini
                    deployments: [ { provider: sim, model: gpt-4o-mini, price: { input: 100, output: 100 } } ]
                  - name: unpriced
                    deployments: [ { provider: sim, model: local-model, price: { input: 7, output: 7 } } ]
                router:
                  pricing: { url: "http://127.0.0.1:\(fake.port)/api/v1/models?key=secret-token-123", refresh_s: 60 }
                """
            try await withGateway(yaml) { h in
                let pricing = try #require(h.services.pricing)
                let before = try await h.get("/admin/health", key: "sk-master")
                let p0 = try #require(try before.json()["pricing"] as? [String: Any])
                #expect(p0["updated_at"] is NSNull && p0["deployments_priced"] as? Int == 0)
                #expect(await pricing.refresh())
                // 10 completion tokens at the source's $0.6/M, not the configured $100/M.
                let r = try await h.post("/v1/chat/completions", #"{"model":"mini","messages":[{"role":"user","content":"hi"}]}"#)
                let cost = try #require(Double(r.header("x-switchboard-cost-usd") ?? ""))
                #expect(cost > 0 && cost < 0.0001, "cost \(cost)")
                // A deployment the list does not price keeps its configured price.
                let local = try await h.post("/v1/chat/completions", #"{"model":"unpriced","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(Double(local.header("x-switchboard-cost-usd") ?? "") ?? 0 > 0.00007)

                failing.withLock { $0 = true }
                #expect(await pricing.refresh() == false)
                let again = try await h.post("/v1/chat/completions", #"{"model":"mini","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(Double(again.header("x-switchboard-cost-usd") ?? "") == cost)
                let health = try #require(try await h.get("/admin/health", key: "sk-master").json()["pricing"] as? [String: Any])
                #expect(health["deployments_priced"] as? Int == 1 && health["failures"] as? Int == 1)
                #expect((health["last_error"] as? String)?.contains("HTTP 500") == true && health["updated_at"] is String)
                #expect((health["url"] as? String)?.contains("secret-token-123") == false)
                let metrics = try await h.get("/metrics", key: nil).text
                #expect(metrics.contains("switchboard_pricing_refresh_failures_total 1") && metrics.contains("switchboard_pricing_age_seconds "))
                #expect(!metrics.contains("switchboard_pricing_age_seconds NaN"))
            }
        }
    }

    @Test func checkRefusesABadPricingSource() {
        do throws(ConfigError) {
            _ = try ConfigLoader.load(yaml: """
                providers: [ { name: sim, kind: mock } ]
                models: [ { name: m, deployments: [ { provider: sim, model: x } ] } ]
                router: { pricing: { url: "ftp://prices", refresh_s: 0 } }
                """, environment: [:])
            Issue.record("accepted")
        } catch {
            let text = error.description
            #expect(text.contains("router.pricing.url: expected an http:// or https:// URL") && text.contains("router.pricing.refresh_s"))
        }
    }
}
