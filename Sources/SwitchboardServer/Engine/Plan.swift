import SwitchboardCore
import SwitchboardRouting

// Step 4 of the engine — plan: the public model becomes an ordered plan of attempts (`RoutePlan`): its deployments
// that can serve the request (capabilities, context window), are healthy and have room under their caps, then its
// fallbacks, until the deadline. When the plan gives up, the client's error says why.

extension Gateway {
    /// The request's plan of attempts (nil: its model does not exist).
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    func plan<API: ClientAPI>(_ call: Call<API>) -> RoutePlan? {
        let identity = call.identity
        return table.plan(model: call.model, needs: API.needs(call.request), affinityKey: call.affinity ?? API.affinityKey(call.request),
                          escalation: call.escalation, policy: call.policy, expectedOutputTokens: expectedOutputTokens,
                          allows: { identity.allows(model: $0) })
    }

    /// The client's error when routing gave up: the last attempt's failure when there was one, else why nothing
    /// could be tried.
    func exhaustedError(_ why: RoutePlan.Exhausted, last: GatewayError?, model: String, plan: RoutePlan) -> GatewayError {
        switch why {
        case .noCapableDeployment(let missing):
            if let last { return last }
            return .unsupportedCapability(model: model, missing)
        case .excluded(let why):
            if let last { return last }
            return Self.excludedError(why, model: model, policy: plan.policy)
        case .unavailable(let waitMs, let onlyRateLimited, let saturated):
            if let last { return last }
            let wait = max(1, Int((waitMs / 1000).rounded(.up)))
            if saturated {
                return GatewayError(.deploymentCapacityExceeded,
                                    "Every deployment of the model '\(model)' is at its configured capacity (rpm, tpm or concurrency); retry in \(wait) s.",
                                    retryAfterSeconds: wait)
            }
            if onlyRateLimited {
                return GatewayError(.upstreamRateLimited,
                                    "Every deployment of the model '\(model)' is rate limited by its provider; retry in \(wait) s.", retryAfterSeconds: wait)
            }
            return GatewayError(.noHealthyDeployment,
                                "Every deployment of the model '\(model)' is failing or being re-checked after failures; retry in \(wait) s.",
                                retryAfterSeconds: wait)
        case .attemptsSpent:
            return last ?? GatewayError(.noHealthyDeployment,
                                        "The deployments of the model '\(model)' are being re-checked after failures; retry shortly.",
                                        retryAfterSeconds: 1)
        case .deadline:
            let seconds = ((plan.deadlineMs - plan.startMs) / 100).rounded() / 10
            let detail = last.map { " The last attempt failed: \($0.message)" } ?? ""
            return GatewayError(.deadlineExceeded,
                                "No deployment answered the model '\(model)' within its \(seconds.formatted()) s deadline after \(plan.totalAttempts) attempt(s).\(detail)")
        }
    }

    /// The client's error when the request's own policy leaves no deployment: 403 for regions (the key's data may
    /// not go anywhere else), 400 for the provider and price limits the request set.
    static func excludedError(_ why: DeploymentPolicy.Exclusion, model: String, policy: DeploymentPolicy) -> GatewayError {
        switch why {
        case .region:
            let allowed = ((policy.regions ?? []) + (policy.teamRegions.map { ["team: " + $0.joined(separator: ", ")] } ?? [])).joined(separator: "; ")
            return GatewayError(.forbidden, "No deployment of the model '\(model)' (nor of its fallbacks) is in a region this key may send requests to (\(allowed)).")
        case .provider:
            return GatewayError(.badRequest, "No deployment of the model '\(model)' is on a provider the request allows (its 'provider' preferences: only, ignore, order with allow_fallbacks false).")
        case .price:
            return GatewayError(.badRequest, "Every deployment of the model '\(model)' costs more than the request's price limit (provider.max_price, or x-switchboard-max-price).")
        }
    }
}
