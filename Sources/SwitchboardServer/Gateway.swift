import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting
import Tracing

/// A deployment ready to call: its provider, the upstream's model name, prices and time limits.
struct DeploymentRoute: Sendable {
    let provider: any Provider
    let upstreamModel: String
    let price: Price
    let timeouts: DeploymentTimeouts
}

/// A public model: its deployments as the gateway calls them, and as routing sees them.
struct ModelRoute: Sendable {
    let name: String
    /// Its balancing policy, as configured.
    let policy: String
    let deployments: [DeploymentRoute]
    let routed: RoutedModel
}

/// What one attempt came to before anything reached the client.
enum AttemptResult: Sendable {
    /// A stream whose first chunk arrived (nil: it ended at once). Its attempt span (tracing on) ends with the stream.
    case streaming(UpstreamResponse, first: ByteBuffer?, rest: IteratorBox, ttftMs: Double, span: (any Span)? = nil)
    /// A whole non-streamed answer: a JSON object whose usage (when it has one) is plausible.
    case complete(UpstreamResponse, body: ByteBuffer, usage: Usage?, latencyMs: Double)
    /// No answer: what the client would get, and what routing makes of it.
    case failed(GatewayError, RoutePlan.Failure)
}

/// What an attempt needs for tracing: the request's span (tracing on), the client's trace context (passed on when
/// tracing is off) and the attempt's number.
struct AttemptTrace: Sendable {
    var parent: (any Span)?
    var client: TraceHeaders
    var number: Int
}

/// The proxying engine: plans each request's attempts (routing table), calls providers, retries and falls back
/// before the first byte, hedges slow attempts, relays the answer, and hands a record of every request to the recorder.
final class Gateway: Sendable {
    let models: [String: ModelRoute]
    /// Every configured provider, by name.
    let providers: [String: any Provider]
    /// Public model names in configuration order (for `/v1/models`).
    let modelNames: [String]
    let routing: RoutingConfig
    let table: RoutingTable
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
    /// Takes provider keys and anything credential-shaped out of what upstreams say before a client sees it.
    let scrubber: SecretScrubber

    /// Milliseconds since the gateway started: the routing table's clock.
    let clockStart = ContinuousClock.now

    init(config: GatewayConfig, transport: any UpstreamTransport, recorder: any UsageRecorder, seed: UInt64 = .random(in: 0...UInt64.max),
         clock: (@Sendable () -> Double)? = nil, admission: (any AdmissionLedger)? = nil, alerts: BudgetAlerter? = nil,
         credentials: CredentialOverrides? = nil, tracing: GatewayTracing? = nil, scrubber: SecretScrubber? = nil) {
        self.tracing = tracing
        self.scrubber = scrubber ?? SecretScrubber(providers: config.providers)
        self.admission = admission
        self.alerts = alerts
        bodyLimit = config.logging.bodies.enabled ? config.logging.bodies.maxBytes : nil
        gate = config.server.maxInFlight > 0
            ? PriorityGate(capacity: config.server.maxInFlight, depth: config.server.queueDepth, timeoutSeconds: config.server.queueTimeoutSeconds)
            : nil
        var modelGates: [String: PriorityGate] = [:]
        for m in config.models where !m.deployments.isEmpty && m.deployments.allSatisfy({ $0.limits.maxConcurrent != nil }) {
            modelGates[m.name] = PriorityGate(capacity: m.deployments.reduce(0) { $0 + $1.limits.maxConcurrent! },
                                              depth: config.server.queueDepth, timeoutSeconds: config.server.queueTimeoutSeconds)
        }
        self.modelGates = modelGates
        var providers: [String: any Provider] = [:]
        for p in config.providers {
            // Keys stored through the admin API replace the configured ones, request by request.
            if let credentials, let (header, prefix) = CredentialTransport.header(for: p.kind) {
                providers[p.name] = makeProvider(p, transport: CredentialTransport(base: transport, provider: p.name, header: header,
                                                                                  prefix: prefix, overrides: credentials))
            } else {
                providers[p.name] = makeProvider(p, transport: transport)
            }
        }
        let start = clockStart
        table = RoutingTable(config: config, seed: seed, now: clock ?? { Trace.ms(ContinuousClock.now - start) })
        var models: [String: ModelRoute] = [:]
        for m in config.models {
            let deployments = m.deployments.compactMap { d in
                providers[d.provider].map { provider in
                    // Every attempt ends at some point: `routing.total_timeout_s` when the deployment sets no total.
                    var timeouts = d.timeouts
                    timeouts.totalSeconds = timeouts.totalSeconds ?? config.routing.totalTimeoutSeconds
                    return DeploymentRoute(provider: provider, upstreamModel: d.model, price: d.price, timeouts: timeouts)
                }
            }
            models[m.name] = ModelRoute(name: m.name, policy: m.balancing.rawValue, deployments: deployments, routed: table.models[m.name]!)
        }
        self.models = models
        self.providers = providers
        modelNames = config.models.map(\.name)
        routing = config.routing
        self.recorder = recorder
        metrics = recorder as? GatewayMetrics
    }

