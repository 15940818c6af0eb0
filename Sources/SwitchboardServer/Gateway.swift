import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting

/// A deployment ready to call: its provider, the upstream's model name and its prices.
struct DeploymentRoute: Sendable {
    let provider: any Provider
    let upstreamModel: String
    let price: Price
    let capabilities: Capabilities
}

/// A public model: its deployments and the balancer that shares traffic among them.
struct ModelRoute: Sendable {
    let name: String
    let balancer: any Balancer
    let deployments: [DeploymentRoute]
    /// The deployments' health, shared with every other model using the same provider and upstream model.
    let health: RouteHealth
}

/// How an attempt ended, as far as balancing and health are concerned.
enum AttemptOutcome {
    /// The deployment answered (a client error included: it says nothing bad about the deployment).
    case answered(latencyMs: Double)
    /// A 429: cool down, not unhealthy.
    case rateLimited(retryAfterMs: Double?)
    /// Connection error, timeout, 5xx, broken body, rejected provider key.
    case failed
}

extension ModelRoute {
    /// Feeds an attempt's outcome to the balancer (which counts it as ended) and to the deployment's health.
    func record(_ index: Int, _ outcome: AttemptOutcome) {
        switch outcome {
        case .answered(let latency):
            balancer.finished(index, latencyMs: latency)
            health.succeeded(index)
        case .rateLimited(let retryAfter):
            balancer.finished(index, latencyMs: nil)
            health.rateLimited(index, retryAfterMs: retryAfter)
        case .failed:
            balancer.finished(index, latencyMs: nil)
            health.failed(index)
        }
    }
}

/// A model's view of the gateway-wide health book: its deployment indices mapped to shared slots.
struct RouteHealth: Sendable {
    let book: HealthBook
    let slots: [Int]

    func available(_ indices: [Int]) -> [Int] {
        let free = Set(book.available(indices.map { slots[$0] }))
        return indices.filter { free.contains(slots[$0]) }
    }
    func admit(_ i: Int) -> Bool { book.admit(slots[i]) }
    func succeeded(_ i: Int) { book.succeeded(slots[i]) }
    func failed(_ i: Int) { book.failed(slots[i]) }
    func rateLimited(_ i: Int, retryAfterMs: Double?) { book.rateLimited(slots[i], retryAfterMs: retryAfterMs) }
    func waitMs(_ indices: [Int]) -> Double { book.waitMs(indices.map { slots[$0] }) }
    func onlyRateLimited(_ indices: [Int]) -> Bool { book.onlyRateLimited(indices.map { slots[$0] }) }
    var snapshot: [CircuitBreaker] {
        let all = book.snapshot
        return slots.map { all[$0] }
    }
}

/// The proxying engine: picks deployments, calls providers, retries before the first byte, relays the answer,
/// and hands a record of every request to the recorder.
final class Gateway: Sendable {
    let models: [String: ModelRoute]
    /// Public model names in configuration order (for `/v1/models`).
    let modelNames: [String]
    let routing: RoutingConfig
    let recorder: any UsageRecorder
    /// Largest non-streamed upstream body the gateway reads.
    let maxResponseBytes = 64 << 20

    /// Milliseconds since the gateway started, for load-aware balancers.
    let clockStart = ContinuousClock.now

