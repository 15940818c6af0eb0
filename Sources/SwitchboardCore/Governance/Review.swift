/// A request held for a person (human review): what was asked, why it was held, and what was decided.
public struct ReviewTicket: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// Waiting for a reviewer.
        case pending
        /// A reviewer let it go (possibly edited); a waiting client is answered, a polling one gets it on its next poll.
        case approved
        /// A reviewer refused it.
        case rejected
        /// Nobody decided before the deadline.
        case expired
        /// Approved and answered (ticket mode: the answer was delivered once).
        case done
    }

    public var id: String
    public var createdMs: Int64
    /// When the configured default (`review.on_timeout`) applies.
    public var deadlineMs: Int64
    public var status: Status
    /// `openai` (chat completions) or `anthropic` (messages).
    public var api: String
    /// The public model the client asked for.
    public var model: String
    public var keyName: String
    public var keyID: String?
    public var team: String?
    /// Why it was held: the guardrail or routing rule, and its finding.
    public var reason: String
    /// The request body as it would go upstream (already masked by the privacy guardrail).
    public var request: String
    public var decidedBy: String?
    public var decidedMs: Int64?
    /// The reviewer's note to the record (and, on rejection, to the client).
    public var note: String?
    /// The body the reviewer approved instead of `request`, when edited.
    public var edited: String?

    public init(id: String, createdMs: Int64, deadlineMs: Int64, status: Status = .pending, api: String, model: String, keyName: String,
                keyID: String? = nil, team: String? = nil, reason: String, request: String) {
        self.id = id
        self.createdMs = createdMs
        self.deadlineMs = deadlineMs
        self.status = status
        self.api = api
        self.model = model
        self.keyName = keyName
        self.keyID = keyID
        self.team = team
        self.reason = reason
        self.request = request
    }
}

/// A decision on a pending ticket.
public struct ReviewDecision: Sendable, Equatable {
    public var status: ReviewTicket.Status
    public var by: String
    public var atMs: Int64
    public var note: String?
    public var edited: String?

    public init(status: ReviewTicket.Status, by: String, atMs: Int64, note: String? = nil, edited: String? = nil) {
        self.status = status
        self.by = by
        self.atMs = atMs
        self.note = note
        self.edited = edited
    }
}