    /// Serves one request of the client's API end to end.
    func serve<API: ClientAPI>(_ api: API.Type, _ request: API.Request, identity: Identity, requestID: String,
                               clientHeaders: [(name: String, value: String)] = [], affinity: String? = nil,
                               traceHeaders: TraceHeaders = .init(), logger: Logger) async -> Response {
        let modelName = API.model(request)
        var trace = Trace(endpoint: API.endpoint(request), model: modelName, stream: API.isStream(request), identity: identity, requestID: requestID)
        trace.spans = tracing.map {
            RequestSpans($0.requestSpan(operation: API.endpoint(request) == "embeddings" ? "embeddings" : "chat",
                                        model: models[modelName] == nil ? "unknown" : modelName,
                                        requestID: requestID, client: traceHeaders, identity: identity))
        }
        if let bodyLimit {
            trace.bodyLimit = bodyLimit
            trace.record.requestBody = Trace.prefix(API.body(request), bodyLimit)
        }
        metrics?.started()
        guard models[modelName] != nil else { return trace.fail(.unknownModel(modelName), api: API.self, recorder) }
        guard identity.allows(model: modelName) else {
            return trace.fail(GatewayError(status: 403, type: "invalid_request_error", code: "model_not_allowed",
                                           message: "Your key may not use the model '\(modelName)'.", param: "model"), api: API.self, recorder)
        }
        // Admission: the key's and its team's rate limits, concurrency and budgets, all or nothing.
        let checks = identity.admissionChecks(model: modelName)
        if !checks.isEmpty, let admission {
            let needs = API.needs(request)
            let charge = AdmissionCharge(tokens: needs.estimatedPromptTokens + (needs.maxOutputTokens ?? 0),
                                         reserveUSD: reservation(model: modelName, needs: needs))
            do {
                switch try await admission.admit(checks, charge: charge) {
                case .refused(let refusal):
                    let (error, headers) = refusal.error(identity)
                    return trace.fail(error, api: API.self, recorder, headers: headers)
                case .admitted(let grant):
                    trace.ticket = AdmissionTicket(grant: grant, ledger: admission, checks: checks, alerts: alerts)
                }
            } catch {
                logger.error("Admission failed: storage unreachable", metadata: ["request.id": "\(requestID)", "error.type": "\(type(of: error))"])
                return trace.fail(GatewayError(status: 503, type: "server_error", code: "storage_unavailable",
                                               message: "Limits could not be checked: storage is not reachable.", retryAfterSeconds: 1),
                                  api: API.self, recorder)
            }
        }
        // Priority: when the gateway is at `server.max_in_flight`, requests queue by their key's class; the
        // lowest classes are shed first.
        // The same for a model whose deployments all have `max_concurrent`: at most their sum in flight, the
        // rest queued by priority.
        for (gate, what) in [(gate, "The gateway is"), (modelGates[modelName], "The deployments of '\(modelName)' are")] {
            guard let gate else { continue }
            switch await gate.enter(identity.priority) {
            case .entered(let permit):
                trace.permits.append(permit)
            case .shed(let how):
                if Task.isCancelled { return trace.fail(.clientClosed, api: API.self, recorder) }
                let why = how == .timedOut ? "no place within \(String(format: "%g", gate.timeoutSeconds)) s"
                                           : "the queue is full of requests of the same or a higher priority"
                return trace.fail(GatewayError(status: 503, type: "server_error", code: "overloaded",
                                               message: "\(what) at capacity; this \(identity.priority.rawValue) request was shed (\(why)). Try again later.",
                                               retryAfterSeconds: 1), api: API.self, recorder)
            }
        }
        // Only deployments that can serve the request (capabilities, context window), are healthy and have room
        // under their caps are tried; see RoutePlan for the order of retries and fallbacks.
        guard var plan = table.plan(model: modelName, needs: API.needs(request), affinityKey: affinity ?? API.affinityKey(request),
                                    allows: { identity.allows(model: $0) }) else {
            return trace.fail(.unknownModel(modelName), api: API.self, recorder)
        }
        var failure: GatewayError?
        while true {
            let lease: AttemptLease
            switch plan.next() {
            case .wait(let ms):
                try? await Task.sleep(for: .milliseconds(Int64(ms.rounded(.up))))
                if Task.isCancelled { return trace.fail(.clientClosed, api: API.self, recorder) }
                continue
            case .exhausted(let why):
                let error = exhaustedError(why, last: failure, model: modelName, plan: plan)
                return trace.fail(error, api: API.self, recorder, headers: trace.headers(modelName: plan.current.name))
            case .attempt(let l):
                lease = l
            }
            if lease.delayMs > 0 {
                try? await Task.sleep(for: .milliseconds(Int64(lease.delayMs.rounded(.up))))
                if Task.isCancelled { lease.abandon(); return trace.fail(.clientClosed, api: API.self, recorder) }
            }
            let hedgeAfter = table.hedgeDelayMs(lease.model, slot: lease.slot)
            let attemptTrace = AttemptTrace(parent: trace.spans?.request, client: traceHeaders, number: trace.record.attempts + 1)
            let (result, winner) = hedgeAfter == nil
                ? (await attempt(API.self, request, lease, plan: plan, requestID: requestID, clientHeaders: clientHeaders, trace: attemptTrace), lease)
                : await hedged(API.self, request, lease, plan: &plan, afterMs: hedgeAfter!, trace: &trace, requestID: requestID,
                               clientHeaders: clientHeaders, attemptTrace: attemptTrace)
            let route = models[winner.model.name]!
            let deployment = route.deployments[winner.deployment]
            trace.attempt(deployment, reason: winner.reason, model: winner.model.name)
            if Task.isCancelled {
                // The client went away (`cancellingOnDisconnect`): nobody waits for this answer, and an attempt cut
                // short says nothing about the deployment's health.
                winner.abandon()
                return trace.fail(.clientClosed, api: API.self, recorder, headers: trace.headers(modelName: route.name))
            }
            switch result {
            case .failed(let error, let kind):
                plan.failed(winner, kind)
                failure = error
                logger.debug("Upstream attempt failed", metadata: ["request.id": "\(requestID)", "provider": "\(deployment.provider.name)",
                                                                   "error": "\(error.code)"])
                if case .failed = kind, error.code == "upstream_auth_failed" {
                    // request.id comes with the request's logger (FrontMiddleware).
                    logger.warning("Upstream rejected the provider credentials", metadata: ["provider": "\(deployment.provider.name)"])
                }
                if !kind.isRetryable { return trace.fail(error, api: API.self, recorder, headers: trace.headers(modelName: route.name)) }
            case .streaming(let upstream, let first, let rest, let ttft, let span):
                trace.firstByte()
                if let span { trace.spans?.setAttempt(span) }
                winner.firstByte(ttftMs: ttft)
                return streamResponse(API.self, first: first, rest: rest, relay: API.relay(for: request), upstream: upstream,
                                      trace: trace, route: route, lease: winner, attemptTTFT: ttft)
            case .complete(_, let body, let usage, let latency):
                trace.firstByte()
                winner.firstByte(ttftMs: latency)
                winner.finished(latencyMs: latency, tokens: usage?.totalTokens)
                trace.finish(status: 200, usage: usage)
                var headers = trace.headers(modelName: route.name)
                headers[.contentType] = "application/json"     // the body was checked to be one JSON object
                headers[.switchboardCost] = formatUSD(trace.record.costUSD)
                trace.keepResponse(body)
                trace.emit(recorder)
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
            }
        }
    }

