import Hummingbird
import Logging
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting

/// The request engine: serves one request of a client's API from its parsed body to the last byte of its answer.
///
/// The steps, in order, each in its own file in this folder:
///  1. identify  (Identify.swift) — the request's record and spans begin; the model exists and the key may use it
///  2. admit     (Admit.swift) — the key's and team's limits and budgets; the priority queues
///  3. stages    (Stages.swift, Stages/) — request stages in their order: may rewrite, answer or refuse the request
///  4. plan      (Plan.swift) — the model's deployments and fallbacks as a plan of attempts
///  5. attempt   (Attempt.swift, Send.swift) — retries and fallbacks until the first byte, on the engine's clock
///  6. hedge     (Hedge.swift) — a twin attempt when the first is slow
///  7. relay     (Relay.swift) — the answer to the client through the response stages
///  8. record    (Record.swift) — usage, cost, latency and outcome to metrics, limits and the request log
/// Before step 1 the server has given the request an id, checked its size and authenticated its key (middleware);
/// `count_tokens` and the `/admin/health` report are rooms of their own beside the engine.
final class Gateway: Sendable {
    /// The configuration it was built from.
    let config: GatewayConfig
    /// Every public model with its deployments, policies and limits; health, caps and latency per deployment slot.
    let table: RoutingTable
    /// Every configured provider, by name (active health checks).
    let providers: [String: any Provider]
    /// The provider of each deployment slot of `table` (nil: a provider missing from the configuration).
    let slotProviders: [(any Provider)?]
    let routing: RoutingConfig
    /// `router.models`: names clients may ask for that a routing rule turns into a model.
    let virtualModels: [String]
    /// `router.expected_output_tokens`: output assumed for price limits when a request sets no `max_tokens`.
    let expectedOutputTokens: Int
    let stages: EngineStages
    /// What the engine waits on: back-off, hedging, first-token and total limits, the priority queues' timeout (and
    /// routing's books).
    let clock: any EngineClock
    let recorder: any UsageRecorder
    /// The recorder when it also keeps the metrics (its in-flight gauge counts requests as they start).
    let metrics: GatewayMetrics?
    /// Key and team limits (nil: nothing is limited, as in tests without storage).
    let admission: (any AdmissionLedger)?
    let alerts: BudgetAlerter?
    /// `server.max_in_flight` and the priority queue in front of it (nil: no limit).
    let gate: PriorityGate?
    /// Per model whose deployments all have `max_concurrent`: their sum, with a priority queue in front.
    let modelGates: [String: PriorityGate]
    /// Largest non-streamed upstream body the gateway reads.
    let maxResponseBytes = 64 << 20
    /// `logging.bodies.max_bytes` when bodies go into the request log.
    let bodyLimit: Int?
    /// OpenTelemetry spans (nil: tracing off).
    let tracing: GatewayTracing?
    /// Human review of held requests (nil: no storage for tickets, as in tests without it).
    let reviews: ReviewDesk?
    /// Takes provider keys and anything credential-shaped out of what upstreams say before a client sees it.
    let scrubber: SecretScrubber

    init(config: GatewayConfig, transport: any UpstreamTransport, recorder: any UsageRecorder, seed: UInt64 = .random(in: 0...UInt64.max),
         clock: any EngineClock = SystemEngineClock(), admission: (any AdmissionLedger)? = nil, alerts: BudgetAlerter? = nil,
         credentials: CredentialOverrides? = nil, tracing: GatewayTracing? = nil, scrubber: SecretScrubber? = nil,
         extraStages: EngineStages = EngineStages(), geoip: MaxMindDB? = nil, reviews: ReviewDesk? = nil, responses: ResponseStore? = nil, previous: Gateway? = nil) {
        self.config = config
        self.tracing = tracing
        self.reviews = reviews
        self.scrubber = scrubber ?? SecretScrubber(providers: config.providers)
        self.admission = admission
        self.alerts = alerts
        self.clock = clock
        bodyLimit = config.logging.bodies.enabled ? config.logging.bodies.maxBytes : nil
        // A reload keeps the queues whose settings did not change (ConfigReload.swift), with the requests holding them.
        let reusable = previous.map { Self.gatesUnchanged($0.config.server, config.server) } ?? false
        gate = reusable && previous?.config.server.maxInFlight == config.server.maxInFlight ? previous?.gate : config.server.maxInFlight > 0
            ? PriorityGate(capacity: config.server.maxInFlight, depth: config.server.queueDepth, timeoutSeconds: config.server.queueTimeoutSeconds,
                           clock: clock)
            : nil
        var modelGates: [String: PriorityGate] = [:]
        for m in config.models where !m.deployments.isEmpty && m.deployments.allSatisfy({ $0.limits.maxConcurrent != nil }) {
            if reusable, let kept = previous?.modelGates[m.name], previous?.config.models.first(where: { $0.name == m.name })
                .map({ Self.modelGateCapacity($0) == Self.modelGateCapacity(m) }) == true {
                modelGates[m.name] = kept
                continue
            }
            modelGates[m.name] = PriorityGate(capacity: m.deployments.reduce(0) { $0 + ($1.limits.maxConcurrent ?? 0) },
                                              depth: config.server.queueDepth, timeoutSeconds: config.server.queueTimeoutSeconds, clock: clock)
        }
        self.modelGates = modelGates
        var providers: [String: any Provider] = [:]
        for p in config.providers {
            // A provider's own CA bundle, if any, for its https:// upstream.
            let base: any UpstreamTransport = p.caFile.map { CABundleTransport(base: transport, caFile: $0) } ?? transport
            // Keys stored through the admin API replace the configured ones, request by request.
            if let credentials, let auth = AuthHeader.of(p.kind) {
                providers[p.name] = makeProvider(p, transport: CredentialTransport(base: base, provider: p.name, auth: auth, overrides: credentials))
            } else {
                providers[p.name] = makeProvider(p, transport: base)
            }
        }
        self.providers = providers
        table = RoutingTable(config: config, seed: seed, now: { clock.nowMs() })
        slotProviders = table.slotDeployments.map { providers[$0.provider] }
        var stages = EngineStages.make(config: config, table: table, geoip: geoip, transport: transport, responses: responses)
        stages.request += extraStages.request
        stages.response = extraStages.response + stages.response
        self.stages = stages
        routing = config.routing
        virtualModels = config.router.virtualModels
        expectedOutputTokens = config.router.expectedOutputTokens
        self.recorder = recorder
        metrics = recorder as? GatewayMetrics
    }

