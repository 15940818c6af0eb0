/// The gateway's whole configuration, validated. Built by `ConfigLoader` from YAML; every field has a default
/// except the lists of providers and models.
public struct GatewayConfig: Sendable {
    public var server: ServerConfig
    public var storage: StorageLocation
    public var auth: AuthConfig
    public var providers: [ProviderConfig]
    public var models: [ModelConfig]
    public var routing: RoutingConfig
    public var logging = LoggingConfig()
    public var tracing = TracingConfig()
    public var metrics = MetricsConfig()

    public init(server: ServerConfig = .init(), storage: StorageLocation = .memory, auth: AuthConfig = .init(),
                providers: [ProviderConfig], models: [ModelConfig], routing: RoutingConfig = .init()) {
        self.server = server
        self.storage = storage
        self.auth = auth
        self.providers = providers
        self.models = models
        self.routing = routing
    }

    public func provider(named name: String) -> ProviderConfig? { providers.first { $0.name == name } }
}

/// `server:` — where and how the gateway listens.
public struct ServerConfig: Sendable, Equatable {
    /// `server.listen`, "HOST:PORT"; default "127.0.0.1:8080".
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// `server.max_body_bytes`; default 8 MiB. Larger request bodies get 413 without being read whole.
    public var maxBodyBytes: Int = 8 << 20
    /// `server.event_loop_threads`; 0 (default) means one per CPU core.
    public var eventLoopThreads: Int = 0
    /// `server.shutdown_grace_s`; default 30. How long in-flight requests may run on after SIGTERM/SIGINT.
    public var shutdownGraceSeconds: Double = 30
    /// `server.max_in_flight`: model requests served at once; beyond it they queue by priority class. 0 (default):
    /// no limit.
    public var maxInFlight: Int = 0
    /// `server.queue_depth`: requests that may wait for a place (all classes together); default 1024.
    public var queueDepth: Int = 1024
    /// `server.queue_timeout_s`: the longest a request waits for a place; default 30.
    public var queueTimeoutSeconds: Double = 30
    /// `server.tls`: HTTPS (and optionally client certificates); plain HTTP when nil.
    public var tls: TLSConfig?
    /// `server.max_connections`: client connections open at once; past it new connections are closed as soon as
    /// they are accepted (and the listener stops accepting while file descriptors run out). Default 10,000, lowered
    /// to what the process's file-descriptor limit allows.
    public var maxConnections: Int = 10_000
    /// `server.request_timeout_s`: the longest a client may take to send a request body; default 60. A slower one
    /// gets 408 and its connection is closed.
    public var requestTimeoutSeconds: Double = 60

    public init() {}
}

/// `logging:` — how the gateway writes its log, and how long it keeps the request log.
public struct LoggingConfig: Sendable, Equatable {
    public enum Format: String, Sendable { case text, json }
    /// `format`: `text` (default) or `json` (one object per line: time, level, label, message, metadata).
    public var format: Format = .text
    /// `access_log`: one `info` line per request (method, path, status, duration, request id, key name). Off by default.
    public var accessLog = false
    /// `request_log_retention_days`: request-log records older than this are deleted (hourly); 0 keeps them. Default 30.
    public var retentionDays: Double = 30
    /// `bodies`: request and response bodies in the request log. Off by default.
    public var bodies = BodyLogConfig()

    public init() {}
}

/// `logging.bodies`: keeps the first `max_bytes` of each request's and response's body in the request log, with
/// personal data and secrets replaced (`redact`, `patterns`) before they are written.
public struct BodyLogConfig: Sendable, Equatable {
    /// `enabled`: default false.
    public var enabled = false
    /// `max_bytes`: the most of each body kept; default 16 KiB.
    public var maxBytes = 16 << 10
    /// `redact`: what is replaced by `[REDACTED:KIND]`; default every kind.
    public var redact: [RedactionKind] = RedactionKind.allCases
    /// `patterns`: further regular expressions, each match replaced by `[REDACTED]`.
    public var patterns: [String] = []

    public init() {}
}

/// `metrics:` — what `/metrics` shows beyond its fixed series.
public struct MetricsConfig: Sendable, Equatable {
    /// `key_labels`: also count requests, tokens and cost per client key (label `key`: the key's name, so one series
    /// per key that sends traffic). Off by default: a gateway with many keys would grow many series.
    public var keyLabels = false

    public init() {}
}