    /// One attempt on the lease's deployment, up to its first byte (streams) or whole answer, in its own span when
    /// tracing is on. Touches no shared state: the caller reports the outcome.
    func attempt<API: ClientAPI>(_ api: API.Type, _ request: API.Request, _ lease: AttemptLease, plan: RoutePlan,
                                 requestID: String, clientHeaders: [(name: String, value: String)], trace: AttemptTrace) async -> AttemptResult {
        guard let tracing, let parent = trace.parent else {
            return await send(API.self, request, lease, plan: plan, requestID: requestID, clientHeaders: clientHeaders,
                              traceHeaders: trace.client.passthrough)
        }
        let route = models[lease.model.name]!
        let deployment = route.deployments[lease.deployment]
        let (span, headers) = tracing.attemptSpan(parent: parent, provider: deployment.provider.name, deployment: deployment.upstreamModel,
                                                  model: route.name, policy: route.policy, reason: lease.reason.rawValue,
                                                  attempt: trace.number, delayMs: lease.delayMs)
        let result = await send(API.self, request, lease, plan: plan, requestID: requestID, clientHeaders: clientHeaders, traceHeaders: headers)
        switch result {
        case .failed where Task.isCancelled:
            // A hedge that lost, or a client that went away: not the upstream's failure.
            if span.isRecording { span.attributes["switchboard.attempt.cancelled"] = true }
            span.end()
        case .failed(let error, _):
            span.endAttempt(status: nil, error: error.code, ttftMs: nil)
        case .complete(let upstream, _, _, let latency):
            span.endAttempt(status: upstream.status, error: nil, ttftMs: latency)
        case .streaming(let upstream, let first, let rest, let ttft, _):
            if span.isRecording {
                span.updateAttributes { a in
                    a["http.response.status_code"] = upstream.status
                    a["switchboard.ttft_ms"] = ttft
                }
            }
            return .streaming(upstream, first: first, rest: rest, ttftMs: ttft, span: span)
        }
        return result
    }

