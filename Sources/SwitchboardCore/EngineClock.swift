/// The clock the request engine reads and sleeps on: routing's books, back-off, hedging and the first-token and
/// total limits of a stream. The gateway runs on `SystemEngineClock`; tests inject a manual one and move it on.
public protocol EngineClock: Sendable {
    /// Milliseconds since an arbitrary start, never going back.
    func nowMs() -> Double
    /// Returns after `ms` milliseconds on this clock, or at once (throwing) when the task is cancelled.
    func sleep(ms: Double) async throws
}

/// The monotonic system clock, in milliseconds since the gateway started.
public struct SystemEngineClock: EngineClock {
    private let start = ContinuousClock.now

    public init() {}

    public func nowMs() -> Double { Self.ms(ContinuousClock.now - start) }

    public func sleep(ms: Double) async throws {
        try await Task.sleep(for: .microseconds(Int64((max(ms, 0) * 1000).rounded(.up))))
    }

    /// A duration in milliseconds.
    public static func ms(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}
