import HTTPTypes
import Logging
import SwitchboardCore
import SwitchboardRouting

// Step 5 of the engine — attempt: the plan's attempts one after another — a balancer's pick, the provider's call,
// its answer's head and first chunk (streams) or whole body — retrying and falling back on what routing calls
// retryable (connection errors, timeouts, 429 after its Retry-After, 5xx, a context or content refusal that has a
// fallback list) until something answers: a stream is committed at its first byte. Waits (back-off, a deployment
// coming back) are on the engine's clock. One attempt is in Send.swift; a slow one may be hedged (Hedge.swift).

/// How the attempts of one request ended.
enum AttemptsOutcome: Sendable {
    /// An answer began (`.streaming`) or came whole (`.complete`) from `lease`'s deployment.
    case answered(AttemptResult, lease: AttemptLease)
    /// Nothing answered: the client's error and the headers it goes with.
    case gaveUp(GatewayError, HTTPFields)
}

/// The last answer an output check rejected: still the client's answer if no later tier gives one.
typealias RejectedAnswer = (result: AttemptResult, lease: AttemptLease, usage: Usage?)

extension Gateway {
    /// Runs the plan's attempts until one answers or the plan gives up. What is not waiting is in functions of its
    /// own (`@inline(never)`): this frame is on the request's deepest chain, and is kept small.
    nonisolated(nonsending) func attempts<API: ClientAPI>(_ call: Call<API>, plan: inout RoutePlan, _ exchange: inout Exchange) async -> AttemptsOutcome {
        var failure: GatewayError?
        var rejected: RejectedAnswer?
        while true {
            let lease: AttemptLease
            switch plan.next() {
            case .wait(let ms):
                try? await clock.sleep(ms: ms)
                if Task.isCancelled { return .gaveUp(.clientClosed, [:]) }
                continue
            case .exhausted(let why):
                return Self.fallBack(exhaustedError(why, last: failure, model: call.model, plan: plan), exchange.headers(modelName: plan.current.name),
                                     rejected, &exchange)
            case .attempt(let l):
                lease = l
            }
            if lease.delayMs > 0 {
                try? await clock.sleep(ms: lease.delayMs)
                if Task.isCancelled { lease.abandon(); return .gaveUp(.clientClosed, [:]) }
            }
            let number = AttemptTrace(parent: exchange.spans?.request, client: call.traceHeaders, number: exchange.record.attempts + 1)
            let (result, winner): (AttemptResult, AttemptLease)
            if let hedgeAfter = table.hedgeDelayMs(lease.model, slot: lease.slot) {
                (result, winner) = await hedged(call, lease, plan: &plan, afterMs: hedgeAfter, exchange: &exchange, trace: number)
            } else {
                (result, winner) = (await attempt(call, lease, plan: plan, trace: number), lease)
            }
            Self.note(winner, in: &exchange)
            if Task.isCancelled {
                // The client went away (`cancellingOnDisconnect`): nobody waits for this answer, and an attempt cut
                // short says nothing about the deployment's health.
                winner.abandon()
                return .gaveUp(.clientClosed, exchange.headers(modelName: winner.model.name))
            }
            if Self.checkRejects(call, result, winner, plan: &plan, &exchange, rejected: &rejected) { continue }
            guard case .failed(let error, let kind) = result else { return .answered(result, lease: winner) }
            plan.failed(winner, kind)
            failure = error
            Self.logFailure(call, winner, error, kind)
            if !kind.isRetryable { return Self.fallBack(error, exchange.headers(modelName: winner.model.name), rejected, &exchange) }
        }
    }

    /// The attempt in the request's record.
    @inline(never)
    private static func note(_ winner: AttemptLease, in exchange: inout Exchange) {
        exchange.attempt(winner.model.deployments[winner.deployment], reason: winner.reason, model: winner.model.name)
    }

    /// Whether the routing rule's output check rejects a whole answer that a later tier may improve on: then the
    /// answer is dropped (and charged), kept in `rejected`, and the plan escalates.
    @inline(never)
    private static func checkRejects<API: ClientAPI>(_ call: Call<API>, _ result: AttemptResult, _ winner: AttemptLease, plan: inout RoutePlan,
                                            _ exchange: inout Exchange, rejected: inout RejectedAnswer?) -> Bool {
        guard case .complete(let body, let usage, let latency) = result, let check = call.outputCheck, plan.canEscalate,
              let why = check.rejects(body) else { return false }
        winner.firstByte(ttftMs: latency)
        winner.finished(latencyMs: latency, usage: usage)
        exchange.dropped(usage)
        rejected = (result, winner, usage)
        plan.escalate(after: winner)
        call.logger.debug("Answer rejected by the routing rule's output check", metadata: ["request.id": "\(call.requestID)", "why": "\(why)"])
        return true
    }

    /// Nothing more to try: the last answer an output check rejected if there is one, else the error.
    @inline(never)
    private static func fallBack(_ error: GatewayError, _ headers: HTTPFields, _ rejected: RejectedAnswer?, _ exchange: inout Exchange) -> AttemptsOutcome {
        guard let (result, lease, usage) = rejected else { return .gaveUp(error, headers) }
        // Its deployment (and price) again, then its cost no longer counted apart; it was counted as an attempt.
        note(lease, in: &exchange)
        exchange.record.attempts -= 1
        exchange.undrop(usage)
        return .answered(result, lease: lease)
    }

    @inline(never)
    private static func logFailure<API: ClientAPI>(_ call: Call<API>, _ winner: AttemptLease, _ error: GatewayError, _ kind: RoutePlan.Failure) {
        let provider = winner.model.deployments[winner.deployment].provider
        call.logger.debug("Upstream attempt failed", metadata: ["request.id": "\(call.requestID)", "provider": "\(provider)",
                                                                "error": "\(error.code)"])
        if case .failed = kind, error.code == .upstreamAuthFailed {
            // request.id comes with the request's logger (FrontMiddleware).
            call.logger.warning("Upstream rejected the provider credentials", metadata: ["provider": "\(provider)"])
        }
    }
}
