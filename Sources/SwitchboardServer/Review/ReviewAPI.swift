import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardStore

/// Human review over HTTP. Reviewers (role `reviewer`, or `admin`): `GET /admin/reviews?status=&limit=`,
/// `GET /admin/reviews/{id}` (with the held request), `POST /admin/reviews/{id}/approve` (optional `note`, and
/// `request`: the body to send instead) and `POST /admin/reviews/{id}/reject` (optional `note`, shown to the client);
/// every decision is in the audit log. Clients in `ticket` mode: `GET /v1/reviews/{id}` — 202 while pending, the
/// answer once approved (delivered once), the refusal otherwise.
enum ReviewAPI {
    static func add(reviewers admin: RouterGroup<GatewayRequestContext>, desk: ReviewDesk, auditor: Auditor) {
        let reviews = admin.group("reviews").add(middleware: RoleMiddleware(.reviewer, .admin))
        reviews.get { request, _ in
            let p = request.uri.queryParameters
            var status: ReviewTicket.Status?
            if let text = p.get("status") {
                guard let s = ReviewTicket.Status(rawValue: text) else {
                    throw LogsAPI.bad("status", "expected one of \(ReviewTicket.Status.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(text)\"")
                }
                status = s
            }
            let limitText = p.get("limit") ?? "100"
            guard let limit = Int(limitText), (1...1000).contains(limit) else { throw LogsAPI.bad("limit", "expected 1 to 1000, found \"\(limitText)\"") }
            let tickets: [ReviewTicket]
            do { tickets = try await desk.storage.reviews(status: status, limit: limit) } catch { throw GatewayError.storageUnavailable }
            return AdminAPI.json(.object(["object": "list", "data": .array(tickets.map { ReviewJSON.object($0, withRequest: false) })]))
        }
        reviews.get(":id") { _, context in
            AdminAPI.json(ReviewJSON.object(try await ticket(desk, context), withRequest: true))
        }
        for (verb, status) in [("approve", ReviewTicket.Status.approved), ("reject", .rejected)] {
            reviews.post(":id/\(verb)") { request, context in
                let current = try await ticket(desk, context)
                let body = request.headers[.contentLength] == "0" ? JSONValue.object([:]) : (try? await AdminAPI.body(request)) ?? .object([:])
                let note = body["note"]?.string.map { String($0.prefix(2000)) }
                var edited: String?
                if status == .approved, let replacement = body["request"], replacement != .null {
                    edited = try validEdit(replacement, api: current.api)
                }
                let actor = AuditActor(context)
                let decision = ReviewDecision(status: status, by: actor.name, atMs: desk.nowMs, note: note, edited: edited)
                let decided: Bool
                do { decided = try await desk.storage.decideReview(id: current.id, from: .pending, decision) } catch { throw GatewayError.storageUnavailable }
                guard decided else {
                    throw GatewayError(.conflict, "Review \(current.id) is already \(((try? await desk.storage.review(id: current.id))?.status ?? current.status).rawValue).")
                }
                var detail: [String: JSONValue] = ["model": .string(current.model), "key_name": .string(current.keyName), "reason": .string(current.reason)]
                if let note { detail["note"] = .string(note) }
                await auditor.record(status == .rejected ? .reviewReject : edited == nil ? .reviewApprove : .reviewEdit, .review(current.id),
                                     by: actor, detail: detail)
                let after = (try? await desk.storage.review(id: current.id)) ?? current
                return AdminAPI.json(ReviewJSON.object(after, withRequest: true))
            }
        }
    }

    /// The ticket named by the path, or 404.
    static func ticket(_ desk: ReviewDesk, _ context: GatewayRequestContext) async throws -> ReviewTicket {
        let id = context.parameters.get("id") ?? ""
        let found: ReviewTicket?
        do { found = try await desk.storage.review(id: id) } catch { throw GatewayError.storageUnavailable }
        guard let found else { throw GatewayError(.notFound, "No review \"\(id)\".") }
        return found
    }

    /// A reviewer's replacement body: a JSON object the ticket's API accepts.
    static func validEdit(_ value: JSONValue, api: String) throws -> String {
        guard value.object != nil, let data = try? JSONEncoder().encode(value) else {
            throw LogsAPI.bad("request", "expected the request body to send instead, as a JSON object")
        }
        let buffer = ByteBuffer(data: data)
        do {
            switch api {
            case "anthropic": _ = try AnthropicMessagesRequest.parse(buffer)
            case "responses": _ = try ResponsesRequest.parse(buffer)
            default: _ = try OpenAIRequest.chat(buffer)
            }
        } catch {
            let kind = ["anthropic": "messages", "responses": "responses"][api] ?? "chat completions"
            throw GatewayError(.invalidParameter, "request: not a valid \(kind) request: \(error.message)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// `GET /v1/reviews/{id}`: the client's poll (its own tickets only).
    static func add(clients v1: RouterGroup<GatewayRequestContext>, desk: ReviewDesk, live: LiveGateway) {
        v1.get("reviews/:id") { _, context in
            let identity = context.identity!
            var ticket = try await ticket(desk, context)
            guard ticket.keyID == identity.keyID, ticket.keyName == identity.name else { throw GatewayError(.notFound, "No review \"\(ticket.id)\".") }
            if ticket.status == .pending, desk.nowMs >= ticket.deadlineMs { ticket = await desk.expire(ticket) ?? ticket }
            switch ticket.status {
            case .pending:
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                return Response(status: .accepted, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ReviewJSON.pending(ticket))))
            case .done:
                throw GatewayError(.conflict, "The answer to review \(ticket.id) was already delivered.")
            case .rejected:
                throw desk.refusal(ticket)
            case .expired where desk.config.onTimeout == .reject:
                throw desk.refusal(ticket)
            case .approved, .expired:
                // Delivered once: whoever moves it to done runs it.
                let claimed = (try? await desk.storage.decideReview(id: ticket.id, from: ticket.status,
                                                                    ReviewDecision(status: .done, by: ticket.decidedBy ?? "timeout", atMs: desk.nowMs))) ?? false
                guard claimed else { throw GatewayError(.conflict, "The answer to review \(ticket.id) was already delivered.") }
                let body = ByteBuffer(string: ticket.edited ?? ticket.request)
                let (requestID, logger, address) = (context.requestID, context.logger, context.clientAddress)
                let gateway = live.gateway
                if ticket.api == "responses" {
                    // The held body already holds the conversation it continues: it is served as it is, and stored as
                    // a first turn whose input items are the whole conversation.
                    let request = try ResponsesRequest.parse(body).standalone()
                    return await gateway.serve(ResponsesAPI.self, request, identity: identity, requestID: requestID, clientAddress: address,
                                               logger: logger, reviewed: ticket)
                }
                if ticket.api == "anthropic" {
                    let request = try AnthropicMessagesRequest.parse(body)
                    return await gateway.serve(AnthropicAPI.self, request, identity: identity, requestID: requestID, clientAddress: address,
                                               logger: logger, reviewed: ticket)
                }
                let request = try OpenAIRequest.chat(body)
                return await gateway.serve(OpenAIAPI.self, request, identity: identity, requestID: requestID, clientAddress: address,
                                           logger: logger, reviewed: ticket)
            }
        }
    }
}
