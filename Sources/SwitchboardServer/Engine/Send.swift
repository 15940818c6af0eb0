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
    case streaming(contentType: String?, first: ByteBuffer?, rest: UpstreamStream, ttftMs: Double, span: (any Span)? = nil)
    /// A whole non-streamed answer: a JSON object whose usage (when it has one) is plausible.
    case complete(body: ByteBuffer, usage: Usage?, latencyMs: Double)
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
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    nonisolated(nonsending) func attempt<API: ClientAPI>(_ call: Call<API>, _ lease: AttemptLease, plan: RoutePlan, trace: AttemptTrace) async -> AttemptResult {
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
        case .complete(_, _, let latency):
            span.endAttempt(status: 200, error: nil, ttftMs: latency)
        case .streaming(let contentType, let first, let rest, let ttft, _):
            if span.isRecording {
                span.updateAttributes { a in
                    a["http.response.status_code"] = 200
                    a["switchboard.ttft_ms"] = ttft
                }
            }
            return .streaming(contentType: contentType, first: first, rest: rest, ttftMs: ttft, span: span)
        }
        return result
    }

    /// Sends one attempt: the provider reads its answer's head and first chunk (streams) or whole body, within the
    /// deployment's limits, and classifies what failed.
    nonisolated(nonsending) func send<API: ClientAPI>(_ call: Call<API>, _ lease: AttemptLease, plan: RoutePlan, traceHeaders: [(name: String, value: String)]) async -> AttemptResult {
        let deployment = lease.model.deployments[lease.deployment]
        guard let provider = slotProviders[lease.slot] else {
            return .failed(.internalError("the provider '\(deployment.provider)' is not configured"), .failed)
        }
        let t = deployment.timeouts
        // The head must come within the first-token limit, the total limit and what is left of the deadline.
        let headSeconds = min(t.firstTokenSeconds ?? routing.timeoutSeconds, t.totalSeconds ?? .infinity, max(plan.remainingMs / 1000, 0.001))
        let limits = AttemptLimits(connect: t.connectSeconds.map(Self.duration), idle: t.idleSeconds.map(Self.duration),
                                   total: t.totalSeconds.map(Self.duration))
        let context = ProviderCallContext(requestID: call.requestID, timeout: Self.duration(headSeconds), clientHeaders: call.clientHeaders,
                                          limits: limits, traceHeaders: traceHeaders, firstChunkMs: t.firstTokenSeconds.map { $0 * 1000 },
                                          clock: clock, scrubber: scrubber)
        let start = ContinuousClock.now
        switch await API.send(call.request, via: provider, upstreamModel: deployment.upstreamModel, context: context) {
        case .answer(let body, let usage):
            return .complete(body: body, usage: usage, latencyMs: Exchange.ms(ContinuousClock.now - start))
        case .stream(let contentType, let first, let rest):
            return .streaming(contentType: contentType, first: first, rest: rest, ttftMs: Exchange.ms(ContinuousClock.now - start))
        case .failure(let failure):
            return .failed(failure.error, Self.routing(failure.kind))
        }
    }

    /// What a provider's classification of a failure means for routing.
    static func routing(_ kind: ProviderFailure.Kind) -> RoutePlan.Failure {
        switch kind {
        case .failed, .authRejected: .failed
        case .rateLimited(let ms): .rateLimited(retryAfterMs: ms)
        case .contextTooLong: .contextTooLong
        case .contentRefused: .contentRefused
        case .clientError: .clientError
        }
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded(.up))) }
}
