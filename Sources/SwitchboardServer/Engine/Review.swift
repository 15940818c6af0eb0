import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore

// Step 3½ of the engine — review: a request a stage held for a person (`RequestVerdict.review`) gets a ticket. In
// `wait` mode the client's request stays open until a reviewer decides (approved: on to planning, with the
// reviewer's edit if any; rejected: 403 `review_rejected`) or the deadline passes (`review.on_timeout`: 408
// `review_timeout`, or the fallback model). In `ticket` mode the client gets 202 and a ticket to poll at once.

/// What the review of a held request came to.
enum ReviewOutcome {
    /// Go on with the (possibly edited or re-routed) request.
    case proceed
    /// Answer the client with this instead.
    case respond(Response)
}

extension Gateway {
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    func hold<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange, reason: String) async -> ReviewOutcome {
        guard let desk = reviews else {
            return .respond(exchange.fail(GatewayError(.forbidden, "This request needs a person's review (\(reason)), and this gateway has no "
                                                       + "storage for review tickets."), api: API.self, recorder))
        }
        let ticket: ReviewTicket
        do {
            ticket = try await desk.open(api: API.reviewName, model: call.model, identity: call.identity, reason: reason, body: API.body(call.request))
        } catch {
            return .respond(exchange.fail(.storageUnavailable, api: API.self, recorder))
        }
        exchange.guardrails.append("review=\(ticket.id)")
        call.logger.info("request held for review", metadata: ["review": "\(ticket.id)", "reason": "\(reason)"])
        if desk.config.mode == .ticket {
            exchange.finish(status: 202, usage: nil)
            var headers = exchange.headers(modelName: call.model)
            headers[.contentType] = "application/json"
            exchange.emit(recorder)
            return .respond(Response(status: .accepted, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ReviewJSON.pending(ticket)))))
        }
        guard let decided = await desk.wait(for: ticket.id) else {
            return .respond(exchange.fail(.storageUnavailable, api: API.self, recorder))
        }
        return resume(decided, &call, &exchange, desk: desk)
    }

    /// Carries a decided ticket on: an approved one (edited or not) goes on; an expired one goes to the fallback model
    /// when configured; the others are refused.
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    func resume<API: ClientAPI>(_ ticket: ReviewTicket, _ call: inout Call<API>, _ exchange: inout Exchange, desk: ReviewDesk) -> ReviewOutcome {
        let approved = ticket.status == .approved || ticket.status == .done
        guard approved || (ticket.status == .expired && desk.config.onTimeout == .fallback) else {
            return .respond(exchange.fail(desk.refusal(ticket), api: API.self, recorder))
        }
        do {
            if approved, let edited = ticket.edited { call.request = try API.rebuilt(call.request, body: ByteBuffer(string: edited)) }
            // A model no deployment serves (a virtual one whose rule chose review) or a timeout: the fallback model.
            if !approved || table.models[call.model] == nil {
                guard let fallback = desk.config.fallbackModel ?? routing.defaultFallback else {
                    let error = approved
                        ? GatewayError(.forbidden, "A reviewer approved this request (review \(ticket.id)), but the model it names ('\(call.model)') has no "
                                       + "deployment of its own and neither review.fallback_model nor routing.default_fallback is set.")
                        : desk.refusal(ticket)
                    return .respond(exchange.fail(error, api: API.self, recorder))
                }
                call.request = try API.renamed(call.request, fallback)
            }
        } catch {
            return .respond(exchange.fail(error, api: API.self, recorder))
        }
        call.reviewed = true
        return .proceed
    }
}

/// The ticket as clients and reviewers see it.
enum ReviewJSON {
    static func pending(_ t: ReviewTicket) -> String {
        #"{"id":\#(JSONString.quote(t.id)),"object":"review","status":"pending","reason":\#(JSONString.quote(t.reason)),"# +
            #""poll_url":\#(JSONString.quote("/v1/reviews/" + t.id)),"expires_at":\#(t.deadlineMs / 1000)}"#
    }

    static func object(_ t: ReviewTicket, withRequest: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(t.id), "object": .string("review"), "status": .string(t.status.rawValue), "api": .string(t.api),
            "model": .string(t.model), "key_name": .string(t.keyName), "reason": .string(t.reason),
            "created_at_ms": .int(Int(t.createdMs)), "deadline_ms": .int(Int(t.deadlineMs)),
        ]
        if let team = t.team { o["team"] = .string(team) }
        if let by = t.decidedBy { o["decided_by"] = .string(by) }
        if let at = t.decidedMs { o["decided_at_ms"] = .int(Int(at)) }
        if let note = t.note { o["note"] = .string(note) }
        if withRequest {
            o["request"] = JSONValue.parse(Data(t.request.utf8)) ?? .string(t.request)
            if let edited = t.edited { o["edited"] = JSONValue.parse(Data(edited.utf8)) ?? .string(edited) }
        }
        return .object(o)
    }
}
