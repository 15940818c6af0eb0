/// The configuration `switchboard serve` runs without `--config`: simulated providers only, no keys or network.
public enum DemoConfig {
    /// The client key the demo accepts (printed at start).
    public static let clientKey = "sk-switchboard-demo"
    /// The demo's master key, for the dashboard and the admin API (printed at start; a demo has nothing to protect).
    public static let adminKey = "sk-switchboard-admin"

    public static let yaml = """
    # Switchboard demo: two simulated providers with different speed and price, three public models, and `auto`,
    # a virtual model whose routing rules choose one of them for each request.
    server:
      listen: "127.0.0.1:8080"
    storage: "sqlite:switchboard.db"
    auth:
      master_key: "\(adminKey)"
      keys:
        - { name: demo, key: "\(clientKey)" }
    providers:
      - { name: sim-fast, kind: mock, latency_ms: 20, ttft_ms: 60, tokens_per_s: 250, completion_tokens: 24, seed: 1,
          health_check: { interval_s: 15 } }
      - { name: sim-cheap, kind: mock, latency_ms: 80, ttft_ms: 250, tokens_per_s: 60, completion_tokens: 24, seed: 2,
          health_check: { interval_s: 15 } }
    models:
      - name: demo
        balancing: round-robin
        deployments:
          - { provider: sim-fast, model: sim-fast-1, price: { input: 2.50, output: 10.00, cached_input: 1.25 } }
          - { provider: sim-cheap, model: sim-cheap-1, price: { input: 0.15, output: 0.60, cached_input: 0.075 } }
      - name: demo-fast
        fallbacks: [demo-cheap]
        deployments:
          - { provider: sim-fast, model: sim-fast-1, price: { input: 2.50, output: 10.00, cached_input: 1.25 } }
      - name: demo-cheap
        deployments:
          - { provider: sim-cheap, model: sim-cheap-1, price: { input: 0.15, output: 0.60, cached_input: 0.075 } }
    routing:
      retries: 2
      timeout_s: 60
      deadline_s: 120
    router:
      models: [auto]
      rules:
        - name: code-and-maths
          when: { model: auto, content: { regex: ["```", "(?i)\\\\b(prove|integral|derivative|algorithm|stack trace)\\\\b"] } }
          route: { model: demo-fast }
        - name: long-prompts
          when: { model: auto, prompt_tokens: { min: 2000 } }
          route: { tiers: [demo-fast, demo] }
        - name: everything-else
          when: { model: auto }
          route: { cheapest: [demo-fast, demo-cheap] }
    """
}