    /// Sends one attempt and reads its answer's head and first chunk (streams) or whole body.
    func send<API: ClientAPI>(_ api: API.Type, _ request: API.Request, _ lease: AttemptLease, plan: RoutePlan, requestID: String,
                              clientHeaders: [(name: String, value: String)], traceHeaders: [(name: String, value: String)]) async -> AttemptResult {
        let deployment = models[lease.model.name]!.deployments[lease.deployment]
        let provider = deployment.provider.name
        let t = deployment.timeouts
        // The head must come within the first-token limit, the total limit and what is left of the deadline.
        let headSeconds = min(t.firstTokenSeconds ?? routing.timeoutSeconds, t.totalSeconds ?? .infinity, max(plan.remainingMs / 1000, 0.001))
        let limits = AttemptLimits(connect: t.connectSeconds.map(Self.duration), idle: t.idleSeconds.map(Self.duration),
                                   total: t.totalSeconds.map(Self.duration))
        let context = ProviderCallContext(requestID: requestID, timeout: Self.duration(headSeconds), clientHeaders: clientHeaders, limits: limits,
                                          traceHeaders: traceHeaders)
        let start = ContinuousClock.now
        let upstream: UpstreamResponse
        do {
            upstream = try await API.send(request, via: deployment.provider, upstreamModel: deployment.upstreamModel, context: context)
        } catch {
            return .failed(gatewayError(error, provider: provider, seconds: headSeconds), .failed)
        }
        switch upstream.status {
        case 200..<300:
            if let problem = Self.framingProblem(upstream, stream: API.isStream(request)) {
                return .failed(.upstreamBadResponse(provider: provider, problem), .failed)
            }
        case 300..<400:
            // Redirects are not followed (a provider's URL is configured), and never relayed.
            return .failed(.upstreamBadResponse(provider: provider, "it answered with a redirect (HTTP \(upstream.status))"), .failed)
        case 401, 403:
            // The provider refused the gateway's own credentials: never echo its message (it may quote part of the
            // provider key) and never blame the client's key. Another deployment may have working ones.
            return .failed(GatewayError(status: 502, type: "upstream_error", code: "upstream_auth_failed",
                                        message: "The upstream provider '\(provider)' rejected the gateway's credentials (HTTP \(upstream.status))."), .failed)
        case 429:
            let retryAfter = Self.retryAfterMs(upstream)
            return .failed(await upstreamFailure(upstream, provider: provider), .rateLimited(retryAfterMs: retryAfter))
        case 400..<500:
            let error = await upstreamFailure(upstream, provider: provider)
            return .failed(error, RoutePlan.Failure.classify(status: upstream.status, code: error.code, message: error.message))
        default:
            return .failed(await upstreamFailure(upstream, provider: provider), .failed)
        }
        if API.isStream(request) {
            // Commit point: read the first chunk before answering, so a failure up to here is still retried.
            let box = IteratorBox(upstream.body.makeAsyncIterator())
            let first: ByteBuffer?
            do {
                if let limit = t.firstTokenSeconds {
                    first = try await box.next(within: Self.duration(max(limit - Trace.ms(ContinuousClock.now - start) / 1000, 0.001)))
                } else {
                    first = try await box.iterator.next()
                }
            } catch {
                return .failed(gatewayError(HTTPClientTransport.classify(error), provider: provider, seconds: t.firstTokenSeconds ?? routing.timeoutSeconds), .failed)
            }
            return .streaming(upstream, first: first, rest: box, ttftMs: Trace.ms(ContinuousClock.now - start))
        }
        let body: ByteBuffer
        do {
            body = try await upstream.body.collect(upTo: maxResponseBytes)
        } catch {
            let failure = HTTPClientTransport.classify(error)
            if failure.code == .responseTooLarge {
                // The request asked for too much (200,000 embeddings): not the deployment's fault, not retried.
                return .failed(.upstreamBadResponse(provider: provider, "the response is larger than \(maxResponseBytes >> 20) MiB"), .clientError)
            }
            return .failed(gatewayError(failure, provider: provider, seconds: t.totalSeconds ?? routing.timeoutSeconds), .failed)
        }
        // The answer is untrusted: it must be one JSON object (checked while its usage is read), and its usage
        // plausible (it is billed).
        let usage: Usage?
        do {
            usage = try API.usage(in: body)
        } catch {
            return .failed(.upstreamBadResponse(provider: provider, "the body is not a JSON object"), .failed)
        }
        if let usage, !usage.isPlausible {
            return .failed(.upstreamBadResponse(provider: provider, "its token usage is not plausible"), .failed)
        }
        return .complete(upstream, body: body, usage: usage, latencyMs: Trace.ms(ContinuousClock.now - start))
    }