/// `tracing:` — OpenTelemetry spans exported over OTLP/HTTP. Off by default. The standard `OTEL_EXPORTER_OTLP_*`
/// and `OTEL_TRACES_SAMPLER*` environment variables override these values.
public struct TracingConfig: Sendable, Equatable {
    public enum WireProtocol: String, Sendable, CaseIterable { case protobuf = "http/protobuf", json = "http/json" }
    /// `enabled`: default false.
    public var enabled = false
    /// `endpoint`: the collector's OTLP/HTTP traces URL; a URL without a path gets `/v1/traces`.
    /// Default `http://localhost:4318/v1/traces`.
    public var endpoint = "http://localhost:4318/v1/traces"
    /// `protocol`: `http/protobuf` (default) or `http/json`.
    public var wireProtocol = WireProtocol.protobuf
    /// `headers`: sent with every export (values may be `env:NAME`; never logged).
    public var headers: [String: String] = [:]
    /// `service_name`: the `service.name` resource attribute; default `switchboard`.
    public var serviceName = "switchboard"
    /// `sample_ratio`: share of new traces recorded (0–1, default 1); a client's `traceparent` decides for its own.
    public var sampleRatio = 1.0
    /// `export_interval_ms`: longest a finished span waits before it is sent; default 5000.
    public var exportIntervalMs = 5000
    /// `export_timeout_s`: default 10.
    public var exportTimeoutSeconds = 10.0
    /// `max_queue`: finished spans waiting for export; beyond it new ones are dropped. Default 2048.
    public var maxQueue = 2048

    public init() {}
}

/// `server.tls`: PEM files of the server's certificate chain and private key; with `client_ca_file`, clients must
/// present a certificate signed by that CA (mutual TLS).
public struct TLSConfig: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    public var clientCAFile: String?

    public init(certFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }
}

