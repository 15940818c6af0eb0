import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import SwitchboardServer
import Testing

/// The event loop's workers: a request's task, its answer given, waits for the next request instead of ending (and
/// with it the memory its frames took), at most `LoopExecutor.maxParked` of them on a loop.
@Suite struct LoopExecutorTests {
    /// Runs `work` through `executor` from its loop; returns once it has run.
    private func run(_ executor: LoopExecutor, _ work: @escaping @Sendable () async -> Void = {}) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            executor.loop.execute { executor.run { await work(); done.resume() } }
        }
    }

    private func onLoop<T: Sendable>(_ executor: LoopExecutor, _ body: @escaping @Sendable () -> T) async throws -> T {
        try await executor.loop.submit(body).get()
    }

    @Test func oneWorkerServesRequestsOneAfterAnother() async throws {
        let executor = LoopExecutor(loop: MultiThreadedEventLoopGroup.singleton.next())
        let ranOnLoop = NIOLockedValueBox(0)
        for _ in 0..<20 {
            await run(executor) { if executor.loop.inEventLoop { ranOnLoop.withLockedValue { $0 += 1 } } }
        }
        #expect(ranOnLoop.withLockedValue { $0 } == 20)
        #expect(try await onLoop(executor) { executor.started } == 1)
        #expect(try await onLoop(executor) { executor.waiting } == 1)
    }

    @Test func requestsAtOnceGetWorkersOfTheirOwnWhichThenWaitUpToTheBound() async throws {
        let executor = LoopExecutor(loop: MultiThreadedEventLoopGroup.singleton.next())
        let many = LoopExecutor.maxParked + 6
        let gate = Gate()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<many { group.addTask { await self.run(executor) { await gate.wait() } } }
            await gate.whenWaiting(many)
            await gate.open()
        }
        #expect(try await onLoop(executor) { executor.started } == many)
        #expect(try await onLoop(executor) { executor.waiting } == LoopExecutor.maxParked)
        // The next requests find them waiting: no new task.
        for _ in 0..<10 { await run(executor) }
        #expect(try await onLoop(executor) { executor.started } == many)
    }

    /// What a request's work held is released once it has run, not kept by the waiting worker until the next one.
    @Test func aWaitingWorkerHoldsNothingOfTheLastRequest() async throws {
        final class Payload: Sendable {}
        let executor = LoopExecutor(loop: MultiThreadedEventLoopGroup.singleton.next())
        weak var gone: Payload?
        do {
            let payload = Payload()
            gone = payload
            await run(executor) { withExtendedLifetime(payload) {} }
        }
        // The worker parks in the same pass of the loop that ran the work; a job after it sees it parked.
        #expect(try await onLoop(executor) { executor.waiting } == 1)
        #expect(gone == nil)
    }

    /// A request whose client went away cancels its task (`cancellingOnDisconnect`), for good: that worker ends, and
    /// the next request gets a task that is not cancelled.
    @Test func aCancelledWorkerServesNoOtherRequest() async throws {
        let executor = LoopExecutor(loop: MultiThreadedEventLoopGroup.singleton.next())
        await run(executor) { withUnsafeCurrentTask { $0?.cancel() } }
        #expect(try await onLoop(executor) { executor.waiting } == 0)
        let cancelled = NIOLockedValueBox<Bool?>(nil)
        await run(executor) { cancelled.withLockedValue { $0 = Task.isCancelled } }
        #expect(cancelled.withLockedValue { $0 } == false)
        #expect(try await onLoop(executor) { executor.started } == 2)
    }

    @Test func eachLoopHasOneExecutor() {
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        for loop in loops {
            #expect(LoopExecutor.of(loop) === LoopExecutor.of(loop))
            #expect(LoopExecutor.of(loop).loop === loop)
        }
        if loops.count > 1 { #expect(LoopExecutor.of(loops[0]) !== LoopExecutor.of(loops[1])) }
    }
}

/// Holds work back until opened; counts who waits.
private actor Gate {
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var isOpen = false
    private var watchers: [(Int, CheckedContinuation<Void, Never>)] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0); notify() }
    }

    func whenWaiting(_ n: Int) async {
        if waiters.count >= n { return }
        await withCheckedContinuation { watchers.append((n, $0)) }
    }

    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }

    private func notify() {
        let ready = watchers.filter { waiters.count >= $0.0 }
        watchers.removeAll { waiters.count >= $0.0 }
        ready.forEach { $0.1.resume() }
    }
}
