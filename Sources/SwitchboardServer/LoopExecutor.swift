import NIOConcurrencyHelpers
import NIOCore

/// Runs a task's jobs on one event loop: the executor a request's task prefers, so that it stays on its connection's
/// loop — from the request's head to the upstream's answer and back — instead of crossing to Swift's global pool and
/// back at each step (each crossing a wake-up of another thread, and on a busy core a context switch).
///
/// A job enqueued from the loop itself (a continuation the loop resumed: the upstream's answer, say) runs in its next
/// pass, after the I/O at hand; work that leaves the task's preference (an actor, a child task with another
/// preference) comes back through `enqueue`.
///
/// One per event loop (`of(_:)`), with the loop's **workers**: tasks that, their request answered, wait for the next
/// one instead of ending. A task keeps the memory its async frames took (Swift's task allocator frees its slabs only
/// when the task ends), so a worker serves its next request without asking `malloc` for any: a new task per request
/// asked for ~23 blocks, half of them over a kilobyte (a request's deepest frames take 2–6 kB each), which glibc
/// serves from its slow path (about 4% of a proxied request's samples). At most `maxParked` wait per loop; beyond that a
/// worker ends, and a request that finds none waiting starts a new one.
final class LoopExecutor: TaskExecutor, @unchecked Sendable {
    typealias Work = @Sendable () async -> Void

    let loop: any EventLoop
    /// Workers waiting for a request. Touched on `loop` only (hence `@unchecked Sendable`).
    private var parked: [UnsafeContinuation<Work, Never>] = []
    /// Workers started, for tests.
    private(set) var started = 0

    /// How many workers may wait on one loop: each keeps ~30–40 kB (its frames' slabs).
    static let maxParked = 64

    private static let executors = NIOLockedValueBox<[ObjectIdentifier: LoopExecutor]>([:])

    /// The executor of `loop`, shared by its connections.
    static func of(_ loop: any EventLoop) -> LoopExecutor {
        executors.withLockedValue { all in
            if let executor = all[ObjectIdentifier(loop)] { return executor }
            let executor = LoopExecutor(loop: loop)
            all[ObjectIdentifier(loop)] = executor
            return executor
        }
    }

    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Runs `work` in a task that prefers this loop: a waiting worker when there is one, else a new one. On the loop.
    func run(_ work: @escaping Work) {
        assert(loop.inEventLoop)
        if let worker = parked.popLast() { return worker.resume(returning: work) }
        started += 1
        // Handed over in a box the worker empties: the task's closure lives as long as the task.
        let first = Handoff(work)
        Task(executorPreference: self) { await self.serve(first) }
    }

    /// Waiting workers, for tests (on the loop).
    var waiting: Int { parked.count }

    private func serve(_ first: Handoff) async {
        var work = first.take()
        while true {
            await work()
            work = Self.nothing   // what the last request held goes now, not when the next one comes
            // A task cancelled (its client went away: `cancellingOnDisconnect`) stays cancelled: it serves no other
            // request. Back on the loop, as the task prefers; anywhere else (never seen) the worker simply ends.
            guard !Task.isCancelled, loop.inEventLoop, parked.count < Self.maxParked else { return }
            work = await withUnsafeContinuation { parked.append($0) }
        }
    }

    private static let nothing: Work = {}

    private final class Handoff: @unchecked Sendable {
        private var work: Work?
        init(_ work: @escaping Work) { self.work = work }
        /// Once, in the worker's task (on the loop).
        func take() -> Work { work.take() ?? LoopExecutor.nothing }
    }
}
