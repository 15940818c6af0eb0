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
    func admit<API: ClientAPI>(_ call: Call<API>, _ exchange: inout Exchange) async -> (GatewayError, HTTPFields)? {
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
        for (gate, what) in [(gate, "The gateway is"), (modelGates[model], "The deployments of '\(model)' are")] {
            guard let gate else { continue }
            switch await gate.enter(identity.priority) {
            case .entered(let permit):
                exchange.permits.append(permit)
            case .shed(let how):
                if Task.isCancelled { return (.clientClosed, [:]) }
                let why = how == .timedOut ? "no place within \(String(format: "%g", gate.timeoutSeconds)) s"
                                           : "the queue is full of requests of the same or a higher priority"
                return (GatewayError(.overloaded,
                                     "\(what) at capacity; this \(identity.priority.rawValue) request was shed (\(why)). Try again later.",
                                     retryAfterSeconds: 1), [:])
            }
        }
        return nil
    }

    /// What a request may cost at most, reserved against budgets while it runs: the estimated prompt and
    /// `max_tokens` (1,000 output tokens without it) at the dearest deployment of the model.
    func reservation(model: String, needs: RequestNeeds) -> Double {
        let usage = Usage(promptTokens: needs.estimatedPromptTokens, completionTokens: needs.maxOutputTokens ?? 1000)
        return table.models[model]?.deployments.map { $0.price.cost(of: usage) }.max() ?? 0
    }
}
