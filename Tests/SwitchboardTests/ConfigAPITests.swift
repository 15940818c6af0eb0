import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import Testing

/// `GET /admin/config`: the running configuration as YAML names it, every secret masked (`ConfigReport`).
@Suite struct ConfigAPITests {
    /// Every secret of the configuration below, each distinct: none may appear in the report, whole or in part
    /// (beyond the last four characters of a long one).
    static let secrets = [
        "master-0123456789-WXYZ", "sk-static-long-key-0001AB12", "sk-short1", "sk-openai-secret-value-QRST",
        "org-token-secret-long-9876", "tiny-hdr-1", "ant-key-short", "urlpass-secret", "qparam-secret-123",
        "pg-password-secret-77", "hc-secret-header-value-5555", "webhooksecret-long-XYZ1",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "azure-key-from-env-0042", "Bearer rule-token-in-a-regex-8888",
        "webhook-query-secret-31", "webhook-header-secret-long-4242",
    ]

    static let yaml = """
    server: { listen: "127.0.0.1:9999", max_in_flight: 64, tls: { cert_file: TLSDIR/cert.pem, key_file: TLSDIR/key.pem } }
    storage: "postgres://sbuser:pg-password-secret-77@db.internal:5432/switchboard?sslmode=require"
    auth:
      master_key: "master-0123456789-WXYZ"
      encryption_key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
      budget_alert_webhook: "https://hooks.example.test/services/T0/B0/webhooksecret-long-XYZ1"
      keys:
        - { name: ci, key: "sk-static-long-key-0001AB12", models: ["gpt-*"] }
        - { name: tiny, key: "sk-short1" }
    providers:
      - name: openai
        kind: openai
        base_url: "https://proxy:urlpass-secret@llm.example.test/v1?api_key=qparam-secret-123&tier=gold"
        api_key: "sk-openai-secret-value-QRST"
        headers: { X-Org-Token: "org-token-secret-long-9876", X-Short: "tiny-hdr-1" }
        region: eu
        health_check: { interval_s: 30 }
      - { name: claude, kind: anthropic, api_key: "ant-key-short", max_tokens: 2048 }
      - { name: az, kind: azure, base_url: "https://res.openai.azure.example.test", api_key: "env:AZ_KEY" }
      - { name: sim, kind: mock, latency_ms: 20, seed: 7 }
    models:
      - name: chat
        balancing: weighted
        fallbacks: [small]
        context_window_fallbacks: [big]
        deployments:
          - { provider: openai, model: gpt-4o-mini, weight: 3, rpm: 500, max_concurrent: 8,
              price: { input: 0.15, output: 0.6, cached_input: 0.075 }, timeouts: { first_token_s: 20 },
              capabilities: { context_window: 128000, vision: false } }
          - { provider: claude, model: claude-haiku-4-5 }
      - { name: small, deployments: [ { provider: sim, model: sim-1 } ] }
      - { name: big, deployments: [ { provider: az, model: big-deploy } ] }
    routing: { retries: 1, backoff: { base_ms: 50, max_ms: 800 }, health: { failure_threshold: 3 } }
    router:
      models: [auto]
      rules:
        - { name: vip, when: { headers: { authorization: "Bearer rule-token-in-a-regex-8888" }, stream: true }, route: { model: big } }
        - { name: rest, route: { cheapest: [small, chat] } }
    guardrails:
      output: [{ name: mod, action: block, webhook: { url: "https://mod.example.test/check?token=webhook-query-secret-31", headers: { Authorization: "Bearer webhook-header-secret-long-4242" } } }]
    review: { mode: ticket }
    logging: { access_log: true, bodies: { enabled: true, max_bytes: 4096 } }
    tracing: { enabled: false, endpoint: "https://otel.example.test:4318", headers: { x-honeycomb-team: "hc-secret-header-value-5555" } }
    """

    @Test func masksFollowTheLengthRule() {
        #expect(ConfigReport.mask("0123456789abcdef") == "••••cdef")       // 16 characters: the last four
        #expect(ConfigReport.mask("0123456789abcde") == "••••")            // 15: nothing
        #expect(ConfigReport.mask("") == "••••")
        #expect(ConfigReport.maskURL("postgres://u:secret@h:5432/db") == "postgres://u:****@h:5432/db")
        #expect(ConfigReport.maskURL("postgres://u@h/db") == "postgres://u@h/db")
        #expect(ConfigReport.maskURL("https://h/x?token=abc&page=2") == "https://h/x?token=****&page=2")
        #expect(ConfigReport.maskURL("not a url with a secret-ish text") == "••••text")
    }

