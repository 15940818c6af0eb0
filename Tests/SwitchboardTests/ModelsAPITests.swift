import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardTesting
import Testing

/// `GET /v1/models` and `GET /v1/models/{id}`: OpenAI's fields for the SDK, OpenRouter's for choosing, figures of
/// several deployments combined as documented, 404 in OpenAI's shape for what a key may not see.
@Suite struct ModelsAPITests {
    static let yaml = """
        auth:
          master_key: "sk-master-0123456789"
          keys:
            - { name: tester, key: "\(GatewayHarness.key)" }
            - { name: narrow, key: "sk-narrow", models: ["chat"] }
        providers:
          - { name: sim-a, kind: mock, seed: 1 }
          - { name: sim-b, kind: mock, seed: 2 }
        models:
          - name: chat
            deployments:
              - { provider: sim-a, model: big-1, price: { input: 3, output: 15, cached_input: 0.3 },
                  capabilities: { context_window: 200000, max_output_tokens: 8192 } }
              - { provider: sim-b, model: small-1, price: { input: 0.15, output: 0.6, cached_input: 0.075 },
                  capabilities: { context_window: 128000, max_output_tokens: 16384, vision: false } }
          - name: openai/gpt-4o
            deployments:
              - { provider: sim-a, model: gpt-4o, capabilities: { tools: false, json_mode: false, vision: false, streaming: false } }
          - name: embed
            deployments: [ { provider: sim-b, model: text-embedding-3-small, price: { input: 0.02, output: 0 } } ]
        router:
          models: [auto]
          rules: [ { name: all, when: { model: auto }, route: { model: chat } } ]
        """

    static func data(_ r: TestResponse) throws -> [[String: Any]] { try r.json()["data"] as? [[String: Any]] ?? [] }

