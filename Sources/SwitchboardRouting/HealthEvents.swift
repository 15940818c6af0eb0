/// A change of a deployment's health, as its circuit breaker or the active health checks saw it.
public struct HealthTransition: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Ejected: not tried until its ejection ends.
        case open
        /// The ejection ended: one trial request goes.
        case halfOpen = "half_open"
        /// Healthy again.
        case closed
        /// Rate limited: set aside until its `Retry-After` (or `routing.health.cooldown_s`).
        case coolingDown = "cooling_down"
        /// Active health checks took it out.
        case down
        /// Active health checks brought it back.
        case up
    }

    public var state: State
    /// Why, in a few words for an operator: "5 consecutive failures; ejected for 5 s".
    public var reason: String

    public init(_ state: State, _ reason: String) {
        self.state = state
        self.reason = reason
    }
}

/// A `HealthTransition` and when it happened, on the routing table's clock (milliseconds).
public struct HealthEvent: Sendable, Equatable {
    public var atMs: Double
    public var state: HealthTransition.State
    public var reason: String

    public init(atMs: Double, _ transition: HealthTransition) {
        self.atMs = atMs
        state = transition.state
        reason = transition.reason
    }
}

/// The most recent events of one deployment, oldest first; past `capacity` the oldest is dropped.
public struct HealthEventRing: Sendable, Equatable {
    public static let capacity = 50
    public private(set) var events: [HealthEvent] = []

    public init() {}

    mutating func append(_ event: HealthEvent) {
        if events.count >= Self.capacity { events.removeFirst(events.count - Self.capacity + 1) }
        events.append(event)
    }
}

/// A duration for a reason text: "250 ms", "5 s", "1.5 s", "2 min".
func describeMs(_ ms: Double) -> String {
    if ms < 1000 { return "\(Int(ms.rounded())) ms" }
    let s = ms / 1000
    if s >= 120, s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60)) min" }
    let tenths = (s * 10).rounded() / 10
    return tenths == tenths.rounded() ? "\(Int(tenths)) s" : "\(tenths) s"
}
