import AsyncHTTPClient
import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting
import SwitchboardStore

/// Everything the gateway's routes need, built from a configuration.
public struct GatewayServices: Sendable {
    /// The configuration the gateway started with (`reloader.config` is the one in force after a reload).
    public let config: GatewayConfig
    /// Where `config` came from, as `/admin/config` shows it and a reload re-reads it: the file's absolute path, or
    /// `ConfigReport.demoSource`.
    public var configSource: String {
        get { reloader.source }
        set { reloader.setSource(newValue) }
    }
    /// Re-reads the configuration on `SIGHUP` and `POST /admin/config/reload` (ConfigReload.swift).
    public let reloader: ConfigReloader
    /// The engine serving new requests (replaced whole by a configuration reload).
    let live: LiveGateway
    /// The engine for a request that starts now.
    var gateway: Gateway { live.gateway }
    public let storage: any Storage
    public let requestLog: RequestLogService
    let keys: KeyDirectory
    let keyService: KeyService
    /// The audit log's writer: key, team and credential changes here; review decisions call it too.
    public let auditor: Auditor
    /// Stored Responses API responses (`previous_response_id`, `GET`/`DELETE /v1/responses/{id}`).
    let responseStore: ResponseStore
    /// Active health checks (a service that does nothing when no provider has `health_check`).
    public let healthChecks: HealthCheckService
    /// `router.pricing`: live prices (nil: none configured).
    public let pricing: PricingService?
    /// Admission shared through PostgreSQL (nil with other storage).
    let sharedAdmission: PostgresAdmission?
    /// Counters and health gauges for `/metrics`; records pass through it to the request log.
    let metrics: GatewayMetrics
    /// Exports the spans of `tracing:` (nil when tracing is off); runs beside the server.
    public let tracingExporter: (any Service)?
    /// Provider keys stored through the admin API (sealed in storage, in clear only here).
    let credentials: CredentialOverrides
    /// `server.max_in_flight`'s queue (nil without a limit).
    var gatewayGate: PriorityGate? { gateway.gate }
    /// The queue of a model whose deployments all have `max_concurrent`.
    func modelGate(_ model: String) -> PriorityGate? { gateway.modelGates[model] }

    /// Builds the services around an upstream transport (owned by the caller).
    /// - Parameter clock: what the engine waits on (back-off, hedging, stream limits) and routing's health, caps and
    ///   balancers read, in milliseconds (tests inject a manual one).
    /// - Parameter wallClock: seconds since 1970 for key expiry, rate-limit windows and budget periods (tests inject one).
    public init(config: GatewayConfig, storage: any Storage, transport: any UpstreamTransport, logger: Logger,
                clock: any EngineClock = SystemEngineClock(), wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                metricsFactory: (any MetricsFactory)? = nil) {
        self.init(config: config, storage: storage, transport: transport, logger: logger, clock: clock, wallClock: wallClock,
                  metricsFactory: metricsFactory, extraStages: EngineStages())
    }