    init(config: GatewayConfig, transport: any UpstreamTransport, recorder: any UsageRecorder, seed: UInt64 = .random(in: 0...UInt64.max)) {
        var providers: [String: any Provider] = [:]
        for p in config.providers { providers[p.name] = makeProvider(p, transport: transport) }
        // One health slot per distinct deployment (provider + upstream model), shared by the models using it.
        var slotOf: [String: Int] = [:]
        for m in config.models {
            for d in m.deployments where slotOf["\(d.provider)/\(d.model)"] == nil { slotOf["\(d.provider)/\(d.model)"] = slotOf.count }
        }
        let start = clockStart
        let book = HealthBook(count: slotOf.count, now: { Trace.ms(ContinuousClock.now - start) })
        var models: [String: ModelRoute] = [:]
        for m in config.models {
            let deployments = m.deployments.compactMap { d in
                providers[d.provider].map { DeploymentRoute(provider: $0, upstreamModel: d.model, price: d.price, capabilities: d.capabilities) }
            }
            let balancer = makeBalancer(m.balancing, deployments: m.deployments, seed: seed ^ stableHash(m.name),
                                        now: { Trace.ms(ContinuousClock.now - start) })
            let slots = m.deployments.map { slotOf["\($0.provider)/\($0.model)"]! }
            models[m.name] = ModelRoute(name: m.name, balancer: balancer, deployments: deployments,
                                        health: RouteHealth(book: book, slots: slots))
        }
        self.models = models
        modelNames = config.models.map(\.name)
        routing = config.routing
        self.recorder = recorder
    }

