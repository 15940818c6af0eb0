import Synchronization

/// Finished spans waiting for export: a bounded list under one lock. A span that finds it full (or the exporter
/// gone) is dropped and counted; nothing here allocates a task or suspends. The export loop waits for a batch with
/// `waitForBatch()`, which the span that completes a batch wakes (once per batch, not per span).
final class SpanQueue: FinishedSpanSink {
    let capacity: Int
    let batchSize: Int
    private let state: Mutex<State>

    private struct State {
        var spans: [FinishedSpan] = []
        var droppedSinceReport = 0
        var droppedTotal = 0
        var stopping = false
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    init(capacity: Int, batchSize: Int = 512) {
        self.capacity = max(1, capacity)
        self.batchSize = max(1, min(batchSize, capacity))
        state = Mutex(State())
    }

    func append(_ span: FinishedSpan) {
        let wake: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard !s.closed, s.spans.count < capacity else {
                s.droppedSinceReport += 1
                s.droppedTotal += 1
                return nil
            }
            if s.spans.isEmpty { s.spans.reserveCapacity(min(capacity, batchSize)) }
            s.spans.append(span)
            guard s.spans.count >= batchSize, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        wake?.resume()
    }

    /// Spans waiting now.
    var count: Int { state.withLock { $0.spans.count } }

    /// Spans dropped because the queue was full (or closed) since the queue was made.
    var droppedTotal: Int { state.withLock { $0.droppedTotal } }

    /// Spans dropped since the last call (for a rate-limited warning).
    func takeDroppedCount() -> Int {
        state.withLock { s in
            defer { s.droppedSinceReport = 0 }
            return s.droppedSinceReport
        }
    }

    /// Up to `max` of the oldest spans, removed from the queue.
    func take(max: Int) -> [FinishedSpan] {
        state.withLock { s in
            guard !s.spans.isEmpty else { return [] }
            if s.spans.count <= max {
                defer { s.spans = [] }
                return s.spans
            }
            let batch = Array(s.spans.prefix(max))
            s.spans.removeFirst(max)
            return batch
        }
    }

    /// Returns when a full batch is waiting, `stop()` was called, or the task is cancelled.
    func waitForBatch() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.stopping || s.spans.count >= batchSize || Task.isCancelled { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            wakeWaiter()
        }
    }

    /// The exporter is shutting down: wakes the loop so that it flushes what is waiting.
    func stop() {
        state.withLock { $0.stopping = true }
        wakeWaiter()
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// After the final flush: spans that end later are dropped, so nothing waits for an exporter that is gone.
    func close() {
        state.withLock { $0.closed = true }
    }

    private func wakeWaiter() {
        let w: CheckedContinuation<Void, Never>? = state.withLock { s in
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume()
    }
}
