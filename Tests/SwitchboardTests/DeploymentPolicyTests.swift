import Foundation
import HTTPTypes
import NIOCore
import SwitchboardCore
import Testing

/// What a request allows of deployments: OpenRouter's `provider` object (read, honoured, removed before upstream),
/// `x-switchboard-max-price`, and the key's regions — pure, then in the running gateway.
@Suite struct DeploymentPolicyTests {
    @Test func theProviderObjectIsReadAndCutFromTheUpstreamBody() throws {
        for body in [#"{"model":"m","provider":{"order":["a","b"],"allow_fallbacks":false},"messages":[{"role":"user","content":"x"}]}"#,
                     #"{"provider" : {"only":["a"]} , "model":"m","messages":[{"role":"user","content":"x"}]}"#,
                     #"{"model":"m","messages":[{"role":"user","content":"x"}],"provider":{"sort":"price","max_price":{"prompt":1,"completion":2}}}"#] {
            let r = try OpenAIRequest.chat(ByteBuffer(string: body))
            #expect(r.providerPreferences != nil)
            let upstream = String(buffer: r.upstreamBody(model: "up"))
            let decoded = try #require(JSONValue.parse(Data(upstream.utf8)), "not JSON: \(upstream)")
            #expect(decoded["provider"] == nil && decoded["model"]?.string == "up" && decoded["messages"]?.array?.count == 1, "\(upstream)")
        }
        let p = try #require(try OpenAIRequest.chat(ByteBuffer(string:
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"provider":{"order":["a"],"ignore":["c"],"allow_fallbacks":false,"sort":"latency","max_price":{"prompt":1.5}}}"#)).providerPreferences)
        #expect(p.order == ["a"] && p.ignore == ["c"] && !p.allowFallbacks && p.sort == .latency && p.maxPromptPrice == 1.5 && p.maxCompletionPrice == nil)
        // Malformed preferences are the client's 400, naming the field.
        for (bad, param) in [(#"{"order":"a"}"#, "provider.order"), (#"{"sort":"speed"}"#, "provider.sort"), (#"{"max_price":{"prompt":-1}}"#, "provider.max_price.prompt"),
                             (#"{"ordr":["a"]}"#, "provider.ordr"), (#"[1]"#, "provider")] {
            do {
                _ = try OpenAIRequest.chat(ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"x"}],"provider":\#(bad)}"#))
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.status == 400 && error.param == param, "\(bad): \(error.message)")
            }
        }
    }

    static let yaml = """
        auth:
          master_key: "sk-master"
          keys:
            - { name: tester, key: "\(GatewayHarness.key)" }
        providers:
          - { name: us-cheap, kind: mock, seed: 1, region: us-east }
          - { name: eu-dear, kind: mock, seed: 2, region: eu-west }
          - { name: nowhere, kind: mock, seed: 3 }
        models:
          - name: chat
            balancing: round-robin
            fallbacks: [spare]
            deployments:
              - { provider: us-cheap, model: c, price: { input: 0.1, output: 0.4 } }
              - { provider: eu-dear, model: d, price: { input: 10, output: 30 } }
          - name: spare
            deployments: [{ provider: nowhere, model: s }]
          - name: us-only
            deployments: [{ provider: us-cheap, model: c, price: { input: 0.1, output: 0.4 } }]
        """

    static func chat(_ model: String = "chat", provider: String? = nil) -> String {
        #"{"model":"\#(model)","max_tokens":100,"messages":[{"role":"user","content":"hello"}]\#(provider.map { #","provider":\#($0)"# } ?? "")}"#
    }

    @Test func providerPreferencesChooseTheDeployment() async throws {
        try await withGateway(Self.yaml) { h in
            for _ in 0..<3 {
                let only = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"only":["eu-dear"]}"#))
                #expect(only.status == .ok && only.header("x-switchboard-provider") == "eu-dear")
                let ignore = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"ignore":["eu-dear"]}"#))
                #expect(ignore.header("x-switchboard-provider") == "us-cheap")
                let sorted = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"sort":"price","order":[]}"#))
                #expect(sorted.header("x-switchboard-provider") == "us-cheap")
                let ordered = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"order":["eu-dear","us-cheap"]}"#))
                #expect(ordered.header("x-switchboard-provider") == "eu-dear")
                let capped = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"max_price":{"prompt":1}}"#))
                #expect(capped.header("x-switchboard-provider") == "us-cheap")
            }
            // Only providers the model does not have, and no fallbacks allowed: a 400 naming the preferences.
            let none = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"only":["nowhere"],"allow_fallbacks":false}"#))
            #expect(none.status == .badRequest && none.text.contains("provider"))
            // With fallbacks allowed, the fallback model on that provider serves.
            let fallback = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"only":["nowhere"]}"#))
            #expect(fallback.status == .ok && fallback.header("x-switchboard-model") == "spare")
        }
    }

    @Test func theMaxPriceHeaderIsNeverExceeded() async throws {
        try await withGateway(Self.yaml) { h in
            var cap = HTTPFields()
            // 2 prompt tokens + 100 output tokens: us-cheap ≈ $0.00004, eu-dear ≈ $0.003.
            cap[HTTPField.Name("x-switchboard-max-price")!] = "0.001"
            for _ in 0..<4 {
                let r = try await h.post("/v1/chat/completions", Self.chat("us-only"), headers: cap)
                #expect(r.status == .ok)
                let served = try await h.post("/v1/chat/completions", Self.chat(), headers: cap)
                #expect(served.status == .ok && served.header("x-switchboard-provider") == "us-cheap")
            }
            cap[HTTPField.Name("x-switchboard-max-price")!] = "0.000001"
            let tooLow = try await h.post("/v1/chat/completions", Self.chat("us-only"), headers: cap)
            #expect(tooLow.status == .badRequest && tooLow.text.contains("price limit"))
            cap[HTTPField.Name("x-switchboard-max-price")!] = "cheap"
            #expect(try await h.post("/v1/chat/completions", Self.chat(), headers: cap).status == .badRequest)
            // A key's own max_price_usd: the lower of it and the header holds.
            let made = try await h.send(.post, "/admin/keys", #"{"name":"frugal","max_price_usd":0.000001}"#, key: "sk-master")
            let stored = try made.json()["max_price_usd"] as? Double
            #expect(made.status == .created && stored == 0.000001)
            let frugal = try #require(try made.json()["key"] as? String)
            cap[HTTPField.Name("x-switchboard-max-price")!] = "1"
            let held = try await h.post("/v1/chat/completions", Self.chat("us-only"), key: frugal, headers: cap)
            #expect(held.status == .badRequest && held.text.contains("price limit"))
            #expect(try await h.send(.post, "/admin/keys", #"{"name":"bad-cap","max_price_usd":-1}"#, key: "sk-master").status == .badRequest)
        }
    }

    @Test func aKeysRegionsAreNeverLeftFallbacksIncluded() async throws {
        try await withGateway(Self.yaml) { h in
            let made = try await h.send(.post, "/admin/keys", #"{"name":"eu-app","region":"eu-*"}"#, key: "sk-master")
            let key = try #require(try made.json()["key"] as? String)
            for _ in 0..<4 {
                let r = try await h.post("/v1/chat/completions", Self.chat(), key: key)
                #expect(r.status == .ok && r.header("x-switchboard-provider") == "eu-dear")
            }
            // us-only has only a US deployment, and spare (the fallback of chat) has no region at all: refused, 403.
            let refused = try await h.post("/v1/chat/completions", Self.chat("us-only"), key: key)
            #expect(refused.status == .forbidden && refused.text.contains("region") && refused.text.contains("eu-*"))
            let anthropic = try await h.post("/v1/messages", #"{"model":"us-only","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#, key: key)
            #expect(anthropic.status == .forbidden && anthropic.text.contains(#""type":"permission_error""#))
        }
    }

    @Test func keysAndTeamsSetDefaultsAndTeamsHoldToRegionsToo() async throws {
        try await withGateway(Self.yaml) { h in
            // A key whose default is eu-dear only; a request's own object wins over it.
            let made = try await h.send(.post, "/admin/keys", #"{"name":"pinned","provider":{"only":["eu-dear"]}}"#, key: "sk-master")
            #expect(made.status == .created)
            #expect(((try made.json()["provider"] as? [String: Any])?["only"] as? [String]) == ["eu-dear"])
            let key = try #require(try made.json()["key"] as? String)
            for _ in 0..<3 {
                #expect(try await h.post("/v1/chat/completions", Self.chat(), key: key).header("x-switchboard-provider") == "eu-dear")
                let own = try await h.post("/v1/chat/completions", Self.chat(provider: #"{"only":["us-cheap"]}"#), key: key)
                #expect(own.header("x-switchboard-provider") == "us-cheap")
            }
            // A team with a region and a default; its key inherits both (the key sets neither).
            let team = try await h.send(.post, "/admin/teams", #"{"name":"eu-team","region":"eu-*","provider":{"sort":"price"}}"#, key: "sk-master")
            let teamRegion = try team.json()["region"] as? String
            #expect(team.status == .created && teamRegion == "eu-*")
            let member = try #require(try await h.send(.post, "/admin/keys", #"{"name":"member","team":"eu-team"}"#, key: "sk-master").json()["key"] as? String)
            for _ in 0..<3 {
                #expect(try await h.post("/v1/chat/completions", Self.chat(), key: member).header("x-switchboard-provider") == "eu-dear")
            }
            let refused = try await h.post("/v1/chat/completions", Self.chat("us-only"), key: member)
            #expect(refused.status == .forbidden && refused.text.contains("team: eu-*"))
            // Bad preferences on a key are the admin API's 400, naming the field.
            let bad = try await h.send(.post, "/admin/keys", #"{"name":"bad","provider":{"sort":"fastest"}}"#, key: "sk-master")
            #expect(bad.status == .badRequest && bad.text.contains("provider.sort"))
            // Kept in storage: read back as set, and cleared with null.
            let id = try #require(try made.json()["id"] as? String)
            let cleared = try await h.send(.patch, "/admin/keys/\(id)", #"{"provider":null}"#, key: "sk-master")
            let provider = try cleared.json()["provider"]
            #expect(cleared.status == .ok && provider is NSNull)
        }
    }
}