    /// Serves one request of the client's API end to end.
    func serve<API: ClientAPI>(_ api: API.Type, _ request: API.Request, identity: Identity, requestID: String,
                               clientHeaders: [(name: String, value: String)] = [], affinity: String? = nil, logger: Logger) async -> Response {
        let modelName = API.model(request)
        var trace = Trace(endpoint: API.endpoint(request), model: modelName, stream: API.isStream(request), identity: identity, requestID: requestID)
        guard let route = models[modelName] else { return trace.fail(.unknownModel(modelName), api: API.self, recorder) }
        guard identity.allows(model: modelName) else {
            return trace.fail(GatewayError(status: 403, type: "invalid_request_error", code: "model_not_allowed",
                                           message: "Your key may not use the model '\(modelName)'.", param: "model"), api: API.self, recorder)
        }
        // Only deployments that can serve this request (tools, images, JSON mode, streaming, limits) are tried.
        let needs = API.needs(request)
        let eligible = route.deployments.indices.filter { route.deployments[$0].capabilities.missing(for: needs) == nil }
        if eligible.isEmpty, let missing = route.deployments.first?.capabilities.missing(for: needs) {
            return trace.fail(GatewayError(status: 400, type: "invalid_request_error", code: "unsupported_capability",
                                           message: "The model '\(modelName)' cannot serve this request: no deployment supports \(RequestNeeds.describe(missing)) (capability '\(missing)').",
                                           param: missing), api: API.self, recorder)
        }
        // Ejected deployments (circuit open) and those cooling down after a 429 are never picked.
        let healthy = route.health.available(eligible)
        if healthy.isEmpty {
            let wait = max(1, Int((route.health.waitMs(eligible) / 1000).rounded(.up)))
            let error = route.health.onlyRateLimited(eligible)
                ? GatewayError(status: 429, type: "rate_limit_error", code: "upstream_rate_limited",
                               message: "Every deployment of the model '\(modelName)' is rate limited by its provider; retry in \(wait) s.", retryAfterSeconds: wait)
                : GatewayError(status: 503, type: "server_error", code: "no_healthy_deployment",
                               message: "Every deployment of the model '\(modelName)' is failing; retry in \(wait) s.", retryAfterSeconds: wait)
            return trace.fail(error, api: API.self, recorder)
        }
        var planner = AttemptPlanner(candidates: healthy, retries: routing.retries)
        // What the client gets if no attempt is even made (another request holds the only half-open probe).
        var failure = GatewayError(status: 503, type: "server_error", code: "no_healthy_deployment",
                                   message: "The deployments of the model '\(modelName)' are being re-checked after failures; retry shortly.",
                                   retryAfterSeconds: 1)
        let timeout = Duration.milliseconds(Int64(routing.timeoutSeconds * 1000))
        let context = ProviderCallContext(requestID: requestID, timeout: timeout, clientHeaders: clientHeaders)

        let affinityKey = affinity ?? API.affinityKey(request)
        while let index = planner.next(using: route.balancer, affinityKey: affinityKey) {
            guard route.health.admit(index) else { continue }    // another request took its half-open probe
            let deployment = route.deployments[index]
            trace.attempt(deployment)
            let attemptStart = ContinuousClock.now
            route.balancer.started(index)
            let upstream: UpstreamResponse
            do {
                upstream = try await API.send(request, via: deployment.provider, upstreamModel: deployment.upstreamModel, context: context)
            } catch {
                route.record(index, .failed)
                failure = self.gatewayError(error, provider: deployment.provider.name)
                logger.debug("Upstream attempt failed", metadata: ["request.id": "\(requestID)", "provider": "\(deployment.provider.name)", "error": "\(error.code.rawValue)"])
                if AttemptPlanner.isRetryable(error.code == .timeout ? .timeout : .connection) { continue }
                break
            }
            switch upstream.status {
            case 429: route.record(index, .rateLimited(retryAfterMs: Self.retryAfterMs(upstream)))
            case 401, 403, 500...: route.record(index, .failed)
            case 400...: route.record(index, .answered(latencyMs: Trace.ms(ContinuousClock.now - attemptStart)))
            default: break     // success: recorded once the body (or the first chunk) has arrived
            }
            if upstream.status == 401 || upstream.status == 403 {
                // The provider refused the gateway's own credentials: never echo its message (it may quote part of
                // the provider key) and never blame the client's key. Another deployment may have working ones.
                failure = GatewayError(status: 502, type: "upstream_error", code: "upstream_auth_failed",
                                       message: "The upstream provider '\(deployment.provider.name)' rejected the gateway's credentials (HTTP \(upstream.status)).")
                logger.warning("Upstream rejected the provider credentials", metadata: ["provider": "\(deployment.provider.name)", "status": "\(upstream.status)"])
                continue
            }
            if upstream.status >= 400 {
                failure = await Self.upstreamFailure(upstream, provider: deployment.provider.name)
                logger.debug("Upstream answered with an error", metadata: ["request.id": "\(requestID)", "provider": "\(deployment.provider.name)", "status": "\(upstream.status)"])
                if AttemptPlanner.isRetryable(.status(upstream.status)) { continue }
                break
            }
            if API.isStream(request) {
                // Commit point: read the first chunk before answering, so a failure up to here is still retried.
                var iterator = upstream.body.makeAsyncIterator()
                let first: ByteBuffer?
                do {
                    first = try await iterator.next()
                } catch {
                    route.record(index, .failed)
                    failure = self.gatewayError(HTTPClientTransport.classify(error), provider: deployment.provider.name)
                    continue
                }
                trace.firstByte()
                route.health.succeeded(index)      // the balancer hears of it when the stream ends
                return streamResponse(API.self, first: first, rest: IteratorBox(iterator), relay: API.relay(for: request), upstream: upstream,
                                      trace: trace, route: route, index: index, attemptTTFT: Trace.ms(ContinuousClock.now - attemptStart))
            }
            let body: ByteBuffer
            do {
                body = try await upstream.body.collect(upTo: maxResponseBytes)
            } catch {
                route.record(index, .failed)
                failure = self.gatewayError(HTTPClientTransport.classify(error), provider: deployment.provider.name)
                continue
            }
            trace.firstByte()
            route.record(index, .answered(latencyMs: Trace.ms(ContinuousClock.now - attemptStart)))
            let usage = API.usage(in: body)
            trace.finish(status: 200, usage: usage)
            var headers = trace.headers(modelName: route.name)
            headers[.contentType] = upstream.header("content-type") ?? "application/json"
            headers[.switchboardCost] = formatUSD(trace.record.costUSD)
            recorder.record(trace.record)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        return trace.fail(failure, api: API.self, recorder, headers: trace.headers(modelName: route.name))
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
        let context = ProviderCallContext(requestID: requestID, timeout: .milliseconds(Int64(routing.timeoutSeconds * 1000)), clientHeaders: clientHeaders)
        for deployment in route.deployments {
            let upstream: UpstreamResponse?
            do {
                upstream = try await deployment.provider.countTokens(body, upstreamModel: deployment.upstreamModel, context: context)
            } catch {
                continue      // try the next Anthropic deployment, or estimate
            }
            guard let upstream else { continue }
            guard upstream.status < 500, let answer = try? await upstream.body.collect(upTo: 1 << 20) else { continue }
            headers[.switchboardProvider] = deployment.provider.name
            headers[.switchboardTokenCount] = "exact"
            return Response(status: .init(code: upstream.status), headers: headers, body: .init(byteBuffer: answer))
        }
        guard let request = JSONValue.parse(Data(buffer: body)) else { throw .invalidJSON("the body could not be decoded") }
        headers[.switchboardTokenCount] = "estimate"
        return Response(status: .ok, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"input_tokens":\#(TokenEstimate.anthropicInput(request))}"#)))
    }

    /// Relays an SSE stream: bytes go to the client as they arrive; usage is picked up on the way; a failure after
    /// the commit point ends the stream with an error event.
    private func streamResponse<API: ClientAPI>(_ api: API.Type, first: ByteBuffer?, rest: IteratorBox, relay: SSERelay,
                                                upstream: UpstreamResponse, trace: Trace, route: ModelRoute, index: Int, attemptTTFT: Double) -> Response {
        var headers = trace.headers(modelName: route.name)
        headers[.contentType] = upstream.header("content-type") ?? "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let recorder = self.recorder
        let balancer = route.balancer
        let health = route.health
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var trace = trace
            var relay = relay
            // The stream is in flight until it ends; its latency signal is the time to first byte.
            defer { balancer.finished(index, latencyMs: attemptTTFT) }
            var upstreamError: GatewayError?
            do {
                if let first, let out = relay.feed(first) { try await writer.write(out) }
                while true {
                    let chunk: ByteBuffer?
                    do {
                        chunk = try await rest.iterator.next()
                    } catch {
                        upstreamError = self.gatewayError(HTTPClientTransport.classify(error), provider: trace.record.provider ?? "")
                        health.failed(index)
                        break
                    }
                    guard let chunk else { break }
                    if let out = relay.feed(chunk) { try await writer.write(out) }
                }
                if let tail = relay.finish() { try await writer.write(tail) }
                if upstreamError == nil, !relay.sawDone, !relay.sawError {
                    upstreamError = .streamInterrupted(provider: trace.record.provider ?? "")
                }
                if let upstreamError {
                    try await writer.write(ByteBuffer(string: API.streamErrorEvent(upstreamError)))
                }
            } catch {
                // The client went away: leaving the loop drops the upstream body, which cancels the upstream request.
                trace.finish(status: 499, usage: relay.usage ?? Usage(), errorCode: "client_closed_request")
                recorder.record(trace.record)
                throw error
            }
            trace.finish(status: upstreamError?.status ?? 200, usage: relay.usage ?? Usage(), errorCode: upstreamError?.code)
            recorder.record(trace.record)
            try await writer.finish(nil)
        })
    }

