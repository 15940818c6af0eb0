import SwitchboardCore
import Synchronization

/// A clock that moves only when a test moves it. Sleepers wake when `advance` passes their deadline; a test can
/// await the moment the engine starts sleeping (`sleepers(atLeast:)`) instead of guessing with a real sleep.
public final class ManualClock: EngineClock {
    private struct Sleeper {
        var deadline: Double
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = 0.0
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Every sleep asked for so far, in milliseconds, in order.
        var asked: [Double] = []
        var watchers: [Int: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Milliseconds since the clock was made.
    public var now: Double { state.withLock { $0.now } }

    public func nowMs() -> Double { now }

    /// Every sleep the engine has asked for, in milliseconds, in order.
    public var sleepsAsked: [Double] { state.withLock { $0.asked } }

    /// How many tasks are asleep on this clock now.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    public func sleep(ms: Double) async throws {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let ready: [CheckedContinuation<Void, Never>] = state.withLock { s in
                    if Task.isCancelled {
                        c.resume(throwing: CancellationError())
                        return []
                    }
                    s.asked.append(ms)
                    if ms <= 0 {
                        c.resume()
                        return []
                    }
                    s.sleepers[id] = Sleeper(deadline: s.now + ms, continuation: c)
                    return Self.takeWatchers(&s)
                }
                for w in ready { w.resume() }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock on by `ms` and wakes every sleeper whose time has come.
    public func advance(_ ms: Double) {
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { s in
            s.now += ms
            let ids = s.sleepers.filter { $0.value.deadline <= s.now }.map(\.key)
            return ids.compactMap { s.sleepers.removeValue(forKey: $0)?.continuation }
        }
        for c in due { c.resume() }
    }

    /// Moves the clock on to the earliest sleeper's deadline (nothing when nobody sleeps).
    public func advanceToNextDeadline() {
        guard let next = state.withLock({ s in s.sleepers.values.map(\.deadline).min().map { $0 - s.now } }) else { return }
        advance(max(next, 0))
    }

    /// Returns once at least `count` tasks are asleep on this clock, or when the task is cancelled.
    public func sleepers(atLeast count: Int) async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now: Bool = state.withLock { s in
                    if s.sleepers.count >= count || Task.isCancelled { return true }
                    s.watchers[id] = (count, c)
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.watchers.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Runs `body`, moving the clock on to each sleeper's deadline as soon as one sleeps, until `body` returns: the
    /// engine's waits (back-off, Retry-After, hedging delays) pass at once, and `sleepsAsked` says what they were.
    public func driving<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while !Task.isCancelled {
                    await self.sleepers(atLeast: 1)
                    self.advanceToNextDeadline()
                }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    private static func takeWatchers(_ s: inout State) -> [CheckedContinuation<Void, Never>] {
        let n = s.sleepers.count
        let ready = s.watchers.filter { $0.value.count <= n }
        for id in ready.keys { s.watchers.removeValue(forKey: id) }
        return ready.values.map(\.continuation)
    }
}