    /// The same, with stages added to the configured ones (request stages after them, response stages before them).
    init(config: GatewayConfig, storage: any Storage, transport: any UpstreamTransport, logger: Logger, clock: any EngineClock,
         wallClock: @escaping @Sendable () -> Double, metricsFactory: (any MetricsFactory)?, extraStages: EngineStages) {
        self.config = config
        self.storage = storage
        // Provider keys, by value: taken out of upstream errors and logged bodies.
        let scrubber = SecretScrubber(providers: config.providers)
        requestLog = RequestLogService(storage: storage, redactor: Redactor(config.logging.bodies), bodyLimit: config.logging.bodies.maxBytes,
                                       secrets: scrubber, logger: logger)
        let alerts = config.auth.budgetAlertWebhook.map { url in
            BudgetAlerter(url: url, logger: logger) { url, body in
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
                return Int(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status.code)
            }
        }
        // One process: exact admission in memory. PostgreSQL: shared by every replica, decided in the database.
        let admission: any AdmissionLedger
        if let pg = storage as? PostgresStorage {
            let shared = PostgresAdmission(storage: pg, logger: logger, onAlerts: { alerts?.send($0) })
            sharedAdmission = shared
            admission = shared
        } else {
            sharedAdmission = nil
            admission = LocalAdmission(storage: storage, now: wallClock)
        }
        credentials = CredentialOverrides(scrubber: scrubber)
        metrics = GatewayMetrics(wrapping: requestLog, config: config, log: requestLog, factory: metricsFactory)
        var tracing: GatewayTracing?
        do {
            if let (tracer, exporter) = try GatewayTracing.make(config.tracing, logger: logger) {
                tracing = tracer
                tracingExporter = exporter
            } else {
                tracingExporter = nil
            }
        } catch {
            logger.error("Tracing is off: the OTLP exporter could not be set up", metadata: ["error": "\(error)"])
            tracingExporter = nil
        }
        responseStore = ResponseStore(storage: storage, logger: logger, now: wallClock)
        let (desk, tracer, recorder, overrides) = (ReviewDesk(config: config.review, storage: storage, clock: clock, now: wallClock), tracing, metrics,
                                                   credentials)
        let responses = responseStore
        // The engine of a configuration around the shared services; a reload builds the next one with it.
        let make: @Sendable (GatewayConfig, Gateway?) -> Gateway = { cfg, previous in
            Gateway(config: cfg, transport: transport, recorder: recorder, clock: clock,
                admission: admission, alerts: alerts, credentials: overrides, tracing: tracer, scrubber: scrubber,
                extraStages: extraStages, geoip: cfg.router.geoip.flatMap { try? MaxMindDB(path: $0.database) },
                reviews: desk, responses: responses, previous: previous)
        }
        let gateway = make(config, nil)
        live = LiveGateway(gateway)
        let directory = KeyDirectory(auth: config.auth, storage: storage, ttl: config.auth.keyCacheSeconds, now: wallClock)
        keys = directory
        let auditFailures = CoreMetrics.Counter(label: "switchboard_audit_write_failures_total", factory: metrics.factory)
        auditor = Auditor(storage: storage, logger: logger, now: wallClock, onFailure: { auditFailures.increment() })
        keyService = KeyService(storage: storage, onChange: { id, team in directory.invalidate(keyID: id, team: team) }, now: wallClock,
                                auditor: auditor, isReserved: { directory.isStatic($0) })
        healthChecks = HealthCheckService(gateway: gateway, logger: logger)
        pricing = PricingService(config: config, table: gateway.table, transport: transport, wallClock: wallClock, logger: logger)
        reloader = ConfigReloader(config: config, live: live, make: make, keys: directory, metrics: metrics, healthChecks: healthChecks,
                                  pricing: pricing, scrubber: scrubber, wallClock: wallClock)
    }
}

/// The gateway's routes, in pipeline order.
public func buildRouter(_ services: GatewayServices) -> Router<GatewayRequestContext> { gatewayRoutes(services).router }

/// What the binary answers with: the router, and the client API's busiest routes found by their exact path first.
public func buildResponder(_ services: GatewayServices) -> GatewayResponder {
    let (router, direct) = gatewayRoutes(services)
    return GatewayResponder(router: router.buildResponder(), direct: direct)
}

