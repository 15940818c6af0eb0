// The configuration's root and its small sections: `server`, `storage`, `auth`, `routing`. Providers, models and
// observability (logging, metrics, tracing) have their own files.

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
    /// `router:` — virtual models and the rules that choose a request's model.
    public var router = RouterConfig()
    /// `waf:` — client networks allowed and denied, throttling of failed authentication.
    public var waf = WAFConfig()
    /// `guardrails:` — what may go upstream and come back (personal data).
    public var guardrails = GuardrailsConfig()
    /// `review:` — how requests held for a person wait for the decision.
    public var review = ReviewConfig()
    /// `audit:` — how long the audit log of admin actions is kept.
    public var audit = AuditConfig()
    /// `batches:` — the Files and Batch APIs, run by the gateway.
    public var batches = BatchesConfig()
    /// `responses:` — stored Responses API responses.
    public var responses = ResponsesConfig()

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
    /// `limits`: rpm, tpm, max_concurrent, budgets and per-model rates, as a managed key's, kept under the scope
    /// `static:NAME` (across replicas on PostgreSQL).
    public var limits: Limits

    public init(name: String, key: String, models: [String] = [], limits: Limits = .init()) {
        self.name = name
        self.key = key
        self.models = models
        self.limits = limits
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