    /// Runs `lease`'s attempt; if it has no first byte after `afterMs`, starts a second one on another deployment.
    /// The first to answer wins and the other is cancelled (its lease abandoned: no verdict on its health). A
    /// failure before the hedge starts is returned at once, so the caller's retry logic takes over.
    func hedged<API: ClientAPI>(_ api: API.Type, _ request: API.Request, _ lease: AttemptLease, plan: inout RoutePlan, afterMs: Double,
                                trace: inout Trace, requestID: String, clientHeaders: [(name: String, value: String)],
                                attemptTrace: AttemptTrace) async -> (AttemptResult, AttemptLease) {
        let frozen = plan
        return await withTaskGroup(of: (AttemptResult, AttemptLease)?.self) { group in
            /// Ends the spans of streams that lost the race (their bodies are dropped, which cancels them).
            func drainLosers() async {
                while let outcome = await group.next() {
                    if case .streaming(_, _, _, _, let span)? = outcome?.0 {
                        span?.attributes["switchboard.attempt.cancelled"] = true
                        span?.end()
                    }
                }
            }
            group.addTask { (await self.attempt(API.self, request, lease, plan: frozen, requestID: requestID, clientHeaders: clientHeaders, trace: attemptTrace), lease) }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(afterMs.rounded(.up))))
                return nil
            }
            var running: [AttemptLease] = [lease]
            var timerPending = true
            var lastFailure: (AttemptResult, AttemptLease)?
            while let outcome = await group.next() {
                guard let (result, owner) = outcome else {
                    timerPending = false
                    if running.count == 1, !Task.isCancelled, let second = plan.hedge(excluding: lease) {
                        running.append(second)
                        trace.record.hedged = true
                        trace.record.attempts += 1
                        let now = plan
                        var hedgeTrace = attemptTrace
                        hedgeTrace.number = trace.record.attempts + 1
                        group.addTask {
                            (await self.attempt(API.self, request, second, plan: now, requestID: requestID, clientHeaders: clientHeaders, trace: hedgeTrace), second)
                        }
                    }
                    continue
                }
                running.removeAll { $0 === owner }
                if case .failed = result {
                    if running.isEmpty {
                        group.cancelAll()
                        await drainLosers()
                        return (result, owner)
                    }
                    // The other attempt may still answer; this failure is reported now.
                    if case .failed(_, let kind) = result {
                        // A client that went away cut it short: no verdict on the deployment.
                        if Task.isCancelled { owner.abandon() } else { plan.failed(owner, kind) }
                    }
                    lastFailure = (result, owner)
                    continue
                }
                for other in running { other.abandon() }
                group.cancelAll()
                await drainLosers()
                _ = timerPending
                return (result, owner)
            }
            return lastFailure ?? (.failed(.internalError("no attempt finished"), .failed), lease)
        }
    }

    /// `POST /v1/messages/count_tokens`: counted exactly by the model's first Anthropic deployment, else estimated
    /// locally (`x-switchboard-token-count: estimate`). Nothing is billed or logged.
    func countTokens(_ body: ByteBuffer, model: String, identity: Identity, requestID: String,
                     clientHeaders: [(name: String, value: String)]) async throws(GatewayError) -> Response {
        guard let route = models[model] else { throw .unknownModel(model) }
        guard identity.allows(model: model) else {
            throw GatewayError(status: 403, type: "permission_error", code: "model_not_allowed", message: "Your key may not use the model '\(model)'.")
        }
        var headers = HTTPFields()
        headers[.switchboardModel] = model
        headers[.contentType] = "application/json"
        let context = ProviderCallContext(requestID: requestID, timeout: Self.duration(routing.timeoutSeconds), clientHeaders: clientHeaders,
                                          limits: AttemptLimits(total: Self.duration(min(routing.timeoutSeconds, routing.totalTimeoutSeconds))))
        for deployment in route.deployments {
            let upstream: UpstreamResponse?
            do {
                upstream = try await deployment.provider.countTokens(body, upstreamModel: deployment.upstreamModel, context: context)
            } catch {
                continue      // try the next Anthropic deployment, or estimate
            }
            guard let upstream else { continue }
            if (400..<500).contains(upstream.status) {
                // The client's mistake, in the upstream's words (scrubbed of credentials).
                throw await upstreamFailure(upstream, provider: deployment.provider.name)
            }
            guard (200..<300).contains(upstream.status), let answer = try? await upstream.body.collect(upTo: 1 << 20),
                  answer.withUnsafeReadableBytes({ (try? JSONPeek.topLevel($0, keys: [])) != nil }) else { continue }
            headers[.switchboardProvider] = deployment.provider.name
            headers[.switchboardTokenCount] = "exact"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: answer))
        }
        guard let request = JSONValue.parse(Data(buffer: body)) else { throw .invalidJSON("the body could not be decoded") }
        headers[.switchboardTokenCount] = "estimate"
        return Response(status: .ok, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"input_tokens":\#(TokenEstimate.anthropicInput(request))}"#)))
    }

    /// Relays an SSE stream: bytes go to the client as they arrive; usage is picked up on the way; a failure after
    /// the commit point ends the stream with an error event.
    private func streamResponse<API: ClientAPI>(_ api: API.Type, first: ByteBuffer?, rest: IteratorBox, relay: SSERelay,
                                                upstream: UpstreamResponse, trace: Trace, route: ModelRoute, lease: AttemptLease,
                                                attemptTTFT: Double) -> Response {
        var headers = trace.headers(modelName: route.name)
        headers[.contentType] = upstream.header("content-type") ?? "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let recorder = self.recorder
        let totalLimit = route.deployments[lease.deployment].timeouts.totalSeconds
        let streamStart = ContinuousClock.now
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var trace = trace
            var relay = relay
            var upstreamError: GatewayError?
            do {
                if let first, let out = relay.feed(first) {
                    trace.keepResponse(out)
                    try await writer.write(out)
                }
                while true {
                    let chunk: ByteBuffer?
                    do {
                        chunk = try await rest.iterator.next()
                    } catch {
                        upstreamError = self.gatewayError(HTTPClientTransport.classify(error), provider: trace.record.provider ?? "",
                                                          seconds: totalLimit ?? self.routing.timeoutSeconds)
                        break
                    }
                    guard let chunk else { break }
                    if let out = relay.feed(chunk) {
                        trace.keepResponse(out)
                        try await writer.write(out)
                    }
                    if relay.overflowed {
                        upstreamError = .upstreamBadResponse(provider: trace.record.provider ?? "", "an event longer than \(SSERelay.maxEventBytes >> 20) MiB")
                        break
                    }
                    // `total` is also checked here, for transports that cannot enforce it themselves.
                    if let totalLimit, Trace.ms(ContinuousClock.now - streamStart) > totalLimit * 1000 + attemptTTFT {
                        upstreamError = .upstreamTimeout(provider: trace.record.provider ?? "", seconds: totalLimit)
                        break
                    }
                }
                // A stream broken inside an event: the error event must not be glued to its partial line.
                let partial = relay.endsInsideEvent
                if let tail = relay.finish() {
                    trace.keepResponse(tail)
                    try await writer.write(tail)
                }
                if upstreamError == nil, !relay.sawDone, !relay.sawError {
                    upstreamError = .streamInterrupted(provider: trace.record.provider ?? "")
                }
                if let upstreamError {
                    let event = ByteBuffer(string: (partial ? "\n\n" : "") + API.streamErrorEvent(upstreamError))
                    trace.keepResponse(event)
                    try await writer.write(event)
                }
            } catch {
                // The client went away: leaving the loop drops the upstream body, which cancels the upstream request.
                let usage = relay.usage.flatMap { $0.isPlausible ? $0 : nil }
                lease.finished(latencyMs: attemptTTFT, tokens: usage?.totalTokens)
                trace.finish(status: 499, usage: usage ?? Usage(), errorCode: "client_closed_request")
                trace.emit(recorder)
                throw error
            }
            // Usage an upstream streams is untrusted like any other: absurd counts are not billed, and the attempt is
            // recorded as the upstream's failure (the client already has the answer; nothing more is sent).
            var usage = relay.usage
            if let u = usage, !u.isPlausible {
                usage = nil
                if upstreamError == nil { upstreamError = .upstreamBadResponse(provider: trace.record.provider ?? "", "its token usage is not plausible") }
            }
            // The stream is in flight until it ends; its latency signal is the time to first byte.
            if upstreamError != nil {
                lease.brokeMidStream(tokens: usage?.totalTokens)
            } else {
                lease.finished(latencyMs: attemptTTFT, tokens: usage?.totalTokens)
            }
            trace.finish(status: upstreamError?.status ?? 200, usage: usage ?? Usage(), errorCode: upstreamError?.code)
            trace.emit(recorder)
            try await writer.finish(nil)
        })
    }

    // MARK: Helpers

    /// What a request may cost at most, reserved against budgets while it runs: the estimated prompt and
    /// `max_tokens` (1,000 output tokens without it) at the dearest deployment of the model.
    func reservation(model: String, needs: RequestNeeds) -> Double {
        let output = needs.maxOutputTokens ?? 1000
        let usage = Usage(promptTokens: needs.estimatedPromptTokens, completionTokens: output)
        return models[model]?.deployments.map { $0.price.cost(of: usage) }.max() ?? 0
    }

    /// `GET /admin/health`: every model's deployments with their circuit state, cooldown, load and caps.
    /// The health of one deployment as `/admin/health` and `/metrics` show it.
    struct DeploymentHealth {
        var provider: String
        var upstreamModel: String
        /// closed, open, half_open, cooling_down or down.
        var state: String
        var ejections: Int
        var consecutiveFailures: Int?
        var probeDown: Bool
        var ejectedForMs: Double
        var cooldownMs: Double
        var slot: Int
    }

    static let healthStates = ["closed", "half_open", "cooling_down", "open", "down"]

    /// Every model's deployments with their health, in configuration order.
    func healthSnapshot() -> [(model: String, deployments: [DeploymentHealth])] {
        let now = table.now()
        let breakers = table.health.snapshot
        return modelNames.compactMap { name in
            guard let route = self.models[name] else { return nil }
            return (name, route.deployments.indices.map { i in
                let slot = route.routed.deployments[i].slot
                let b = breakers[slot]
                var state: String
                var ejectedMs = 0.0
                switch b.state {
                case .closed: state = "closed"
                case .open(let until): state = "open"; ejectedMs = max(until - now, 0)
                case .halfOpen: state = "half_open"
                }
                if state == "closed", b.cooldownUntilMs > now { state = "cooling_down" }
                if b.activelyDown { state = "down" }
                var failures: Int?
                if case .closed(let n) = b.state { failures = n }
                return DeploymentHealth(provider: route.deployments[i].provider.name, upstreamModel: route.deployments[i].upstreamModel,
                                        state: state, ejections: b.ejections, consecutiveFailures: failures, probeDown: b.activelyDown,
                                        ejectedForMs: ejectedMs, cooldownMs: max(b.cooldownUntilMs - now, 0), slot: slot)
            })
        }
    }

    func healthReport() -> String {
        let models: [JSONValue] = healthSnapshot().map { name, deployments in
            let route = self.models[name]!
            let load = (route.routed.balancer as? LoadAwareBalancer)?.load
            let entries: [JSONValue] = deployments.enumerated().map { i, h in
                var e: [String: JSONValue] = [
                    "provider": .string(h.provider), "model": .string(h.upstreamModel),
                    "state": .string(h.state), "ejections": .int(h.ejections), "probe_down": .bool(h.probeDown),
                    "ejected_for_ms": .int(Int(h.ejectedForMs)), "cooldown_ms": .int(Int(h.cooldownMs)),
                ]
                if let n = h.consecutiveFailures { e["consecutive_failures"] = .int(n) }
                if let load {
                    e["in_flight"] = .int(load.outstanding[i])
                    e["ewma_ttft_ms"] = load.ewmaMs[i].map { .double(($0 * 10).rounded() / 10) } ?? .null
                }
                let limits = table.slotDeployments[h.slot].limits
                if !limits.isUnlimited {
                    let use = table.capacity.snapshot(h.slot)
                    var caps: [String: JSONValue] = ["in_flight": .int(use.inFlight), "requests_last_minute": .int(use.requests),
                                                     "tokens_last_minute": .int(use.tokens)]
                    if let v = limits.rpm { caps["rpm"] = .int(v) }
                    if let v = limits.tpm { caps["tpm"] = .int(v) }
                    if let v = limits.maxConcurrent { caps["max_concurrent"] = .int(v) }
                    e["capacity"] = .object(caps)
                }
                if let p95 = table.latency.percentile(h.slot, 95) { e["p95_ttft_ms"] = .double((p95 * 10).rounded() / 10) }
                return .object(e)
            }
            var model: [String: JSONValue] = ["name": .string(name), "deployments": .array(entries)]
            if !route.routed.fallbacks.isEmpty { model["fallbacks"] = .array(route.routed.fallbacks.map { .string($0) }) }
            return .object(model)
        }
        return JSONValue.object(["models": .array(models)]).jsonText
    }

    /// The client's error when routing gave up.
    func exhaustedError(_ why: RoutePlan.Exhausted, last: GatewayError?, model: String, plan: RoutePlan) -> GatewayError {
        switch why {
        case .noCapableDeployment(let missing):
            if let last { return last }
            return GatewayError(status: 400, type: "invalid_request_error", code: "unsupported_capability",
                                message: "The model '\(model)' cannot serve this request: no deployment supports \(RequestNeeds.describe(missing)) (capability '\(missing)').",
                                param: missing)
        case .unavailable(let waitMs, let onlyRateLimited, let saturated):
            if let last { return last }
            let wait = max(1, Int((waitMs / 1000).rounded(.up)))
            if saturated {
                return GatewayError(status: 429, type: "rate_limit_error", code: "deployment_capacity_exceeded",
                                    message: "Every deployment of the model '\(model)' is at its configured capacity (rpm, tpm or concurrency); retry in \(wait) s.",
                                    retryAfterSeconds: wait)
            }
            if onlyRateLimited {
                return GatewayError(status: 429, type: "rate_limit_error", code: "upstream_rate_limited",
                                    message: "Every deployment of the model '\(model)' is rate limited by its provider; retry in \(wait) s.", retryAfterSeconds: wait)
            }
            return GatewayError(status: 503, type: "server_error", code: "no_healthy_deployment",
                                message: "Every deployment of the model '\(model)' is failing or being re-checked after failures; retry in \(wait) s.",
                                retryAfterSeconds: wait)
        case .attemptsSpent:
            return last ?? GatewayError(status: 503, type: "server_error", code: "no_healthy_deployment",
                                        message: "The deployments of the model '\(model)' are being re-checked after failures; retry shortly.",
                                        retryAfterSeconds: 1)
        case .deadline:
            let seconds = ((plan.deadlineMs - plan.startMs) / 100).rounded() / 10
            let detail = last.map { " The last attempt failed: \($0.message)" } ?? ""
            return GatewayError(status: 504, type: "timeout_error", code: "deadline_exceeded",
                                message: "No deployment answered the model '\(model)' within its \(seconds.formatted()) s deadline after \(plan.totalAttempts) attempt(s).\(detail)")
        }
    }
}