    // MARK: Helpers

    /// `Retry-After` (seconds) or `retry-after-ms` of an upstream answer, in milliseconds.
    static func retryAfterMs(_ upstream: UpstreamResponse) -> Double? {
        if let ms = upstream.header("retry-after-ms").flatMap(Double.init) { return ms }
        return upstream.header("retry-after").flatMap(Double.init).map { $0 * 1000 }
    }

    /// `GET /admin/health`: every model's deployments with their circuit state, cooldown and load.
    func healthReport() -> String {
        let now = Trace.ms(ContinuousClock.now - clockStart)
        let models: [JSONValue] = modelNames.compactMap { name in
            guard let route = self.models[name] else { return nil }
            let load = (route.balancer as? LoadAwareBalancer)?.load
            let entries: [JSONValue] = zip(route.deployments.indices, route.health.snapshot).map { i, b in
                var state: String
                var ejectedMs = 0.0
                switch b.state {
                case .closed: state = "closed"
                case .open(let until): state = "open"; ejectedMs = max(until - now, 0)
                case .halfOpen: state = "half_open"
                }
                if state == "closed", b.cooldownUntilMs > now { state = "cooling_down" }
                var e: [String: JSONValue] = [
                    "provider": .string(route.deployments[i].provider.name), "model": .string(route.deployments[i].upstreamModel),
                    "state": .string(state), "ejections": .int(b.ejections),
                    "ejected_for_ms": .int(Int(ejectedMs)), "cooldown_ms": .int(Int(max(b.cooldownUntilMs - now, 0))),
                ]
                if case .closed(let n) = b.state { e["consecutive_failures"] = .int(n) }
                if let load {
                    e["in_flight"] = .int(load.outstanding[i])
                    e["ewma_ttft_ms"] = load.ewmaMs[i].map { .double(($0 * 10).rounded() / 10) } ?? .null
                }
                return .object(e)
            }
            return ["name": .string(name), "deployments": .array(entries)]
        }
        return JSONValue.object(["models": .array(models)]).jsonText
    }