/// `storage:` — where state (request log, keys, teams, spend) lives. May be an `env:NAME` reference.
public enum StorageLocation: Sendable, Equatable, CustomStringConvertible {
    case memory
    case sqlite(path: String)
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`: shared by several replicas.
    case postgres(url: String)

    /// Never shows a password.
    public var description: String {
        switch self {
        case .memory: return "memory"
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let url):
            if let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"), let colon = url[scheme.upperBound..<at].firstIndex(of: ":") {
                return String(url[..<colon]) + ":***" + String(url[at...])
            }
            return url
        }
    }
}

/// `auth:` — who may call the gateway.
public struct AuthConfig: Sendable {
    /// The shortest `master_key` accepted.
    public static let minimumMasterKeyLength = 8
    /// `auth.master_key`: may use every model.
    public var masterKey: String?
    /// `auth.keys`: static client keys.
    public var keys: [StaticKey]
    /// `auth.encryption_key`: 32 bytes (base64, or 64 hex digits) that seal provider keys stored through the admin
    /// API (AES-256-GCM). Without it, the credentials API is off.
    public var encryptionKey: [UInt8]?
    /// `auth.budget_alert_webhook`: where budget soft-limit alerts are POSTed (JSON); none when nil.
    public var budgetAlertWebhook: String?
    /// `auth.key_cache_s`: how long a managed key looked up in storage is trusted before it is read again, so a
    /// change made elsewhere (another replica, the CLI) takes effect within it. Default 5.
    public var keyCacheSeconds: Double = 5

    public init(masterKey: String? = nil, keys: [StaticKey] = []) {
        self.masterKey = masterKey
        self.keys = keys
    }
}

/// One client key from `auth.keys`.
public struct StaticKey: Sendable {
    public var name: String
    public var key: String
    /// Public model names (globs with `*` and `?`) this key may use; empty means all.
    public var models: [String]

    public init(name: String, key: String, models: [String] = []) {
        self.name = name
        self.key = key
        self.models = models
    }
}

/// One entry of `providers:`.
public struct ProviderConfig: Sendable {
    public var name: String
    public var kind: ProviderKind
    /// `region`: a free-form tag (routing by region comes later).
    public var region: String?
    /// `health_check`: active probes (off when nil).
    public var healthCheck: HealthCheckConfig?

    public init(name: String, kind: ProviderKind, region: String? = nil, healthCheck: HealthCheckConfig? = nil) {
        self.name = name
        self.kind = kind
        self.region = region
        self.healthCheck = healthCheck
    }
}

public enum ProviderKind: Sendable {
    case openai(OpenAIProviderConfig)
    case anthropic(AnthropicProviderConfig)
    case azure(AzureProviderConfig)
    case gemini(GeminiProviderConfig)
    case mock(MockProviderConfig)

    public var name: String {
        switch self {
        case .openai: "openai"
        case .anthropic: "anthropic"
        case .azure: "azure"
        case .gemini: "gemini"
        case .mock: "mock"
        }
    }

    public static let names = ["openai", "anthropic", "azure", "gemini", "mock"]
}

/// `kind: gemini` — Google's Gemini API (generateContent).
public struct GeminiProviderConfig: Sendable {
    /// `base_url`; default "https://generativelanguage.googleapis.com" ("/v1beta/models/…" is appended).
    public var baseURL: String
    /// `api_key`, sent as `x-goog-api-key`.
    public var apiKey: String?
    /// `headers`: extra headers sent with every request.
    public var headers: [(name: String, value: String)]

    public init(baseURL: String = "https://generativelanguage.googleapis.com", apiKey: String? = nil, headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
    }
}

/// `kind: azure` — Azure OpenAI. A deployment's `model` is the Azure deployment name.
public struct AzureProviderConfig: Sendable {
    /// `base_url` (required): the resource endpoint, e.g. "https://my-resource.openai.azure.com".
    public var baseURL: String
    /// `api_key`, sent as `api-key`.
    public var apiKey: String?
    /// `api_version`: the `api-version` query parameter; default "2024-10-21".
    public var apiVersion: String
    /// `headers`: extra headers sent with every request.
    public var headers: [(name: String, value: String)]

    public init(baseURL: String, apiKey: String? = nil, apiVersion: String = "2024-10-21", headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.headers = headers
    }
}

/// `kind: anthropic` — Anthropic's Messages API (OpenAI requests are translated both ways).
public struct AnthropicProviderConfig: Sendable {
    /// `base_url`; default "https://api.anthropic.com" ("/v1/messages" is appended).
    public var baseURL: String
    /// `api_key`, sent as `x-api-key`.
    public var apiKey: String?
    /// `version`: the `anthropic-version` header; default "2023-06-01".
    public var version: String
    /// `max_tokens`: used when the client sets none (Anthropic requires one); default 4096.
    public var defaultMaxTokens: Int
    /// `headers`: extra headers sent with every request.
    public var headers: [(name: String, value: String)]

    public init(baseURL: String = "https://api.anthropic.com", apiKey: String? = nil, version: String = "2023-06-01",
                defaultMaxTokens: Int = 4096, headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.version = version
        self.defaultMaxTokens = defaultMaxTokens
        self.headers = headers
    }
}

/// `kind: openai` — any OpenAI-compatible server (OpenAI, OpenRouter, vLLM, Ollama, Groq, …).
public struct OpenAIProviderConfig: Sendable {
    /// `base_url`, e.g. "https://api.openai.com/v1"; paths like "/chat/completions" are appended. Default OpenAI's.
    public var baseURL: String
    /// `api_key`, sent as `Authorization: Bearer`; none when nil (local servers).
    public var apiKey: String?
    /// `headers`: extra headers sent with every request (values may be `env:` references).
    public var headers: [(name: String, value: String)]

    public init(baseURL: String = "https://api.openai.com/v1", apiKey: String? = nil, headers: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
    }
}

/// `kind: mock` — a simulated OpenAI-compatible provider, in process.
public struct MockProviderConfig: Sendable, Equatable {
    /// `latency_ms`: delay before the response head (and the whole non-streamed answer).
    public var latencyMs: Int = 0
    /// `ttft_ms`: for streams, delay from the head to the first token.
    public var ttftMs: Int = 0
    /// `tokens_per_s`: generation speed; 0 means instant.
    public var tokensPerSecond: Double = 0
    /// `error_rate`: fraction (0…1) of requests answered with HTTP 500 instead.
    public var errorRate: Double = 0
    /// `seed`: seeds the simulated randomness (error draws, generated text).
    public var seed: UInt64 = 0
    /// `completion_tokens`: tokens generated when the request sets no `max_tokens`/`max_completion_tokens`.
    public var completionTokens: Int = 16
    /// `embedding_dimensions`: length of embedding vectors when the request sets no `dimensions`.
    public var embeddingDimensions: Int = 64
    /// `api`: the wire format the simulated upstream speaks, `openai` (default), `anthropic` or `gemini`.
    public var api: MockAPI = .openai

    public init() {}
}

public enum MockAPI: String, Sendable, Equatable, CaseIterable {
    case openai, anthropic, gemini
}

/// One entry of `models:` — a public model name and the deployments that can serve it.
public struct ModelConfig: Sendable {
    public var name: String
    public var balancing: BalancingPolicyName
    public var deployments: [DeploymentConfig]
    /// `fallbacks`: models tried in order when every attempt on this one failed.
    public var fallbacks: [String] = []
    /// `context_window_fallbacks`: models tried when the prompt is too long for this one (default: `fallbacks`).
    public var contextWindowFallbacks: [String]?
    /// `content_policy_fallbacks`: models tried when a provider refuses the content (default: `fallbacks`).
    public var contentPolicyFallbacks: [String]?
    /// `retries`: overrides `routing.retries` for this model.
    public var retries: Int?
    /// `deadline_s`: overrides `routing.deadline_s` for this model.
    public var deadlineSeconds: Double?
    /// `hedge`: opt-in hedged requests.
    public var hedge: HedgeConfig?

    public init(name: String, balancing: BalancingPolicyName = .p2cEWMA, deployments: [DeploymentConfig]) {
        self.name = name
        self.balancing = balancing
        self.deployments = deployments
    }
}

/// `balancing:` — how a model's deployments share its traffic.
public enum BalancingPolicyName: String, Sendable, CaseIterable {
    /// Each deployment in turn.
    case roundRobin = "round-robin"
    /// In turn, in proportion to `weight` (smooth weighted round-robin).
    case weighted
    /// Uniformly at random.
    case random
    /// Fewest requests in flight ("least connections").
    case leastOutstanding = "least-outstanding"
    /// Power of two random choices on peak-EWMA time to first byte × requests in flight.
    case p2cEWMA = "p2c-ewma"
    /// Lowest peak-EWMA time to first byte.
    case lowestLatency = "lowest-latency"
    /// Cheapest by price.
    case leastCost = "least-cost"
    /// The same conversation to the same deployment (`x-switchboard-affinity` header, else `user`).
    case consistentHash = "consistent-hash"
}

/// One entry of `models[].deployments`.
public struct DeploymentConfig: Sendable {
    public var provider: String
    /// The model name the upstream knows.
    public var model: String
    public var weight: Int
    public var price: Price
    /// `capabilities`: what this deployment can do (defaults per provider kind, overridden key by key).
    public var capabilities: Capabilities
    /// `rpm`, `tpm`, `max_concurrent`.
    public var limits: DeploymentLimits
    /// `timeouts`.
    public var timeouts: DeploymentTimeouts

    public init(provider: String, model: String, weight: Int = 1, price: Price = .free, capabilities: Capabilities = Capabilities(),
                limits: DeploymentLimits = .init(), timeouts: DeploymentTimeouts = .init()) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.price = price
        self.capabilities = capabilities
        self.limits = limits
        self.timeouts = timeouts
    }
}

/// `routing:` — retries, deadlines, back-off, fallbacks, health and timeouts.
public struct RoutingConfig: Sendable, Equatable {
    /// `routing.retries`: further attempts on a model after the first, each on another deployment when one exists.
    /// Default 2. Fallback models get their own attempts.
    public var retries: Int = 2
    /// `routing.deadline_s`: the longest a request may spend on attempts, waits and fallbacks before its answer
    /// starts. Default 120.
    public var deadlineSeconds: Double = 120
    /// `routing.backoff`.
    public var backoff = BackoffConfig()
    /// `routing.default_fallback`: a model tried last for every model (not for itself).
    public var defaultFallback: String?
    /// `routing.health`.
    public var health = HealthPolicyConfig()
    /// `routing.timeout_s`: longest wait for an upstream's response head, and longest gap between stream chunks. Default 60.
    public var timeoutSeconds: Double = 60
    /// `routing.connect_timeout_s`: longest wait to open a connection to an upstream. Default 5.
    public var connectTimeoutSeconds: Double = 5
    /// `routing.total_timeout_s`: the longest one attempt may last, a streamed answer included, when its deployment
    /// sets no `timeouts.total_s`. Default 600: an upstream that drips a byte a second cannot hold a stream forever.
    public var totalTimeoutSeconds: Double = 600

    public init() {}
}
