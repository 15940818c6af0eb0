// `switchboard import litellm`: a LiteLLM proxy config converts into a configuration Switchboard loads, with the
// providers, models, fallbacks, limits and prices it had; the report names every path not carried over and never a
// secret; bad inputs are refused with a clear reason.
import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct LiteLLMImportTests {
    /// Several providers (OpenAI, Azure, Anthropic, Gemini, Vertex, Ollama, vLLM, Bedrock), env and literal keys,
    /// embeddings, router settings with fallbacks, general settings and things Switchboard has no use for.
    static let litellm = """
    model_list:
      - model_name: gpt-4o
        litellm_params:
          model: openai/gpt-4o
          api_key: os.environ/OPENAI_API_KEY
          rpm: 500
          tpm: 200000
          weight: 3
        model_info:
          id: gpt-4o-openai
          input_cost_per_token: 0.0000025
          output_cost_per_token: 0.00001
          max_input_tokens: 128000
      - model_name: gpt-4o
        litellm_params:
          model: azure/gpt-4o-eu
          api_base: https://contoso-eu.openai.azure.com/
          api_key: os.environ/AZURE_API_KEY_EU
          api_version: "2024-08-01-preview"
          rpm: 300
          weight: 1
          timeout: 30
          stream_timeout: 10
      - model_name: gpt-4o-mini
        litellm_params:
          model: gpt-4o-mini
          api_key: os.environ/OPENAI_API_KEY
          max_parallel_requests: 20
      - model_name: claude-sonnet
        litellm_params:
          model: anthropic/claude-sonnet-4-5
          api_key: sk-ant-literal-secret-123
          order: 1
      - model_name: gemini-flash
        litellm_params:
          model: gemini/gemini-2.5-flash
          api_key: os.environ/GEMINI_API_KEY
      - model_name: gemini-pro
        litellm_params:
          model: vertex_ai/gemini-2.5-pro
          vertex_project: my-project
          vertex_location: us-central1
      - model_name: llama
        litellm_params:
          model: ollama/llama3.1:8b
          api_base: http://localhost:11434
          temperature: 0.2
      - model_name: llama
        litellm_params:
          model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
          api_base: http://10.0.0.7:8000
      - model_name: embed
        litellm_params:
          model: openai/text-embedding-3-small
          api_key: os.environ/OPENAI_API_KEY
        model_info:
          mode: embedding
          input_cost_per_token: 0.00000002
      - model_name: titan
        litellm_params:
          model: bedrock/amazon.titan-text-express-v1
          aws_access_key_id: AKIA-secret-value
    router_settings:
      routing_strategy: simple-shuffle
      num_retries: 3
      timeout: 300
      allowed_fails: 3
      cooldown_time: 45
      fallbacks: [{"gpt-4o": ["claude-sonnet", "titan"]}, {"gpt-4o-mini": ["gpt-4o"]}]
      context_window_fallbacks: [{"gpt-4o-mini": ["gemini-flash"]}]
      redis_host: redis.internal
      redis_password: redis-secret-pw
    litellm_settings:
      num_retries: 5
      drop_params: true
      callbacks: ["langfuse"]
      cache: true
      default_fallbacks: ["claude-sonnet"]
    general_settings:
      master_key: os.environ/LITELLM_MASTER_KEY
      database_url: postgresql://llm:db-secret-pw@db.internal:5432/litellm
      alerting: ["slack"]
      store_model_in_db: true
    environment_variables:
      LANGFUSE_SECRET_KEY: lf-secret-value
    """

    static let environment = ["OPENAI_API_KEY": "sk-openai-test", "AZURE_API_KEY_EU": "azure-test", "GEMINI_API_KEY": "gemini-test",
                              "LITELLM_MASTER_KEY": "sk-master-key-long-enough"]

    /// The converted configuration as Switchboard loads it; a problem fails the test with every message.
    func load(_ result: LiteLLMImportResult, environment: [String: String] = Self.environment) throws -> GatewayConfig {
        do {
            return try ConfigLoader.load(yaml: result.yaml, environment: environment)
        } catch {
            Issue.record("the converted config does not load:\n\(error)\n---\n\(result.yaml)")
            throw error
        }
    }

    @Test func realisticConfigLoadsWithItsProvidersModelsAndSettings() throws {
        let result = try LiteLLMImport.convert(yaml: Self.litellm)
        let config = try load(result)

        #expect(config.providers.map(\.name) == ["openai", "azure-contoso-eu", "anthropic", "gemini", "ollama", "vllm"])
        #expect(result.environmentVariables == ["AZURE_API_KEY_EU", "GEMINI_API_KEY", "LITELLM_MASTER_KEY", "OPENAI_API_KEY"])
        guard case .azure(let azure) = config.providers[1].kind, case .anthropic(let claude) = config.providers[2].kind,
              case .openai(let ollama) = config.providers[4].kind, case .openai(let vllm) = config.providers[5].kind else {
            Issue.record("unexpected provider kinds: \(config.providers.map(\.kind.name))")
            return
        }
        #expect(azure.baseURL == "https://contoso-eu.openai.azure.com" && azure.apiVersion == "2024-08-01-preview" && azure.apiKey == "azure-test")
        #expect(claude.apiKey == "sk-ant-literal-secret-123")
        #expect(ollama.baseURL == "http://localhost:11434/v1" && ollama.apiKey == nil)
        #expect(vllm.baseURL == "http://10.0.0.7:8000/v1")

        #expect(config.models.map(\.name) == ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "gemini-flash", "gemini-pro", "llama", "embed"])
        let gpt4o = config.models[0]
        #expect(gpt4o.balancing == .weighted)
        #expect(gpt4o.deployments.map(\.provider) == ["openai", "azure-contoso-eu"])
        #expect(gpt4o.deployments.map(\.model) == ["gpt-4o", "gpt-4o-eu"])
        #expect(gpt4o.deployments.map(\.weight) == [3, 1])
        #expect(gpt4o.deployments[0].limits == DeploymentLimits(rpm: 500, tpm: 200_000))
        #expect(gpt4o.deployments[0].price == Price(input: 2.5, output: 10))
        #expect(gpt4o.deployments[0].capabilities.contextWindow == 128_000)
        #expect(gpt4o.deployments[1].timeouts == DeploymentTimeouts(firstTokenSeconds: 30, idleSeconds: 10, totalSeconds: 30))
        #expect(gpt4o.fallbacks == ["claude-sonnet"])
        #expect(config.models[1].deployments[0].limits.maxConcurrent == 20)
        #expect(config.models[1].fallbacks == ["gpt-4o"] && config.models[1].contextWindowFallbacks == ["gemini-flash"])
        #expect(config.models[4].deployments[0].provider == "gemini" && config.models[4].deployments[0].model == "gemini-2.5-pro")
        #expect(config.models[5].balancing == .random)
        #expect(config.models[5].deployments.map(\.model) == ["llama3.1:8b", "meta-llama/Llama-3.1-8B-Instruct"])
        #expect(config.models[6].deployments[0].price == Price(input: 0.02, output: 0))

        #expect(config.routing.retries == 3)
        #expect(config.routing.timeoutSeconds == 300 && config.routing.totalTimeoutSeconds == 300 && config.routing.deadlineSeconds == 300)
        #expect(config.routing.health.failureThreshold == 4)
        #expect(config.routing.health.ejectionSeconds == 45 && config.routing.health.maxEjectionSeconds == 45)
        #expect(config.routing.defaultFallback == "claude-sonnet")
        #expect(config.auth.masterKey == "sk-master-key-long-enough")
        #expect(config.storage == .postgres(url: "postgresql://llm:db-secret-pw@db.internal:5432/litellm"))
    }

    @Test func reportNamesEveryPathNotCarriedOver() throws {
        let paths = Set(try LiteLLMImport.convert(yaml: Self.litellm).notes.map(\.path))
        for path in ["model_list[0].model_info.id", "model_list[1].litellm_params.stream_timeout", "model_list[0].litellm_params.rpm",
                     "model_list[3].litellm_params.api_key", "model_list[3].litellm_params.order", "model_list[5].litellm_params.model",
                     "model_list[6].litellm_params.temperature", "model_list[9].litellm_params.model",
                     "router_settings.fallbacks[0].gpt-4o", "router_settings.redis_host",
                     "router_settings.redis_password", "router_settings.allowed_fails", "litellm_settings.num_retries",
                     "litellm_settings.drop_params", "litellm_settings.callbacks", "litellm_settings.cache", "general_settings.alerting",
                     "general_settings.store_model_in_db", "environment_variables.LANGFUSE_SECRET_KEY"] {
            #expect(paths.contains(path), "no note for \(path)")
        }
    }

    @Test func reportNeverContainsASecret() throws {
        let result = try LiteLLMImport.convert(yaml: Self.litellm)
        let report = result.notes.map(\.description).joined(separator: "\n")
        for secret in ["sk-ant-literal-secret-123", "AKIA-secret-value", "redis-secret-pw", "db-secret-pw", "lf-secret-value"] {
            #expect(!report.contains(secret), "the report shows \(secret)")
        }
        #expect(result.yaml.contains("sk-ant-literal-secret-123"), "a literal key is carried into the operator's file")
        #expect(!result.yaml.contains("lf-secret-value") && !result.yaml.contains("AKIA-secret-value"))
    }

    @Test func conversionIsDeterministic() throws {
        let first = try LiteLLMImport.convert(yaml: Self.litellm)
        let second = try LiteLLMImport.convert(yaml: Self.litellm)
        #expect(first.yaml == second.yaml && first.notes == second.notes)
    }

    @Test(arguments: [("simple-shuffle", BalancingPolicyName.random), ("least-busy", .leastOutstanding),
                      ("latency-based-routing", .lowestLatency), ("cost-based-routing", .leastCost),
                      ("usage-based-routing-v2", .leastOutstanding), ("no-such-strategy", .p2cEWMA)])
    func routingStrategies(strategy: String, balancing: BalancingPolicyName) throws {
        let result = try LiteLLMImport.convert(yaml: """
            model_list:
              - { model_name: chat, litellm_params: { model: openai/gpt-4o-mini } }
              - { model_name: chat, litellm_params: { model: anthropic/claude-haiku-4-5 } }
            router_settings: { routing_strategy: \(strategy) }
            """)
        #expect(try load(result, environment: ["OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"]).models[0].balancing == balancing)
        let noted = result.notes.contains { $0.path == "router_settings.routing_strategy" }
        #expect(noted == ["usage-based-routing-v2", "no-such-strategy"].contains(strategy))
    }

    /// simple-shuffle weighs by rpm when every deployment sets it; fractional weights keep their proportions.
    @Test func weightsFromRPMAndFractions() throws {
        let result = try LiteLLMImport.convert(yaml: """
            model_list:
              - { model_name: a, litellm_params: { model: gpt-4o, api_key: k, rpm: 600 } }
              - { model_name: a, litellm_params: { model: gpt-4o, api_key: k2, rpm: 200 } }
              - { model_name: b, litellm_params: { model: gpt-4o, api_key: k, weight: 0.75 } }
              - { model_name: b, litellm_params: { model: gpt-4o, api_key: k2, weight: 0.25 } }
            """)
        let config = try load(result)
        #expect(config.providers.map(\.name) == ["openai", "openai-2"])
        #expect(config.models.map { $0.deployments.map(\.weight) } == [[3, 1], [3, 1]])
        #expect(config.models.map(\.balancing) == [.weighted, .weighted])
    }

    /// Names and models with YAML's special characters are quoted so they read back the same.
    @Test func awkwardNamesSurviveTheRoundTrip() throws {
        let result = try LiteLLMImport.convert(yaml: #"""
            model_list:
              - model_name: "team: \"special\" #1"
                litellm_params: { model: "openai/weird: model # x", api_base: "http://127.0.0.1:8000/v1" }
            """#)
        let config = try load(result, environment: [:])
        #expect(config.models[0].name == #"team: "special" #1"#)
        #expect(config.models[0].deployments[0].model == "weird: model # x")
        #expect(config.providers[0].name == "local")
    }

    /// An Azure api_base from the environment is read while importing; when it is not set, a placeholder and a note.
    @Test func azureBaseFromEnvironment() throws {
        let yaml = """
            model_list:
              - { model_name: a, litellm_params: { model: azure/dep, api_base: os.environ/AZURE_API_BASE, api_key: os.environ/AZURE_API_KEY } }
            general_settings: { master_key: sk-1234 }
            """
        let known = try LiteLLMImport.convert(yaml: yaml, environment: ["AZURE_API_BASE": "https://res.openai.azure.com/"])
        #expect(known.yaml.contains(#"base_url: "https://res.openai.azure.com""#))
        #expect(try load(known, environment: ["AZURE_API_KEY": "k"]).providers[0].name == "azure-res")
        #expect(known.notes.contains { $0.path == "general_settings.master_key" && $0.message.contains("shorter") })
        #expect(!known.yaml.contains("sk-1234"))
        let unknown = try LiteLLMImport.convert(yaml: yaml)
        #expect(unknown.yaml.contains(#"base_url: "https://set-azure-api-base.invalid""#))
        #expect(unknown.notes.contains { $0.path == "model_list[0].litellm_params.api_base" && $0.message.contains("replace it") })
    }

    /// docs/migrating.md's example: its LiteLLM file converts into exactly the configuration and report it shows.
    @Test func documentedExampleIsExact() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/migrating.md"), encoding: .utf8)
        func between(_ start: String, _ end: String, after: String = "") throws -> String {
            let from = after.isEmpty ? doc.startIndex : try #require(doc.range(of: after), "no \(after) in docs/migrating.md").upperBound
            let open = try #require(doc.range(of: start, range: from..<doc.endIndex), "no \(start) in docs/migrating.md")
            let close = try #require(doc.range(of: end, range: open.upperBound..<doc.endIndex))
            return String(doc[open.upperBound..<close.lowerBound])
        }
        let input = try between("cat > litellm.yaml <<'EOF'\n", "EOF\n")
        let shown = try between("```yaml\n", "```\n", after: "<!-- docs-check: config as switchboard.yaml -->")
        let printed = try between("```text\n", "```\n", after: "prints the report")
        let result = try LiteLLMImport.convert(yaml: input)
        #expect(result.yaml == shown)
        #expect(printed.split(separator: "\n").filter { $0.hasPrefix("  ") }.map(String.init) == result.notes.map { "  \($0)" })
    }

    @Test(arguments: [("model_list:\n  - model_name: a\n    litellm_params: x\n     api_key: y\n", "not valid YAML: line 4"),
                      ("general_settings: { master_key: x }\n", "no model_list"),
                      ("model_list: []\n", "non-empty list"),
                      ("just text\n", "expected a mapping"),
                      ("model_list:\n  - { model_name: b, litellm_params: { model: bedrock/titan } }\n", "no model of model_list")])
    func badInputsAreRefused(yaml: String, reason: String) {
        let error = #expect(throws: LiteLLMImportError.self) { _ = try LiteLLMImport.convert(yaml: yaml) }
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "no error")")
    }
}
