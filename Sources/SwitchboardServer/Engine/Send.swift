import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting
import Tracing

// One attempt (step 5): the provider's call on the lease's deployment, up to its answer's first chunk (streams) or
// whole body, within the deployment's limits; what failed is sorted for routing. In its own span when tracing is on.

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

extension Gateway {
    /// One attempt on the lease's deployment, in its own span when tracing is on. Touches no shared state: the
    /// caller reports the outcome.
    func attempt<API: ClientAPI>(_ call: Call<API>, _ lease: AttemptLease, plan: RoutePlan, trace: AttemptTrace) async -> AttemptResult {
        guard let tracing, let parent = trace.parent else {
            return await send(call, lease, plan: plan, traceHeaders: trace.client.passthrough)
        }
        let deployment = lease.model.deployments[lease.deployment]
        let (span, headers) = tracing.attemptSpan(parent: parent, provider: deployment.provider, deployment: deployment.upstreamModel,
                                                  model: lease.model.name, policy: lease.model.policy, reason: lease.reason.rawValue,
                                                  attempt: trace.number, delayMs: lease.delayMs)
        let result = await send(call, lease, plan: plan, traceHeaders: headers)
        switch result {
        case .failed where Task.isCancelled:
            // A hedge that lost, or a client that went away: not the upstream's failure.
            if span.isRecording { span.attributes["switchboard.attempt.cancelled"] = true }
            span.end()
        case .failed(let error, _):
            span.endAttempt(status: nil, error: error.code.name, ttftMs: nil)
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
    func send<API: ClientAPI>(_ call: Call<API>, _ lease: AttemptLease, plan: RoutePlan, traceHeaders: [(name: String, value: String)]) async -> AttemptResult {
        let deployment = lease.model.deployments[lease.deployment]
        let provider = deployment.provider
        guard let caller = slotProviders[lease.slot] else { return .failed(.internalError("the provider '\(provider)' is not configured"), .failed) }
        let t = deployment.timeouts
        // The head must come within the first-token limit, the total limit and what is left of the deadline.
        let headSeconds = min(t.firstTokenSeconds ?? routing.timeoutSeconds, t.totalSeconds ?? .infinity, max(plan.remainingMs / 1000, 0.001))
        let limits = AttemptLimits(connect: t.connectSeconds.map(UpstreamAnswers.duration), idle: t.idleSeconds.map(UpstreamAnswers.duration),
                                   total: t.totalSeconds.map(UpstreamAnswers.duration))
        let context = ProviderCallContext(requestID: call.requestID, timeout: UpstreamAnswers.duration(headSeconds), clientHeaders: call.clientHeaders,
                                          limits: limits, traceHeaders: traceHeaders)
        let start = ContinuousClock.now
        let startMs = clock.nowMs()
        let upstream: UpstreamResponse
        do {
            upstream = try await API.send(call.request, via: caller, upstreamModel: deployment.upstreamModel, context: context)
        } catch {
            return .failed(UpstreamAnswers.gatewayError(error, provider: provider, seconds: headSeconds), .failed)
        }
        switch upstream.status {
        case 200..<300:
            if let problem = UpstreamAnswers.framingProblem(upstream, stream: API.isStream(call.request)) {
                return .failed(.upstreamBadResponse(provider: provider, problem), .failed)
            }
        case 300..<400:
            // Redirects are not followed (a provider's URL is configured), and never relayed.
            return .failed(.upstreamBadResponse(provider: provider, "it answered with a redirect (HTTP \(upstream.status))"), .failed)
        case 401, 403:
            // The provider refused the gateway's own credentials: never echo its message (it may quote part of the
            // provider key) and never blame the client's key. Another deployment may have working ones.
            return .failed(.upstreamAuthFailed(provider: provider, status: upstream.status), .failed)
        case 429:
            let retryAfter = UpstreamAnswers.retryAfterMs(upstream)
            return .failed(await UpstreamAnswers.failure(upstream, provider: provider, scrubber: scrubber), .rateLimited(retryAfterMs: retryAfter))
        case 400..<500:
            let error = await UpstreamAnswers.failure(upstream, provider: provider, scrubber: scrubber)
            return .failed(error, RoutePlan.Failure.classify(status: upstream.status, code: error.upstream?.code ?? "", message: error.message))
        default:
            return .failed(await UpstreamAnswers.failure(upstream, provider: provider, scrubber: scrubber), .failed)
        }
        if API.isStream(call.request) {
            // Commit point: read the first chunk before answering, so a failure up to here is still retried.
            let box = IteratorBox(upstream.body.makeAsyncIterator())
            let first: ByteBuffer?
            do {
                if let limit = t.firstTokenSeconds {
                    first = try await box.next(within: max(limit * 1000 - (clock.nowMs() - startMs), 1), on: clock)
                } else {
                    first = try await box.iterator.next()
                }
            } catch {
                return .failed(UpstreamAnswers.gatewayError(HTTPClientTransport.classify(error), provider: provider, seconds: t.firstTokenSeconds ?? routing.timeoutSeconds), .failed)
            }
            return .streaming(upstream, first: first, rest: box, ttftMs: Exchange.ms(ContinuousClock.now - start))
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
            return .failed(UpstreamAnswers.gatewayError(failure, provider: provider, seconds: t.totalSeconds ?? routing.timeoutSeconds), .failed)
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
        return .complete(upstream, body: body, usage: usage, latencyMs: Exchange.ms(ContinuousClock.now - start))
    }
}

/// Hands a body iterator to the response writer. Only the writer touches it, once, after the handler returned.
final class IteratorBox: @unchecked Sendable {
    var iterator: UpstreamBody.AsyncIterator
    init(_ iterator: UpstreamBody.AsyncIterator) { self.iterator = iterator }

    /// The next chunk, or a timeout error if none arrives within `ms` on `clock` (the body is then abandoned).
    func next(within ms: Double, on clock: any EngineClock) async throws -> ByteBuffer? {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await self.iterator.next() }
            group.addTask {
                try await clock.sleep(ms: ms)
                throw UpstreamError(.timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
