import Testing
@testable import SwitchboardCore

@Suite struct ConfigTests {
    func problems(_ yaml: String, env: [String: String] = [:]) -> [String] {
        do {
            _ = try ConfigLoader.load(yaml: yaml, environment: env)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func demoConfigLoads() throws {
        let c = try ConfigLoader.load(yaml: DemoConfig.yaml, environment: [:])
        #expect(c.models.map(\.name) == ["demo", "demo-fast", "demo-cheap"])
        #expect(c.models[0].deployments.count == 2)
        #expect(c.storage == .sqlite(path: "switchboard.db"))
        #expect(c.server.host == "127.0.0.1" && c.server.port == 8080)
        #expect(c.auth.keys.first?.key == DemoConfig.clientKey)
    }

    @Test func fullConfigWithSecretsAndDefaults() throws {
        let yaml = """
        server: { listen: "0.0.0.0:9000", max_body_bytes: 1024, shutdown_grace_s: 2.5 }
        storage: "memory"
        auth: { master_key: "env:MASTER", keys: [ { name: app, key: "env:APP_KEY", models: ["gpt-*"] } ] }
        providers:
          - name: openai
            kind: openai
            base_url: "https://api.openai.com/v1/"
            api_key: "env:OPENAI_API_KEY"
            headers: { OpenAI-Organization: "org-1", X-Secret: "env:HDR" }
          - { name: sim, kind: mock, ttft_ms: 5, tokens_per_s: 100.5, error_rate: 0.25, seed: 9 }
        models:
          - name: gpt-4o-mini
            balancing: weighted
            deployments:
              - { provider: openai, model: gpt-4o-mini, weight: 3, price: { input: 0.15, output: 0.6, cached_input: 0.075 } }
              - { provider: sim, model: s }
        routing: { retries: 0, timeout_s: 0.5 }
        """
        let c = try ConfigLoader.load(yaml: yaml, environment: ["MASTER": "m-0123456", "APP_KEY": "k", "OPENAI_API_KEY": "sk-x", "HDR": "h"])
        #expect(c.server.port == 9000 && c.server.maxBodyBytes == 1024 && c.server.shutdownGraceSeconds == 2.5)
        #expect(c.auth.masterKey == "m-0123456" && c.auth.keys[0].key == "k" && c.auth.keys[0].models == ["gpt-*"])
        guard case .openai(let o) = c.providers[0].kind else { Issue.record("kind"); return }
        #expect(o.baseURL == "https://api.openai.com/v1" && o.apiKey == "sk-x")
        #expect(o.headers.map(\.value).sorted() == ["h", "org-1"])
        guard case .mock(let m) = c.providers[1].kind else { Issue.record("kind"); return }
        #expect(m.ttftMs == 5 && m.tokensPerSecond == 100.5 && m.errorRate == 0.25 && m.seed == 9)
        #expect(c.models[0].balancing == .weighted)
        #expect(c.models[0].deployments[0].weight == 3 && c.models[0].deployments[0].price.cachedInput == 0.075)
        #expect(c.models[0].deployments[1].weight == 1 && c.models[0].deployments[1].price == .free)
        #expect(c.routing.retries == 0 && c.routing.timeoutSeconds == 0.5 && c.routing.connectTimeoutSeconds == 5)
    }

    @Test func everyProblemIsReportedWithItsPath() {
        let yaml = """
        provders: []
        server: { listen: "nowhere", max_body_bytes: "big" }
        auth: { master_key: "env:DOES_NOT_EXIST_XYZ" }
        providers:
          - { name: openai, kind: openai, api_key: "env:MISSING_KEY", base_urll: "x" }
          - { name: openai, kind: mock }
          - { name: other, kind: antropic }
        models:
          - name: chat
            balancing: round-robbin
            deployments:
              - { provider: opnai, model: gpt-4o }
              - { provider: openai, model: gpt-4o, weight: 0, price: { input: cheap } }
          - name: chat
            deployments: []
          - { name: empty }
        routing: { retries: -1, timout_s: 5 }
        """
        let p = problems(yaml)
        let expected = [
            #"provders: unknown key "provders"; did you mean "providers"?"#,
            #"server.listen: expected "HOST:PORT" (port 0–65535), found "nowhere""#,
            #"server.max_body_bytes: expected an integer, found "big""#,
            "auth.master_key: environment variable DOES_NOT_EXIST_XYZ is not set",
            #"providers[0].base_urll: unknown key "base_urll"; did you mean "base_url"?"#,
            "providers[0].api_key: environment variable MISSING_KEY is not set",
            #"providers[1].name: duplicate provider name "openai" (also providers[0])"#,
            #"providers[2].kind: unknown provider kind "antropic""#,
            #"models[0].balancing: unknown balancing policy "round-robbin"; did you mean "round-robin"?"#,
            #"models[0].deployments[0].provider: unknown provider "opnai"; did you mean "openai"?"#,
            "models[0].deployments[1].weight: must be between 1 and 1000000, found 0",
            #"models[0].deployments[1].price.input: expected a number, found "cheap""#,
            "models[1].deployments: must list at least one deployment",
            "models[2].deployments: required: at least one deployment",
            "routing.retries: must be between 0 and 10, found -1",
            #"routing.timout_s: unknown key "timout_s"; did you mean "timeout_s"?"#,
        ]
        for e in expected {
            #expect(p.contains { $0.hasPrefix(e) }, "missing: \(e)\nall:\n\(p.joined(separator: "\n"))")
        }
    }

    /// Keys that would make the gateway unsafe or every request fail are refused, each at its path.
    @Test func unsafeKeysAndHeaderValuesAreProblems() {
        let found = problems("""
        auth:
          master_key: "short"
          keys:
            - { name: a, key: "sk-same-key" }
            - { name: b, key: "sk-same-key" }
            - { name: c, key: "short" }
        providers:
          - { name: p, kind: openai, api_key: "env:CRLF", headers: { x-h: "env:LF" } }
        models: [ { name: m, deployments: [ { provider: p, model: x } ] } ]
        """, env: ["CRLF": "sk-abc\r\nX-Evil: 1", "LF": "a\nb"])
        #expect(found.contains { $0.hasPrefix("auth.master_key: too short") })
        #expect(found.contains { $0.hasPrefix("auth.keys[1].key: the same key as auth.keys[0]") })
        #expect(found.contains { $0.hasPrefix("auth.keys[2].key: the same key as auth.master_key") })
        #expect(found.contains { $0.hasPrefix("providers[0].api_key: contains a control character") })
        #expect(found.contains { $0.hasPrefix("providers[0].headers.x-h: contains a control character") })
    }

    @Test func typeAndShapeErrors() {
        #expect(problems("just a string").first?.contains("expected a mapping") == true)
        #expect(problems("").first == "the configuration is empty")
        #expect(problems("providers: [\n").first?.hasPrefix("not valid YAML") == true)
        #expect(problems("providers: {a: 1}\nmodels: []").contains("providers: expected a list, found a mapping"))
        #expect(problems("storage: \"postgres://x\"\nproviders: [{name: a, kind: mock}]\nmodels: [{name: m, deployments: [{provider: a, model: x}]}]")
            == ["storage: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"])
        let pg = try? ConfigLoader.load(yaml: "storage: \"env:PG_URL\"\nproviders: [{name: a, kind: mock}]\nmodels: [{name: m, deployments: [{provider: a, model: x}]}]",
                                        environment: ["PG_URL": "postgres://sb:secret@db:5433/gw"])
        #expect(pg?.storage == .postgres(url: "postgres://sb:secret@db:5433/gw") && pg?.storage.description == "postgres://sb:***@db:5433/gw")
        #expect(problems("providers: [{name: a, kind: openai, base_url: \"ftp://x\"}]\nmodels: [{name: m, deployments: [{provider: a, model: x}]}]")
            == [#"providers[0].base_url: expected an http:// or https:// URL, found "ftp://x""#])
    }

    @Test func cpuListCounting() {
        #expect(countCPUList("0-3,8,10-11") == 7)
        #expect(countCPUList("1") == 1)
        #expect(countCPUList("") == nil)
        #expect(countCPUList("3-1") == nil)
        #expect(allowedCPUCount(procStatus: "Name:\tx\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems: 0\n") == 2)
        #expect(allowedCPUCount(procStatus: "nothing") == nil)
    }

    @Test func listenParsing() {
        #expect(parseListen("127.0.0.1:8080")! == ("127.0.0.1", 8080))
        #expect(parseListen("[::1]:0")! == ("::1", 0))
        #expect(parseListen("host") == nil)
        #expect(parseListen(":80") == nil)
        #expect(parseListen("h:70000") == nil)
    }
}