    /// Serves one request of the client's API end to end: the engine's steps in order.
    ///
    /// The steps are not inlined into one another (`@inline(never)`): an async function's frame holds every local of
    /// what is inlined into it, the frames of a call chain are allocated together on the request's task, and the
    /// connection's task keeps its deepest chain's memory for as long as the connection lives (each open stream
    /// held ~68 KB of task memory before, measured with `perf probe` on `swift_task_alloc`). For the same reason the
    /// steps are in two halves, each with a frame of its own: the first's is given back before the second's is taken.
    @inline(never)
    nonisolated(nonsending) func serve<API: ClientAPI>(_ api: API.Type, _ request: API.Request, identity: Identity, requestID: String,
                               clientHeaders: [(name: String, value: String)] = [], affinity: String? = nil,
                               traceHeaders: TraceHeaders = .init(), headers: HTTPFields = [:], clientAddress: String? = nil,
                               logger: Logger, reviewed: ReviewTicket? = nil) async -> Response {
        var call = Call<API>(request: request, identity: identity, requestID: requestID, clientHeaders: clientHeaders, affinity: affinity,
                             traceHeaders: traceHeaders, logger: logger, headers: headers, clientAddress: clientAddress)
        var exchange = Exchange(endpoint: API.endpoint(request), model: call.model, stream: API.isStream(request), identity: identity,
                                requestID: requestID)
        metrics?.started()
        if let response = await admitted(&call, &exchange, reviewed: reviewed) { return response }
        return await routed(call, &exchange)
    }

    /// Steps 1–2 (then 3–3½): nil when the request goes on to be routed, else the answer it gets.
    @inline(never)
    nonisolated(nonsending) private func admitted<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange, reviewed: ReviewTicket?) async -> Response? {
        // 1. identify
        if let error = identify(&call, into: &exchange) { return exchange.fail(error, api: API.self, recorder) }
        // 2. admit
        if let (error, headers) = await admit(call, &exchange) { return exchange.fail(error, api: API.self, recorder, headers: headers) }
        return await staged(&call, &exchange, reviewed: reviewed)
    }

    /// Steps 3–3½.
    @inline(never)
    nonisolated(nonsending) private func staged<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange, reviewed: ReviewTicket?) async -> Response? {
        // 3. request stages (for a request a reviewer let go, none holds it again)
        call.reviewed = reviewed != nil
        switch await stages.runRequest(&call, &exchange) {
        case .pass: break
        case .refuse(let error): return exchange.fail(error, api: API.self, recorder)
        case .answer(let response):
            exchange.finish(status: Int(response.status.code), usage: nil)
            exchange.emit(recorder)
            return response
        case .review(let reason):
            // 3½. review (Review.swift): a person decides
            if case .respond(let response) = await hold(&call, &exchange, reason: reason) { return response }
        }
        if let reviewed, let desk = reviews, case .respond(let response) = resume(reviewed, &call, &exchange, desk: desk) { return response }
        return nil
    }

    /// Steps 4–8.
    @inline(never)
    nonisolated(nonsending) private func routed<API: ClientAPI>(_ call: Call<API>, _ exchange: inout Exchange) async -> Response {
        // 4. plan
        guard var plan = plan(call) else { return exchange.fail(.unknownModel(call.model), api: API.self, recorder) }
        // 5. attempt (6. hedge inside)
        switch await attempts(call, plan: &plan, &exchange) {
        case .gaveUp(let error, let headers):
            return exchange.fail(error, api: API.self, recorder, headers: headers)
        case .answered(let result, let lease):
            // 7. relay (8. record when the answer ends)
            return await relay(call, result, lease: lease, &exchange)
        }
    }
}
