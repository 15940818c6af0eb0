import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardRouting

// Step 8 of the engine — record: what is known about a request while it runs becomes its `RequestRecord` — usage,
// cost, latency, time to first byte, outcome — handed to the recorder (metrics, then the request log, batched off the
// request path). Emitting also gives back what the request held: its claim on its key's limits (completed with the
// actual usage and cost), its places in the priority queues, its spans.

/// What is known about one request while it runs; becomes its `RequestRecord`.
struct Exchange: Sendable {
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
    /// The routing rule (and tier) that chose the model, when one did.
    var route: RouteNote?
    /// Answers an output check dropped (a tier list escalated): their usage and cost count with the request's.
    var droppedUsage = Usage()
    var droppedUSD = 0.0
    /// What the guardrails did to the request (`pii=pseudonymise:email,phone`), for `x-switchboard-guardrails`.
    var guardrails: [String] = []

    @inline(never) // keeps its temporaries out of the async frames that make an exchange (Gateway.serve)
    init(endpoint: String, model: String, stream: Bool, identity: Identity, requestID: String) {
        record = RequestRecord(id: requestID, startedAt: Date().timeIntervalSince1970, keyName: identity.name,
                               endpoint: endpoint, model: model, stream: stream, status: 0, keyID: identity.keyID, team: identity.team)
        record.staticScope = identity.staticScope
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
    @inline(never) // its copy of the record stays out of the async frames that call it
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

    /// An attempt goes to `deployment` of `model`.
    mutating func attempt(_ deployment: RoutedDeployment, reason: RoutePlan.Reason, model: String) {
        record.attempts += 1
        record.routeReason = reason.rawValue
        record.servedModel = model == record.model ? nil : model
        record.provider = deployment.provider
        record.upstreamModel = deployment.upstreamModel
        price = deployment.price
    }

    /// An answer was dropped by an output check: it was paid for all the same.
    mutating func dropped(_ usage: Usage?) {
        guard let usage else { return }
        droppedUsage = droppedUsage.adding(usage)
        droppedUSD += price.cost(of: usage)
    }

    /// A dropped answer is the client's after all (no later tier answered): it is no longer counted apart.
    mutating func undrop(_ usage: Usage?) {
        guard let usage else { return }
        droppedUsage = droppedUsage.subtracting(usage)
        droppedUSD = max(0, droppedUSD - price.cost(of: usage))
    }

    mutating func firstByte() {
        record.ttftMs = Self.ms(ContinuousClock.now - started)
    }

    @inline(never) // as `emit`
    mutating func finish(status: Int, usage: Usage?, errorCode: String? = nil) {
        record.status = status
        record.errorCode = errorCode
        record.latencyMs = Self.ms(ContinuousClock.now - started)
        if let usage {
            record.usage = usage.adding(droppedUsage)
            record.costUSD = price.cost(of: usage) + droppedUSD
        } else if droppedUSD > 0 {
            record.usage = droppedUsage
            record.costUSD = droppedUSD
        }
    }

    /// Ends the request with an error the gateway answers itself (the body is kept as the answer when bodies are logged).
    @inline(never) // as above
    mutating func fail<API: ClientAPI>(_ error: GatewayError, api: API.Type, _ recorder: any UsageRecorder, headers: HTTPFields = [:]) -> Response {
        finish(status: error.status, usage: nil, errorCode: error.code.name)
        let body = API.errorBody(error)
        if bodyLimit != nil { keepResponse(ByteBuffer(string: body)) }
        emit(recorder)
        return error.response(body: body, headers: headers)
    }

    /// The routing headers every answer carries: the model, provider and attempts, the route, the key's limits.
    func headers(modelName: String) -> HTTPFields {
        // Room for these and for what the response adds to them (its content type, `date`, `x-request-id`, the price
        // and the review's status): the fields are stored once, not regrown as they are added. Appended, not set, as
        // none is there yet (setting looks for the name first, each time). A governed key's six `x-ratelimit-*` too.
        var h = HTTPFields()
        h.reserveCapacity(ticket == nil ? 10 : 16)
        h.append(HTTPField(name: .switchboardModel, value: modelName))
        if let p = record.provider { h.append(HTTPField(name: .switchboardProvider, value: p)) }
        h.append(HTTPField(name: .switchboardAttempts, value: String(record.attempts)))
        if let reason = record.routeReason {
            h.append(HTTPField(name: .switchboardRoute, value: route.map { "\(reason); \($0.header(served: modelName))" } ?? reason))
        }
        if !guardrails.isEmpty { h.append(HTTPField(name: .switchboardGuardrails, value: guardrails.joined(separator: ", "))) }
        ticket?.grant.status.add(to: &h)
        return h
    }

    static func ms(_ d: Duration) -> Double { SystemEngineClock.ms(d) }
}