    func gatewayError(_ error: UpstreamError, provider: String) -> GatewayError {
        switch error.code {
        case .timeout: .upstreamTimeout(provider: provider, seconds: routing.timeoutSeconds)
        case .connectFailed, .connectionClosed, .other: .upstreamUnreachable(provider: provider)
        case .responseTooLarge: .upstreamBadResponse(provider: provider, "the response is too large")
        }
    }

    /// The error the client gets for an upstream error status: 4xx keep their status, 5xx become 502; the upstream's
    /// own message, type, code and param are kept when it sent an OpenAI-shaped error.
    static func upstreamFailure(_ upstream: UpstreamResponse, provider: String) async -> GatewayError {
        var error = GatewayError.upstreamStatus(provider: provider, status: upstream.status)
        if let text = upstream.header("retry-after"), let seconds = Int(text) { error.retryAfterSeconds = seconds }
        guard let body = try? await upstream.body.collect(upTo: 1 << 20) else { return error }
        struct Wire: Decodable {
            struct Inner: Decodable { var message: String?; var type: String?; var code: StringOrInt?; var param: String? }
            var error: Inner?
        }
        if let wire = try? JSONDecoder().decode(Wire.self, from: Data(buffer: body)), let inner = wire.error {
            if let m = inner.message { error.message = upstream.status >= 500 ? "The upstream provider '\(provider)' failed: \(m)" : m }
            if upstream.status < 500 {
                if let t = inner.type { error.type = t }
                if let c = inner.code?.text { error.code = c }
                error.param = inner.param
            }
        }
        return error
    }
}

/// A `code` that providers send as a string or a number.
struct StringOrInt: Decodable {
    var text: String
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { text = s } else { text = String(try c.decode(Int.self)) }
    }
}

/// Hands a body iterator to the response writer. Only the writer touches it, once, after the handler returned.
final class IteratorBox: @unchecked Sendable {
    var iterator: UpstreamBody.AsyncIterator
    init(_ iterator: UpstreamBody.AsyncIterator) { self.iterator = iterator }
}

/// What is known about a request while it runs; becomes its `RequestRecord`.
struct Trace: Sendable {
    var record: RequestRecord
    let started = ContinuousClock.now
    var price = Price.free

    init(endpoint: String, model: String, stream: Bool, identity: Identity, requestID: String) {
        record = RequestRecord(id: requestID, startedAt: Date().timeIntervalSince1970, keyName: identity.name,
                               endpoint: endpoint, model: model, stream: stream, status: 0)
    }

    mutating func attempt(_ deployment: DeploymentRoute) {
        record.attempts += 1
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
        recorder.record(record)
        return error.response(body: API.errorBody(error), headers: headers)
    }

    func headers(modelName: String) -> HTTPFields {
        var h = HTTPFields()
        h[.switchboardModel] = modelName
        if let p = record.provider { h[.switchboardProvider] = p }
        h[.switchboardAttempts] = String(record.attempts)
        return h
    }

    static func ms(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}
