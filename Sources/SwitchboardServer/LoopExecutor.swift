import NIOCore

/// Runs a task's jobs on one event loop: the executor a request's task prefers, so that it stays on its connection's
/// loop — from the request's head to the upstream's answer and back — instead of crossing to Swift's global pool and
/// back at each step (each crossing a wake-up of another thread, and on a busy core a context switch).
///
/// A job enqueued from the loop itself (a continuation the loop resumed: the upstream's answer, say) runs in its next
/// pass, after the I/O at hand; work that leaves the task's preference (an actor, a child task with another
/// preference) comes back through `enqueue`.
final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