    /// The folder `TLSDIR` in the YAML stands for: the loader wants the TLS files readable (their contents are not read here).
    static let tlsDir: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-config-api-tls").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["cert.pem", "key.pem"] { _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("PEM".utf8)) }
        return dir
    }()

    /// Runs the gateway in process with `yaml`, its source shown as `source`.
    static func withConfigApp(_ yaml: String, source: String, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let text = yaml.replacingOccurrences(of: "TLSDIR", with: tlsDir)
        let config = try ConfigLoader.load(yaml: text, environment: ["AZ_KEY": "azure-key-from-env-0042"])
        let (transport, shutdown) = TransportKind.lean.make(config)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        var services = GatewayServices(config: config, storage: MemoryStorage(), transport: transport, logger: logger)
        services.configSource = source
        let app = Application(router: buildRouter(services), logger: logger)
        do {
            try await app.test(.router) { client in try await body(client) }
            try await shutdown()
        } catch {
            try? await shutdown()
            throw error
        }
    }

    static func get(_ client: any TestClientProtocol, key: String?) async throws -> TestResponse {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: "/admin/config", method: .get, headers: headers)
    }

    @Test func showsTheConfigurationWithEverySecretMasked() async throws {
        try await Self.withConfigApp(Self.yaml, source: "/etc/switchboard/gateway.yaml") { client in
            let response = try await Self.get(client, key: "master-0123456789-WXYZ")
            #expect(response.status == .ok)
            let text = response.text
            for secret in Self.secrets {
                #expect(!text.contains(secret), "a secret appears in the report")
                // Nothing but the last four characters of a long one, nothing at all of a short one.
                #expect(!text.contains(String(secret.dropLast(4))), "the start of a secret appears in the report")
            }
            let json = try response.json()
            #expect(json["source"] as? String == "/etc/switchboard/gateway.yaml")

            let auth = try #require(json["auth"] as? [String: Any])
            #expect(auth["master_key"] as? String == "••••WXYZ")
            #expect(auth["encryption_key"] as? String == "••••")
            #expect(auth["budget_alert_webhook"] as? String == "••••XYZ1")
            let keys = try #require(auth["static_keys"] as? [[String: Any]])
            #expect(keys.map { $0["name"] as? String } == ["ci", "tiny"])
            #expect(keys.map { $0["key"] as? String } == ["••••AB12", "••••"])
            #expect(keys[0]["models"] as? [String] == ["gpt-*"])

            let providers = try #require(json["providers"] as? [[String: Any]])
            #expect(providers.map { $0["name"] as? String } == ["openai", "claude", "az", "sim"])
            let openai = providers[0]
            #expect(openai["kind"] as? String == "openai" && openai["region"] as? String == "eu")
            #expect(openai["api_key"] as? String == "••••QRST")
            #expect(openai["headers"] as? [String: String] == ["X-Org-Token": "••••9876", "X-Short": "••••"])
            #expect(openai["base_url"] as? String == "https://proxy:****@llm.example.test/v1?api_key=****&tier=gold")
            #expect((openai["health_check"] as? [String: Any])?["interval_s"] as? Double == 30)
            #expect(providers[1]["api_key"] as? String == "••••" && providers[1]["max_tokens"] as? Int == 2048)
            #expect(providers[1]["base_url"] as? String == "https://api.anthropic.com")
            #expect(providers[2]["api_key"] as? String == "••••0042" && providers[2]["api_version"] as? String == "2024-10-21")
            #expect(providers[3]["api_key"] is NSNull && providers[3]["base_url"] is NSNull && providers[3]["latency_ms"] as? Int == 20)

            let models = try #require(json["models"] as? [[String: Any]])
            let chat = models[0]
            #expect(chat["name"] as? String == "chat" && chat["balancer"] as? String == "weighted")
            #expect(chat["fallbacks"] as? [String] == ["small"] && chat["context_window_fallbacks"] as? [String] == ["big"])
            #expect(models[1]["context_window_fallbacks"] == nil)
            let deployments = try #require(chat["deployments"] as? [[String: Any]])
            let first = deployments[0]
            #expect(first["provider"] as? String == "openai" && first["model"] as? String == "gpt-4o-mini" && first["weight"] as? Int == 3)
            #expect(first["limits"] as? [String: Int] == ["rpm": 500, "max_concurrent": 8])
            #expect(first["price"] as? [String: Double] == ["input_per_million_usd": 0.15, "output_per_million_usd": 0.6,
                                                            "cached_input_per_million_usd": 0.075])
            #expect(first["timeouts"] as? [String: Double] == ["first_token_s": 20])
            let caps = try #require(first["capabilities"] as? [String: Any])
            #expect(caps["context_window"] as? Int == 128_000 && caps["vision"] as? Bool == false)
            #expect(deployments[1]["limits"] as? [String: Int] == [:])

            #expect(json["storage"] as? [String: String] == ["kind": "postgres",
                                                             "url": "postgres://sbuser:****@db.internal:5432/switchboard?sslmode=require"])
            let server = try #require(json["server"] as? [String: Any])
            #expect(server["listen"] as? String == "127.0.0.1:9999" && server["max_in_flight"] as? Int == 64)
            let tls = try #require(server["tls"] as? [String: Any])
            #expect(tls["cert_file"] as? String == Self.tlsDir + "/cert.pem" && tls["key_file"] as? String == Self.tlsDir + "/key.pem")
            #expect(tls["client_ca_file"] is NSNull)
            let routing = try #require(json["routing"] as? [String: Any])
            #expect(routing["retries"] as? Int == 1 && (routing["backoff"] as? [String: Double]) == ["base_ms": 50, "max_ms": 800])
            #expect((routing["health"] as? [String: Any])?["failure_threshold"] as? Int == 3)
            let logging = try #require(json["logging"] as? [String: Any])
            #expect(logging["access_log"] as? Bool == true && (logging["bodies"] as? [String: Any])?["enabled"] as? Bool == true)
            let tracing = try #require(json["tracing"] as? [String: Any])
            #expect(tracing["headers"] as? [String: String] == ["x-honeycomb-team": "••••5555"] && tracing["enabled"] as? Bool == false)
            #expect((json["metrics"] as? [String: Bool]) == ["key_labels": false])
            let router = try #require(json["router"] as? [String: Any])
            #expect(router["models"] as? [String] == ["auto"] && router["expected_output_tokens"] as? Int == 256)
            let rules = try #require(router["rules"] as? [[String: Any]])
            #expect(rules.map { $0["name"] as? String } == ["vip", "rest"])
            #expect(rules[0]["when"] as? [String] == ["headers", "stream"] && rules[0]["route"] as? [String: String] == ["model": "big"])
            #expect(rules[1]["when"] as? [String] == [] && rules[1]["route"] as? [String: [String]] == ["cheapest": ["small", "chat"]])
            let output = try #require(((json["guardrails"] as? [String: Any])?["output"] as? [[String: Any]])?.first)
            let hook = try #require(output["webhook"] as? [String: Any])
            #expect(hook["url"] as? String == "https://mod.example.test/check?token=****" && hook["on_error"] as? String == "allow")
            #expect(hook["headers"] as? [String: String] == ["Authorization": "••••4242"])
            #expect((json["review"] as? [String: Any])?["mode"] as? String == "ticket" && json["waf"] != nil)
            #expect((json["responses"] as? [String: Any])?["retention_days"] as? Double == 30)
            #expect((json["batches"] as? [String: Any])?["concurrency"] as? Int == 4)
        }
    }

    @Test func needsAnAdminKey() async throws {
        try await Self.withConfigApp(Self.yaml, source: ConfigReport.demoSource) { client in
            let anonymous = try await Self.get(client, key: nil)
            #expect(anonymous.status == .unauthorized && anonymous.errorObject != nil)
            let user = try await Self.get(client, key: "sk-short1")
            #expect(user.status == .forbidden && user.errorObject?["message"] as? String != nil)
            #expect(!user.text.contains("sk-short1") && !anonymous.text.contains("master-0123456789"))
            let post = try await client.execute(uri: "/admin/config", method: .post, headers: [.authorization: "Bearer master-0123456789-WXYZ"])
            #expect(post.status == .methodNotAllowed)
        }
    }

    @Test func theDemoConfigurationSaysWhereItCameFrom() async throws {
        try await Self.withConfigApp(DemoConfig.yaml, source: ConfigReport.demoSource) { client in
            let json = try await Self.get(client, key: DemoConfig.adminKey).json()
            #expect(json["source"] as? String == "embedded demo configuration")
            #expect(json["storage"] as? [String: String] == ["kind": "sqlite", "path": "switchboard.db"])
            #expect((json["auth"] as? [String: Any])?["master_key"] as? String == "••••dmin")
        }
    }
}