    @Test func listCarriesOpenAIAndOpenRouterFields() async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await h.get("/v1/models")
            let object = try r.json()["object"] as? String
            #expect(r.status == .ok && object == "list")
            let data = try Self.data(r)
            #expect(data.map { $0["id"] as? String } == ["chat", "openai/gpt-4o", "embed", "auto"])
            let chat = try #require(data.first)
            #expect(chat["object"] as? String == "model" && chat["owned_by"] as? String == "switchboard" && chat["created"] as? Int == 0)
            // The smallest declared window any deployment takes; the largest the gateway can route to.
            #expect(chat["context_length"] as? Int == 128_000)
            let top = try #require(chat["top_provider"] as? [String: Any])
            #expect(top["context_length"] as? Int == 200_000 && top["max_completion_tokens"] as? Int == 16_384)
            // The cheapest deployment's price, per token, as strings.
            let pricing = try #require(chat["pricing"] as? [String: Any])
            #expect(pricing["prompt"] as? String == "0.00000015" && pricing["completion"] as? String == "0.0000006")
            #expect(pricing["input_cache_read"] as? String == "0.000000075" && pricing["input_cache_write"] == nil)
            // One deployment sees images: the model does (routing sends images there).
            let arch = try #require(chat["architecture"] as? [String: Any])
            #expect(arch["input_modalities"] as? [String] == ["text", "image"] && arch["output_modalities"] as? [String] == ["text"])
            let caps = try #require(chat["capabilities"] as? [String: Bool])
            #expect(caps == ["tools": true, "vision": true, "json_mode": true, "streaming": true, "embeddings": false])
            let params = try #require(chat["supported_parameters"] as? [String])
            #expect(params.contains("tools") && params.contains("response_format") && params.contains("max_tokens"))
        }
    }

    @Test func declaredCapabilitiesUnknownLimitsEmbeddingsAndVirtualModels() async throws {
        try await withGateway(Self.yaml) { h in
            let data = try Self.data(try await h.get("/v1/models"))
            let plain = try #require(data.first { $0["id"] as? String == "openai/gpt-4o" })
            #expect(plain["context_length"] is NSNull)
            #expect(plain["capabilities"] as? [String: Bool] == ["tools": false, "vision": false, "json_mode": false, "streaming": false, "embeddings": false])
            #expect(plain["supported_parameters"] as? [String] == ["max_tokens", "temperature", "top_p", "stop"])
            #expect((plain["pricing"] as? [String: String]) == ["prompt": "0", "completion": "0"])
            let embed = try #require(data.first { $0["id"] as? String == "embed" })
            #expect((embed["architecture"] as? [String: Any])?["output_modalities"] as? [String] == ["embeddings"])
            #expect((embed["capabilities"] as? [String: Bool])?["embeddings"] == true && (embed["capabilities"] as? [String: Bool])?["tools"] == false)
            #expect((embed["pricing"] as? [String: String])?["prompt"] == "0.00000002")
            let auto = try #require(data.first { $0["id"] as? String == "auto" })
            #expect(auto["object"] as? String == "model" && auto["context_length"] is NSNull && auto["pricing"] is NSNull)
            #expect((auto["switchboard"] as? [String: Any])?["virtual"] as? Bool == true)
        }
    }

    @Test func retrieveOneWithSlashesEncodedOrNotAnd404sInOpenAIsShape() async throws {
        try await withGateway(Self.yaml) { h in
            let chat = try await h.get("/v1/models/chat")
            let chatJSON = try chat.json()
            #expect(chat.status == .ok && chatJSON["id"] as? String == "chat" && chatJSON["context_length"] as? Int == 128_000)
            for path in ["/v1/models/openai/gpt-4o", "/v1/models/openai%2Fgpt-4o"] {
                let r = try await h.get(path)
                let id = try r.json()["id"] as? String
                #expect(r.status == .ok && id == "openai/gpt-4o", "\(path)")
            }
            #expect(try await h.get("/v1/models/auto").status == .ok)
            for (path, key) in [("/v1/models/gpt-9", GatewayHarness.key), ("/v1/models/embed", "sk-narrow"), ("/v1/models/openai/gpt-4o", "sk-narrow")] {
                let r = try await h.get(path, key: key)
                #expect(r.status == .notFound, "\(path)")
                #expect(r.errorObject?["code"] as? String == "model_not_found" && r.errorObject?["type"] as? String == "invalid_request_error")
            }
            let narrow = try Self.data(try await h.get("/v1/models", key: "sk-narrow"))
            #expect(narrow.map { $0["id"] as? String } == ["chat"])
            #expect(try await h.get("/v1/models/chat", key: nil).status == .unauthorized)
            #expect(try await h.send(.post, "/v1/models/chat", "{}").status == .methodNotAllowed)
        }
    }

    @Test func livePricesFromAPricingSourceShow() async throws {
        try await FakeUpstream.run({ _ in jsonReply(PricingTests.list) }) { fake in
            let yaml = """
                auth: { master_key: "sk-master-0123456789", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
                providers: [ { name: sim, kind: mock, seed: 1 } ]
                models:
                  - name: mini
                    deployments: [ { provider: sim, model: gpt-4o-mini, price: { input: 100, output: 100 } } ]
                router:
                  pricing: { url: "http://127.0.0.1:\(fake.port)/api/v1/models", refresh_s: 60 }
                """
            try await withGateway(yaml) { h in
                let before = try #require(try await h.get("/v1/models/mini").json()["pricing"] as? [String: String])
                #expect(before["prompt"] == "0.0001")
                #expect(await h.services.pricing!.refresh())
                let after = try #require(try await h.get("/v1/models/mini").json()["pricing"] as? [String: String])
                #expect(after == ["prompt": "0.00000015", "completion": "0.0000006", "input_cache_read": "0.000000075"])
            }
        }
    }

    @Test func perTokenPricesArePlainDecimals() {
        #expect(ModelCard.perToken(0.15) == "0.00000015")
        #expect(ModelCard.perToken(2.5) == "0.0000025")
        #expect(ModelCard.perToken(1_000_000) == "1")
        #expect(ModelCard.perToken(0) == "0" && ModelCard.perToken(-1) == "0" && ModelCard.perToken(.nan) == "0")
        #expect(ModelCard.isEmbedding("nomic-embed-text") && !ModelCard.isEmbedding("gpt-4o"))
    }
}
