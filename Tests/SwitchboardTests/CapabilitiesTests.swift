import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import Testing

@Suite struct CapabilitiesTests {
    @Test func openAINeedsAreDetected() throws {
        let r = try OpenAIRequest.chat(ByteBuffer(string: #"{"model":"m","stream":true,"max_completion_tokens":900,"response_format":{"type":"json_schema","json_schema":{}},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#))
        #expect(r.needs.tools && r.needs.vision && r.needs.jsonMode && r.needs.streaming && r.needs.maxOutputTokens == 900)
        // Mentioning "image_url" in text is not an image; an empty tools list is no tools; text format is not JSON mode.
        let plain = try OpenAIRequest.chat(ByteBuffer(string: #"{"model":"m","tools":[],"response_format":{"type":"text"},"max_tokens":5,"messages":[{"role":"user","content":"what is \"image_url\"?"}]}"#))
        #expect(!plain.needs.tools && !plain.needs.vision && !plain.needs.jsonMode && !plain.needs.streaming && plain.needs.maxOutputTokens == 5)
    }

    @Test func anthropicNeedsAreDetected() throws {
        let r = try AnthropicMessagesRequest.parse(ByteBuffer(string: #"{"model":"m","max_tokens":64,"tools":[{"name":"f","input_schema":{}}],"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}"#))
        #expect(r.needs.tools && r.needs.vision && !r.needs.streaming && r.needs.maxOutputTokens == 64)
    }

    @Test func missingCapabilities() {
        var c = Capabilities()
        #expect(c.missing(for: RequestNeeds(tools: true, vision: true)) == nil)
        c.vision = false
        #expect(c.missing(for: RequestNeeds(tools: true, vision: true)) == "vision")
        c.maxOutputTokens = 100
        #expect(c.missing(for: RequestNeeds(maxOutputTokens: 101)) == "max_output_tokens")
        c.contextWindow = 1000
        #expect(c.missing(for: RequestNeeds(maxOutputTokens: 100, estimatedPromptTokens: 901)) == "context_window")
        #expect(c.missing(for: RequestNeeds(maxOutputTokens: 100, estimatedPromptTokens: 900)) == nil)
    }

    @Test func configuredPerDeployment() throws {
        let c = try ConfigLoader.load(yaml: """
        providers: [ { name: p, kind: mock } ]
        models: [ { name: m, deployments: [ { provider: p, model: x, capabilities: { tools: false, context_window: 8192 } }, { provider: p, model: y } ] } ]
        """, environment: [:])
        let caps = c.models[0].deployments.map(\.capabilities)
        #expect(!caps[0].tools && caps[0].vision && caps[0].contextWindow == 8192)
        #expect(caps[1] == Capabilities())
        do {
            _ = try ConfigLoader.load(yaml: "providers: [ { name: p, kind: mock } ]\nmodels: [ { name: m, deployments: [ { provider: p, model: x, capabilities: { tools: maybe, vison: true } } ] } ]", environment: [:])
            Issue.record("accepted bad capabilities")
        } catch {
            let p = error.problems.map(\.description)
            #expect(p.contains(#"models[0].deployments[0].capabilities.tools: expected true or false, found "maybe""#))
            #expect(p.contains { $0.hasPrefix(#"models[0].deployments[0].capabilities.vison: unknown key "vison"; did you mean "vision"?"#) })
        }
    }

    static let yaml = """
    auth: { keys: [ { name: tester, key: "sk-test" } ] }
    providers:
      - { name: plain, kind: mock, seed: 1 }
      - { name: smart, kind: mock, seed: 2 }
    models:
      - name: mixed
        balancing: round-robin
        deployments:
          - { provider: plain, model: p, capabilities: { tools: false, vision: false } }
          - { provider: smart, model: s }
      - name: small
        deployments:
          - { provider: plain, model: p, capabilities: { vision: false, max_output_tokens: 100, context_window: 300 } }
    """

    @Test func requestsGoOnlyWhereTheyCanBeServed() async throws {
        try await withGateway(Self.yaml) { h in
            let tools = #"{"model":"mixed","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#
            for _ in 0..<4 {     // round-robin would alternate; only 'smart' can take tools
                let r = try await h.post("/v1/chat/completions", tools)
                #expect(r.status == .ok && r.header("x-switchboard-provider") == "smart")
            }
            var providers: Set<String> = []
            for _ in 0..<4 { providers.insert(try await h.post("/v1/chat/completions", #"{"model":"mixed","messages":[{"role":"user","content":"x"}]}"#).header("x-switchboard-provider") ?? "") }
            #expect(providers == ["plain", "smart"])
        }
    }

    @Test(arguments: [
        (#"{"model":"small","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#, "vision"),
        (#"{"model":"small","max_tokens":101,"messages":[{"role":"user","content":"x"}]}"#, "max_output_tokens"),
        (#"{"model":"small","max_tokens":100,"messages":[{"role":"user","content":"\#(String(repeating: "long ", count: 200))"}]}"#, "context_window"),
    ])
    func unservableRequestsAre400NamingTheCapability(_ body: String, _ capability: String) async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await h.post("/v1/chat/completions", body)
            #expect(r.status == .badRequest)
            #expect(r.errorObject?["code"] as? String == "unsupported_capability")
            #expect(r.errorObject?["param"] as? String == capability)
            #expect((r.errorObject?["message"] as? String)?.contains("'small'") == true)
        }
    }

    @Test func anthropicRouteRefusesInItsOwnShape() async throws {
        try await withGateway(Self.yaml) { h in
            var headers = HTTPFields()
            headers[HTTPField.Name("x-api-key")!] = "sk-test"
            let r = try await h.client.execute(uri: "/v1/messages", method: .post, headers: headers,
                                               body: ByteBuffer(string: #"{"model":"small","max_tokens":500,"messages":[{"role":"user","content":"x"}]}"#))
            #expect(r.status == .badRequest)
            let e = try #require(JSONValue.parse(Data(buffer: r.body)))
            #expect(e["type"] == "error" && e["error"]?["type"] == "invalid_request_error")
            #expect(e["error"]?["message"]?.string?.contains("max_output_tokens") == true)
        }
    }
}
