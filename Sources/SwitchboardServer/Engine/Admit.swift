import Foundation
import HTTPTypes
import SwitchboardCore
import SwitchboardRouting

// Step 2 of the engine — admit: the key's and its team's rate limits, concurrency and budgets, all or nothing (a
// claim given back with the actual usage when the request is recorded); then the priority queues — of
// `server.max_in_flight`, and of a model whose deployments all have `max_concurrent` — where the lowest classes are
// shed first.

extension Gateway {
    /// Admits the request or says why not: the error, and the headers it goes with (`x-ratelimit-*`).
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    nonisolated(nonsending) func admit<API: ClientAPI>(_ call: Call<API>, _ exchange: inout Exchange) async -> (GatewayError, HTTPFields)? {
        let model = call.model
        let identity = call.identity
        let checks = identity.admissionChecks(model: model)
        if !checks.isEmpty, let admission {
            let needs = API.needs(call.request)
            let charge = AdmissionCharge(tokens: needs.estimatedPromptTokens + (needs.maxOutputTokens ?? 0),
                                         reserveUSD: reservation(model: model, needs: needs))
            do {
                switch try await admission.admit(checks, charge: charge) {
                case .refused(let refusal):
                    return refusal.error(identity)
                case .admitted(let grant):
                    exchange.ticket = AdmissionTicket(grant: grant, ledger: admission, checks: checks, alerts: alerts)
                }
            } catch {
                call.logger.error("Admission failed: storage unreachable", metadata: ["request.id": "\(call.requestID)", "error.type": "\(type(of: error))"])
                return (GatewayError(.storageUnavailable,
                                     "Limits could not be checked: storage is not reachable.", retryAfterSeconds: 1), [:])
            }
        }
        // The gates in order; a refusal's wording is only made for a refusal (this runs for every request).
        if let gate, let shed = await enter(gate, call, &exchange, what: "The gateway is") { return shed }
        if let gate = modelGates[model], let shed = await enter(gate, call, &exchange, what: "The deployments of '\(model)' are") { return shed }
        return nil
    }

    /// A place behind one priority gate (kept in `exchange` until the request ends), or why the request was shed.
    private func enter<API: ClientAPI>(_ gate: PriorityGate, _ call: Call<API>, _ exchange: inout Exchange,
                                       what: @autoclosure () -> String) async -> (GatewayError, HTTPFields)? {
        let identity = call.identity
        switch await gate.enter(identity.priority) {
        case .entered(let permit):
            exchange.permits.append(permit)
            return nil
        case .shed(let how):
            if Task.isCancelled { return (.clientClosed, [:]) }
            let why = how == .timedOut ? "no place within \(String(format: "%g", gate.timeoutSeconds)) s"
                                       : "the queue is full of requests of the same or a higher priority"
            return (GatewayError(.overloaded,
                                 "\(what()) at capacity; this \(identity.priority.rawValue) request was shed (\(why)). Try again later.",
                                 retryAfterSeconds: 1), [:])
        }
    }

    /// What a request may cost at most, reserved against budgets while it runs: the estimated prompt and
    /// `max_tokens` (1,000 output tokens without it) at the dearest deployment of the model.
    func reservation(model: String, needs: RequestNeeds) -> Double {
        let usage = Usage(promptTokens: needs.estimatedPromptTokens, completionTokens: needs.maxOutputTokens ?? 1000)
        return table.models[model]?.deployments.map { $0.price.cost(of: usage) }.max() ?? 0
    }
}
