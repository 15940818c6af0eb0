import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting

// Stages: how a feature joins the engine without editing its loop. A request stage runs after admission and
// before planning (input guardrails, cache lookup, routing rules); a response stage sees the answer on its way to the
// client (output guardrails, restoring masked values, capturing bodies). Each stage is a file in `Stages/` with its
// own config section; the order they run in is written once, in `EngineStages.make`.

/// What a request stage decided.
enum RequestVerdict: Sendable {
    /// Go on to the next stage (the stage may have rewritten the request).
    case pass
    /// The stage answered the request itself (a cache hit, a review hold): nothing goes upstream.
    case answer(Response)
    /// The request may not go on.
    case refuse(GatewayError)
    /// A person must decide (why): the request is held once every stage has run (`review:`).
    case review(String)
}

/// A step every request takes after admission and before it is planned: it may inspect and rewrite the request,
/// answer it itself, or refuse it.
protocol RequestStage: Sendable {
    func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict
}

/// What a response stage decided about an answer or a chunk.
enum ResponseVerdict: Sendable {
    /// Send it on (possibly rewritten).
    case pass
    /// End the answer with this error (a stream ends with an error event, never silently).
    case stop(GatewayError)
}

/// A step every answer takes on its way to the client. `start` is called once per request that got an answer and
/// returns the stage's state for it (nil: nothing to do for this request).
protocol ResponseStage: Sendable {
    func start<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> (any ResponseFilter)?
}

/// One response stage's state for one answer. A stream's chunks come in order, one at a time: the next chunk is read
/// from upstream only after this one was written to the client (back-pressure).
protocol ResponseFilter: Sendable {
    /// A whole (non-streamed) answer, before it is sent.
    mutating func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict
    /// One chunk of a stream, before it is sent.
    mutating func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict
    /// The stream's last bytes, written by the relay itself: what was left of an event, an error event.
    mutating func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange)
    /// The upstream's stream is over: what the stage still holds, to send before the relay's own last bytes, or the
    /// error the stream must end with instead.
    mutating func finish(_ exchange: inout Exchange) async -> (bytes: ByteBuffer?, error: GatewayError?)
}

extension ResponseFilter {
    mutating func finish(_ exchange: inout Exchange) async -> (bytes: ByteBuffer?, error: GatewayError?) { (nil, nil) }
}

/// The engine's stages, in the order they run.
struct EngineStages: Sendable {
    var request: [any RequestStage] = []
    var response: [any ResponseStage] = []

    /// The stages the configuration turns on, in order. This is the one place where their order is written.
    static func make(config: GatewayConfig, table: RoutingTable, geoip: MaxMindDB? = nil, transport: (any UpstreamTransport)? = nil,
                     responses: ResponseStore? = nil) -> EngineStages {
        var stages = EngineStages()
        // Request stages, in order:
        //  1. privacy: personal data and secrets masked or refused (`guardrails.pii`)
        if !config.guardrails.pii.isEmpty { stages.request.append(PrivacyStage(policies: config.guardrails.pii)) }
        //  2. injection: prompt-injection and jailbreak attempts logged, flagged or refused (`guardrails.injection`)
        if !config.guardrails.injection.isEmpty { stages.request.append(InjectionStage(policies: config.guardrails.injection)) }
        //  3. router: routing rules choose the model (`router.rules`)
        if !config.router.rules.isEmpty || !config.router.virtualModels.isEmpty {
            stages.request.append(RouterStage(router: config.router, table: table, defaultFallback: config.routing.defaultFallback,
                                              scorer: (try? RouterStage.classifier(config.router)) ?? DifficultyClassifier(), geoip: geoip))
        }
        //  4. capabilities: refuse what no reachable deployment can serve (always on)
        stages.request.append(CapabilityStage(table: table))
        // Response stages, in order (the last sees what the client gets):
        //  1. output guardrails: what must not reach the client (`guardrails.output`)
        if !config.guardrails.output.isEmpty, let transport {
            stages.response.append(OutputGuardStage(policies: config.guardrails.output, transport: transport))
        }
        //  2. body capture: the answer as the upstream gave it, for the request log (`logging.bodies`)
        if config.logging.bodies.enabled { stages.response.append(BodyCaptureStage()) }
        //  3. privacy: pseudonymised values put back (after the body capture: the request log never holds them)
        if config.guardrails.pii.contains(where: { $0.action == .pseudonymise }) { stages.response.append(PrivacyRestoreStage()) }
        //  4. stored responses: a Responses API answer as the client gets it, for `previous_response_id` (`store`)
        if let responses { stages.response.append(ResponsesStoreStage(store: responses)) }
        return stages
    }

    /// Runs the request stages in order until one answers or refuses.
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    nonisolated(nonsending) func runRequest<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
        var held: String?
        for stage in request {
            switch await stage.handle(&call, &exchange) {
            case .pass: continue
            case .review(let reason):
                // The later stages still run (masking, routing): the ticket holds the request as it would go upstream.
                if !call.reviewed, held == nil { held = reason }
            case let verdict: return verdict
            }
        }
        return held.map { .review($0) } ?? .pass
    }

    /// The response stages' states for one answer (empty when none has anything to do).
    func filters<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> ResponseFilters {
        ResponseFilters(all: response.compactMap { $0.start(call, exchange) })
    }
}

/// The response stages' states for one answer, run in order.
struct ResponseFilters: Sendable {
    var all: [any ResponseFilter]

    var isEmpty: Bool { all.isEmpty }

    mutating func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
        for i in all.indices {
            if case .stop(let error) = await all[i].answer(&body, &exchange) { return .stop(error) }
        }
        return .pass
    }

    mutating func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
        for i in all.indices {
            if case .stop(let error) = await all[i].chunk(&bytes, &exchange) { return .stop(error) }
        }
        return .pass
    }

    mutating func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange) {
        for i in all.indices { all[i].ending(bytes, &exchange) }
    }

    /// What the stages still hold at the end of the stream, each stage's passed through the stages after it (or the
    /// error a later stage ended the stream with).
    mutating func finish(_ exchange: inout Exchange) async -> (bytes: ByteBuffer, error: GatewayError?) {
        var out = ByteBuffer()
        for i in all.indices {
            let (held, error) = await all[i].finish(&exchange)
            if let error { return (out, error) }
            guard var bytes = held else { continue }
            for k in all.indices.dropFirst(i + 1) {
                if case .stop(let error) = await all[k].chunk(&bytes, &exchange) { return (out, error) }
            }
            out.writeBuffer(&bytes)
        }
        return (out, nil)
    }
}