/// The router, and the handlers `GatewayResponder` finds without it, behind the same middleware.
private func gatewayRoutes(_ services: GatewayServices) -> (router: Router<GatewayRequestContext>, direct: [String: GatewayResponder.Handler]) {
    // The request pipeline, in order (DESIGN §3):
    //  1. request id, JSON errors for everything (FrontMiddleware); body size limit (readBody)
    //  2. authenticate: key → identity (AuthMiddleware)
    //  then the request engine (Engine/, its steps numbered in Engine/Gateway.swift): identify, admit (limits,
    //  budgets, priority queues), request stages (guardrails, cache, rules: Engine/Stages.swift), plan, attempt with
    //  retries and fallbacks, hedge, relay through the response stages, record (request log, batched off the request
    //  path by RequestLogService).
    let router = Router(context: GatewayRequestContext.self)
    let routes: [String: [HTTPRequest.Method]] = [
        "/": [.get], "/healthz": [.get], "/readyz": [.get], "/metrics": [.get], "/ui": [.get],
        "/v1/chat/completions": [.post], "/v1/embeddings": [.post], "/v1/models": [.get], "/v1/models/*": [.get], "/v1/messages": [.post],
        "/v1/responses": [.post], "/v1/responses/*": [.get, .delete], "/v1/responses/*/input_items": [.get],
        "/v1/files": [.get, .post], "/v1/files/*": [.get, .delete], "/v1/files/*/content": [.get],
        "/v1/batches": [.get, .post], "/v1/batches/*": [.get], "/v1/batches/*/cancel": [.post], "/admin/config/reload": [.post],
        "/v1/messages/count_tokens": [.post], "/admin/health": [.get],
        "/admin/keys": [.get, .post], "/admin/keys/*": [.get, .patch, .delete], "/admin/keys/*/revoke": [.post],
        "/admin/keys/*/rotate": [.post], "/admin/teams": [.get, .post], "/admin/teams/*": [.get, .patch, .delete],
        "/admin/credentials": [.get], "/admin/credentials/*": [.put, .delete], "/admin/logs": [.get], "/admin/logs/*": [.get], "/admin/analytics": [.get],
        "/admin/config": [.get], "/admin/route/explain": [.post], "/admin/audit": [.get],
        "/v1/reviews/*": [.get], "/admin/reviews": [.get], "/admin/reviews/*": [.get], "/admin/reviews/*/approve": [.post], "/admin/reviews/*/reject": [.post],
    ]
    let client = ClientMiddleware(front: FrontMiddleware(routes: routes, accessLog: services.config.logging.accessLog),
                                  edge: services.config.waf.isActive ? EdgeMiddleware(waf: services.config.waf, metrics: services.metrics) : nil,
                                  auth: AuthMiddleware(keys: services.keys, metrics: services.metrics))
    let v1 = client.add(to: router)

    // `GET /`: where things are, for someone who opened the gateway's address in a browser or with curl.
    router.get("/") { _, _ in
        jsonResponse(#"{"name":"Switchboard","openai_base_url":"/v1","anthropic_base_url":"/","dashboard":"/ui","# +
                     #""health":"/healthz","ready":"/readyz","metrics":"/metrics"}"#)
    }
    router.get("/healthz") { _, _ in jsonResponse(#"{"status":"ok"}"#) }
    router.get("/ui") { _, _ in
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("content-security-policy")!] =
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        headers[HTTPField.Name("referrer-policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Dashboard.html)))
    }
    let health = HealthReport(live: services.live, pricing: services.pricing)
    router.get("/metrics") { _, _ in
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: services.metrics.render(health: health.snapshot()) + (services.pricing?.metricsText ?? ""))))
    }
    router.get("/readyz") { _, _ in
        do {
            try await services.storage.ping()
            return jsonResponse(#"{"status":"ready"}"#)
        } catch {
            return GatewayError.storageUnavailable.response()
        }
    }

    let limit = services.config.server.maxBodyBytes
    // `waf`'s body limits, checked by the parse that reads each request (no second pass).
    let bodyLimits = services.config.waf.body
    let live = services.live
    ClientRoutes.add(to: v1, live: live, limit: limit, bodyLimits: bodyLimits)
    BatchAPI.add(to: v1, services: services)
    ResponsesRoutes.add(to: v1, live: live, store: services.responseStore, limit: limit, bodyLimits: bodyLimits)
    let gateway = live.gateway
    // Admin API: the master key or a key with the admin role.
    let admin = router.group("admin").add(middleware: AuthMiddleware(keys: services.keys, metrics: services.metrics))
    admin.group("health").add(middleware: RoleMiddleware(.admin)).get { _, _ in jsonResponse(health.json()) }
    AdminAPI.add(to: admin, service: services.keyService, storage: services.storage)
    CredentialsAPI.add(to: admin, config: services.config, storage: services.storage, overrides: services.credentials, auditor: services.auditor)
    AuditAPI.add(to: admin, storage: services.storage)
    if let desk = gateway.reviews {
        ReviewAPI.add(reviewers: admin, desk: desk, auditor: services.auditor)
        ReviewAPI.add(clients: v1, desk: desk, live: live)
    }
    let requestLog = services.requestLog
    LogsAPI.add(to: admin, storage: services.storage, flush: { await requestLog.flush() })
    ConfigAPI.add(to: admin, reloader: services.reloader)
    RouteExplainAPI.add(to: admin, explainer: RouteExplainer(live: live), config: services.config,
                        service: services.keyService, limit: limit)
    let direct = ClientRoutes.direct(live: live, limit: limit, bodyLimits: bodyLimits).map { ("/v1/" + $0.path, client.direct($0.handler)) }
    return (router, Dictionary(uniqueKeysWithValues: direct))
}

/// Client headers providers may forward (Anthropic beta flags).
func passthroughHeaders(_ request: Request) -> [(name: String, value: String)] {
    guard let beta = request.headers.value(.anthropicBeta) else { return [] }
    return [("anthropic-beta", beta)]
}

/// The gateway's connections: HTTP/1 with its connection rules and requests dispatched straight to `responder`
/// (`DirectHTTP1Channel`), over TLS when `server.tls` is set.
func gatewayConnection<Responder: HTTPResponder>(_ config: GatewayConfig, responder: Responder, metrics: GatewayMetrics,
                                                 logger: Logger) throws -> any ServerChildChannel where Responder.Context == GatewayRequestContext {
    let http1 = DirectHTTP1Channel(responder: responder, idleTimeout: .seconds(75),
                                   requestTimeout: TimeAmount(Gateway.duration(config.server.requestTimeoutSeconds)),
                                   clientTimeout: config.waf.clientTimeoutSeconds.map { TimeAmount(Gateway.duration($0)) },
                                   refused: { metrics.refusedAtEdge($0) }, logger: logger)
    return try config.server.tls.map { try TLSChannel(http1, tlsConfiguration: serverTLS($0)) } ?? http1
}

/// Shuts the shared upstream clients down after the server has drained.
struct TransportService: Service {
    let transport: DefaultTransport
    func run() async throws {
        try? await gracefulShutdown()
        try await transport.shutdown()
    }
}

/// The TLS settings of `server.tls`: its certificate chain and key, and with `client_ca_file` client certificates
/// required and checked against that CA. Unreadable or invalid files are reported as configuration problems.
func serverTLS(_ tls: TLSConfig) throws -> TLSConfiguration {
    func problem(_ key: String, _ what: String, _ error: any Error) -> ConfigError {
        ConfigError(problems: [ConfigProblem(path: "server.tls.\(key)", message: "\(what): \(error)")])
    }
    let chain: [NIOSSLCertificate]
    do { chain = try NIOSSLCertificate.fromPEMFile(tls.certFile) } catch { throw problem("cert_file", "not a PEM certificate chain", error) }
    guard !chain.isEmpty else { throw ConfigError(problems: [ConfigProblem(path: "server.tls.cert_file", message: "no certificate in the file")]) }
    let key: NIOSSLPrivateKey
    do { key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem) } catch { throw problem("key_file", "not a PEM private key", error) }
    var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    c.minimumTLSVersion = .tlsv12
    if let ca = tls.clientCAFile {
        do { c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) } catch { throw problem("client_ca_file", "not a PEM certificate", error) }
        c.certificateVerification = .noHostnameVerification
    }
    return c
}