/// Hands a body iterator to the response writer. Only the writer touches it, once, after the handler returned.
final class IteratorBox: @unchecked Sendable {
    var iterator: UpstreamBody.AsyncIterator
    init(_ iterator: UpstreamBody.AsyncIterator) { self.iterator = iterator }

    /// The next chunk, or a timeout error if none arrives within `limit` (the body is then abandoned).
    func next(within limit: Duration) async throws -> ByteBuffer? {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await self.iterator.next() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw UpstreamError(.timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// What is known about a request while it runs; becomes its `RequestRecord`.
struct Trace: Sendable {
    var record: RequestRecord
    let started = ContinuousClock.now
    var price = Price.free
    /// The request's claim on its key's and team's limits, given back when its record is emitted.
    var ticket: AdmissionTicket?
    /// Its places under `server.max_in_flight` and its model's concurrency, given back when its record is emitted.
    var permits: [GatePermit] = []
    /// `logging.bodies.max_bytes` when bodies are kept; the answer's first bytes and how many there were in all.
    var bodyLimit: Int?
    var response: [UInt8] = []
    var responseTotal = 0
    /// The request's span and its answering stream's attempt span (tracing on); they end with the record.
    var spans: RequestSpans?

    init(endpoint: String, model: String, stream: Bool, identity: Identity, requestID: String) {
        record = RequestRecord(id: requestID, startedAt: Date().timeIntervalSince1970, keyName: identity.name,
                               endpoint: endpoint, model: model, stream: stream, status: 0, keyID: identity.keyID, team: identity.team)
    }

    /// Bodies are kept this much beyond `max_bytes` until the writer has redacted them and cut them to size, so a
    /// secret across the cut is still whole when it is redacted.
    static let captureMargin = 1024
    static let truncationPrefix = "…[truncated, "

    /// The first `limit` bytes of `buffer` as text (and `captureMargin` more), with a note of its size when longer.
    static func prefix(_ buffer: ByteBuffer, _ limit: Int) -> String {
        let view = buffer.readableBytesView
        return noted(String(decoding: view.prefix(limit + captureMargin), as: UTF8.self), total: view.count, limit: limit)
    }

    /// `kept` with a note of the body's whole size when that is over `limit` (the writer cuts the text to `limit`).
    static func noted(_ kept: String, total: Int, limit: Int) -> String {
        total > limit ? kept + truncationPrefix + "\(total) bytes in all]" : kept
    }

    /// Keeps the answer's first `bodyLimit` bytes, and `captureMargin` more (when bodies are logged).
    mutating func keepResponse(_ buffer: ByteBuffer) {
        guard let limit = bodyLimit else { return }
        responseTotal += buffer.readableBytes
        let room = limit + Self.captureMargin - response.count
        if room > 0 { response += buffer.readableBytesView.prefix(room) }
    }

    /// Ends the request: its admission is completed with the actual usage and cost, its record handed over.
    func emit(_ recorder: any UsageRecorder) {
        var record = record
        if let bodyLimit, responseTotal > 0 {
            record.responseBody = Self.noted(String(decoding: response, as: UTF8.self), total: responseTotal, limit: bodyLimit)
        }
        if let ticket {
            ticket.complete(tokens: record.status == 0 ? nil : record.usage.totalTokens, usd: record.costUSD)
            if ticket.ledger.chargesSpend { record.chargedScopes = ticket.grant.budgetScopes }
        }
        for permit in permits { permit.release() }
        spans?.end(record)
        recorder.record(record)
    }

    mutating func attempt(_ deployment: DeploymentRoute, reason: RoutePlan.Reason, model: String) {
        record.attempts += 1
        record.routeReason = reason.rawValue
        record.servedModel = model == record.model ? nil : model
        record.provider = deployment.provider.name
        record.upstreamModel = deployment.upstreamModel
        price = deployment.price
    }

    mutating func firstByte() {
        record.ttftMs = Self.ms(ContinuousClock.now - started)
    }

    mutating func finish(status: Int, usage: Usage?, errorCode: String? = nil) {
        record.status = status
        record.errorCode = errorCode
        record.latencyMs = Self.ms(ContinuousClock.now - started)
        if let usage {
            record.usage = usage
            record.costUSD = price.cost(of: usage)
        }
    }

    mutating func fail<API: ClientAPI>(_ error: GatewayError, api: API.Type, _ recorder: any UsageRecorder, headers: HTTPFields = [:]) -> Response {
        finish(status: error.status, usage: nil, errorCode: error.code)
        let body = API.errorBody(error)
        if bodyLimit != nil { keepResponse(ByteBuffer(string: body)) }
        emit(recorder)
        return error.response(body: body, headers: headers)
    }

    func headers(modelName: String) -> HTTPFields {
        var h = HTTPFields()
        h[.switchboardModel] = modelName
        if let p = record.provider { h[.switchboardProvider] = p }
        h[.switchboardAttempts] = String(record.attempts)
        if let reason = record.routeReason { h[.switchboardRoute] = reason }
        ticket?.grant.status.add(to: &h)
        return h
    }

    static func ms(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}
