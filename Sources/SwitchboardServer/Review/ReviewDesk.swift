import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardStore

/// Human review: tickets for held requests, kept in storage so that any replica can take the decision and the one
/// holding the client sees it (it looks every `review.poll_ms`). A decision moves a ticket out of `pending` exactly
/// once, whoever tries first (`Storage.decideReview` is atomic).
final class ReviewDesk: Sendable {
    let config: ReviewConfig
    let storage: any Storage
    let clock: any EngineClock
    let now: @Sendable () -> Double

    init(config: ReviewConfig, storage: any Storage, clock: any EngineClock, now: @escaping @Sendable () -> Double) {
        self.config = config
        self.storage = storage
        self.clock = clock
        self.now = now
    }

    var nowMs: Int64 { Int64((now() * 1000).rounded()) }

    /// Opens a ticket for a held request.
    func open(api: String, model: String, identity: Identity, reason: String, body: ByteBuffer) async throws -> ReviewTicket {
        let created = nowMs
        let ticket = ReviewTicket(id: "rev_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24),
                                  createdMs: created, deadlineMs: created + Int64(config.waitSeconds * 1000), api: api, model: model,
                                  keyName: identity.name, keyID: identity.keyID, team: identity.team, reason: reason,
                                  request: String(buffer: body))
        try await storage.insertReview(ticket)
        return ticket
    }

    /// Waits until the ticket is decided or its deadline passes (then it is marked expired); the ticket as it ends.
    /// A storage that cannot be read counts as no decision.
    func wait(for id: String) async -> ReviewTicket? {
        while !Task.isCancelled {
            guard let ticket = try? await storage.review(id: id) else { return nil }
            if ticket.status != .pending { return ticket }
            if nowMs >= ticket.deadlineMs { return await expire(ticket) }
            try? await clock.sleep(ms: Double(config.pollMilliseconds))
        }
        return nil
    }

    /// Marks a pending ticket past its deadline as expired (unless a decision got there first); the ticket after.
    func expire(_ ticket: ReviewTicket) async -> ReviewTicket? {
        _ = try? await storage.decideReview(id: ticket.id, from: .pending, ReviewDecision(status: .expired, by: "timeout", atMs: nowMs))
        return try? await storage.review(id: ticket.id)
    }

    /// The error a client gets for a ticket that ended without approval.
    func refusal(_ ticket: ReviewTicket) -> GatewayError {
        if ticket.status == .rejected {
            return GatewayError(.reviewRejected, "A reviewer rejected this request" + (ticket.note.map { ": \($0)" } ?? ".")
                                + " (review \(ticket.id))")
        }
        return GatewayError(.reviewTimeout, "Nobody reviewed this request within \(Int(config.waitSeconds)) s (review \(ticket.id)).")
    }
}