/// Keeps this replica's in-flight rows alive in PostgreSQL (every 5 s) and, on shutdown, writes the completions
/// still pending and gives back the slices of limits it holds.
struct AdmissionMaintenanceService: Service {
    let admission: PostgresAdmission
    let logger: Logger
    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await admission.maintain() } catch {
                logger.warning("Admission heartbeat failed", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
        }
        await admission.releaseLeases()
    }
}

/// Closes storage once everything else has stopped (it is the first service, so the last to stop).
struct StorageService: Service {
    let storage: any Storage
    func run() async throws {
        try? await gracefulShutdown()
        // Closed also when the group is cancelled (a server that could not start): in a task of its own, which the
        // cancellation does not reach, so no connection is left open.
        try await Task { try await storage.close() }.value
    }
}

/// Builds the whole application: storage opened and migrated, the upstream client, the request log, the server.
///
/// - Parameters:
///   - transport: replaces the real upstream client (tests); nil builds the default transport (the lean NIO client,
///     for http:// and https://).
///   - configSource: where `config` came from, for `/admin/config`: the file's absolute path, or
///     `ConfigReport.demoSource`.
///   - adjustReloaded: applied to every configuration a reload reads (`serve --listen` overrides `server.listen`).
///   - storage: replaces the storage the configuration names (tests).
///   - onServerRunning: called with the bound port once the server listens.
public func buildApplication(
    config: GatewayConfig,
    configSource: String = ConfigReport.inCodeSource,
    adjustReloaded: @escaping @Sendable (inout GatewayConfig) -> Void = { _ in },
    storage: (any Storage)? = nil,
    transport: (any UpstreamTransport)? = nil,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    // The GeoIP database and the difficulty model first, before anything that must be shut down, so that a missing or
    // malformed file stops the start with its reason.
    try ConfigReloader.checkRuntime(config)
    let store: any Storage
    if let storage {
        store = storage
    } else {
        store = try await openStorage(config.storage)
    }
    try await store.migrate()
    // Services stop in reverse order, after the server has drained: request log flush, HTTP client, storage.
    var extraServices: [any Service] = [StorageService(storage: store)]
    let upstream: any UpstreamTransport
    if let transport {
        upstream = transport
    } else {
        let client = DefaultTransport(connectTimeout: .milliseconds(Int64(config.routing.connectTimeoutSeconds * 1000)),
                                      idleTimeout: .milliseconds(Int64(config.routing.timeoutSeconds * 1000)))
        extraServices.append(TransportService(transport: client))
        upstream = client
    }
    var services = GatewayServices(config: config, storage: store, transport: upstream, logger: logger)
    services.configSource = configSource
    services.reloader.adjustEachLoad(adjustReloaded)
    // SIGHUP re-reads the file (the demo: itself); a configuration given in code has none.
    if configSource != ConfigReport.inCodeSource { extraServices.append(ConfigReloadSignalService(reloader: services.reloader, logger: logger)) }
    if let shared = services.sharedAdmission { extraServices.append(AdmissionMaintenanceService(admission: shared, logger: logger)) }
    if let key = config.auth.encryptionKey {
        let names = Set(config.providers.map(\.name))
        try await services.credentials.reload(from: store, key: key, providers: names, logger: logger)
        extraServices.append(CredentialRefreshService(overrides: services.credentials, storage: store, key: key, providers: names, logger: logger))
    }
    extraServices.append(services.requestLog)
    if let exporter = services.tracingExporter { extraServices.append(exporter) }
    extraServices.append(RetentionService.requestLog(store, days: config.logging.retentionDays, logger: logger))
    extraServices.append(RetentionService.auditLog(store, days: config.audit.retentionDays, logger: logger))
    extraServices.append(RetentionService.storedResponses(store, days: config.responses.retentionDays, logger: logger))
    extraServices.append(services.healthChecks)
    if let pricing = services.pricing { extraServices.append(pricing) }
    extraServices.append(contentsOf: BatchService.services(services, logger: logger))
    let responder = buildResponder(services)
    // Past `server.max_connections` (kept under the descriptor limit) the listener stops accepting: descriptors never
    // run out because of clients, and new connections wait in the kernel's backlog.
    let maxConnections = FileDescriptorLimit.connectionCap(config.server.maxConnections, logger: logger)
    return GatewayApplication(
        responder: responder,
        connection: try gatewayConnection(config, responder: responder, metrics: services.metrics, logger: logger),
        configuration: .init(address: .hostname(config.server.host, port: config.server.port), serverName: nil, backlog: 1024,
                             availableConnectionsDelegate: MaximumAvailableConnections(maxConnections, logger: logger)),
        host: config.server.host, port: config.server.port,
        services: extraServices,
        logger: logger,
        running: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }
    )
}
