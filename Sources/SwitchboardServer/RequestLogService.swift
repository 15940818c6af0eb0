import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The recorder behind every request: records go into a bounded buffer (never blocking, dropping and counting
/// when full) and a background service writes them to storage in batches. On shutdown it writes what is left.
///
/// The writer wakes for the first record after a quiet spell and writes it at once; after each write it waits
/// `gather` before it looks again, so under load records gather into batches and the request path wakes it at most
/// once per `gather`, not once per record (each wake is a hop to another thread, on the serving core).
public final class RequestLogService: UsageRecorder, Service {
    private struct State {
        var pending: [RequestRecord] = []
        /// Bytes of bodies waiting in `pending`.
        var bodyBytes = 0
        var dropped = 0
        var written = 0
        /// Records kept without their bodies because `maxBodyBytes` were already waiting.
        var bodiesDropped = 0
        /// Records accepted into `pending` so far, and taken out of it for writing (batches are taken in order).
        var accepted = 0
        var taken = 0
        /// Every record before this one is written (or given up); batches that ended ahead of it, out of order.
        var done = 0
        var doneAhead: [Range<Int>] = []
        /// Flushes waiting for everything accepted before they began (`target`) to be written.
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// Times `record` woke the writer.
        var wakes = 0
    }

    private let state = Mutex(State())
    private let wake: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation
    let storage: any Storage
    let capacity: Int
    let batchSize: Int
    /// Bodies waiting to be written, at most (beyond it records are kept without their bodies).
    let maxBodyBytes: Int
    /// How long the writer waits after a write before the next (records arriving meanwhile wait with it).
    let gather: Duration
    /// Applied to bodies before they are written (`logging.bodies`), which are then cut to `bodyLimit` bytes.
    let redactor: Redactor
    let bodyLimit: Int
    /// Provider keys, by value: taken out of bodies before the patterns run (a key in a shape no pattern knows).
    let secrets: SecretScrubber?
    let logger: Logger

    public init(storage: any Storage, capacity: Int = 10_000, batchSize: Int = 500, maxBodyBytes: Int = 64 << 20,
                redactor: Redactor = Redactor(kinds: RedactionKind.allCases), bodyLimit: Int = 16 << 10, secrets: SecretScrubber? = nil,
                gather: Duration = .milliseconds(10), logger: Logger) {
        self.gather = gather
        self.secrets = secrets
        self.bodyLimit = bodyLimit
        self.storage = storage
        self.capacity = capacity
        self.batchSize = batchSize
        self.maxBodyBytes = maxBodyBytes
        self.redactor = redactor
        self.logger = logger
        (wake, wakeContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func record(_ record: RequestRecord) {
        // Only the record that finds the buffer empty wakes the writer: one before it did, and the writer takes all.
        let wake = state.withLock { s in
            guard s.pending.count < capacity else {
                s.dropped += 1
                return false
            }
            let wasEmpty = s.pending.isEmpty
            let bytes = record.bodyBytes
            if bytes > 0, s.bodyBytes + bytes > maxBodyBytes {
                var stripped = record
                stripped.dropBodies()
                s.pending.append(stripped)
                s.bodiesDropped += 1
            } else {
                s.pending.append(record)
                s.bodyBytes += bytes
            }
            s.accepted += 1
            if wasEmpty { s.wakes += 1 }
            return wasEmpty
        }
        if wake { wakeContinuation.yield() }
    }

    /// Times a record woke the writer (tests).
    var wakes: Int { state.withLock { $0.wakes } }

    /// Flushes waiting for a batch another flush is still writing (tests).
    var waitingFlushes: Int { state.withLock { $0.waiters.count } }

    /// Records dropped because the buffer was full, records written so far, records waiting, and records kept
    /// without their bodies.
    public var counts: (dropped: Int, written: Int, pending: Int, bodiesDropped: Int) {
        state.withLock { ($0.dropped, $0.written, $0.pending.count, $0.bodiesDropped) }
    }

    public func run() async throws {
        for await _ in wake.cancelOnGracefulShutdown() {
            await flush()
            try? await Task.sleep(for: gather)
        }
        await flush()
    }

    /// Redacts the bodies of `records`, then cuts each to `limit` bytes (the request path keeps a little more, so a
    /// secret across the cut is still whole when it is redacted), and removes NUL characters.
    static func prepareBodies(_ records: [RequestRecord], redactor: Redactor, limit: Int, secrets: [String] = []) -> [RequestRecord] {
        var records = records
        let matchers = redactor.isEmpty ? nil : redactor.compiled()
        func prepare(_ text: String) -> String {
            var text = SecretScrubber.removing(secrets, from: text)
            text = matchers?.redact(text) ?? text
            // PostgreSQL's text cannot hold NUL (an upstream may send one): one would fail the whole batch.
            text = withoutNUL(text)
            return cut(text, to: limit)
        }
        for i in records.indices {
            records[i].requestBody = records[i].requestBody.map(prepare)
            records[i].responseBody = records[i].responseBody.map(prepare)
        }
        return records
    }

    /// `text` cut to `limit` bytes (on a character boundary) before its truncation note, if it has one.
    static func cut(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var body = Substring(text), note = ""
        if text.hasSuffix(" bytes in all]"), let r = text.range(of: Exchange.truncationPrefix, options: .backwards) {
            body = text[..<r.lowerBound]
            note = String(text[r.lowerBound...])
        }
        guard body.utf8.count > limit else { return text }
        var end = body.utf8.index(body.startIndex, offsetBy: limit)
        while end > body.startIndex, String.Index(end, within: body) == nil { end = body.utf8.index(before: end) }
        return String(body[..<end]) + (note.isEmpty ? "…[truncated]" : note)
    }

    static func withoutNUL(_ text: String) -> String {
        text.utf8.contains(0) ? String(text.unicodeScalars.filter { $0 != "\u{0}" }.map(Character.init)) : text
    }

    /// Writes everything buffered, in batches; bodies are redacted here, off the request path. Returns once every
    /// record accepted before it was called is written (or given up) — also those another flush took and is still
    /// writing, so a reader that flushes first sees them.
    public func flush() async {
        let target = state.withLock { $0.accepted }
        while true {
            let (taken, range, behind): ([RequestRecord], Range<Int>, Bool) = state.withLock { s in
                let n = min(batchSize, s.pending.count)
                let b = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                s.taken += n
                return (b, (s.taken - n)..<s.taken, s.pending.count > capacity / 2)
            }
            var batch = taken
            // The batch's bodies count against `maxBodyBytes` until they are written (or given up).
            let batchBodyBytes = batch.reduce(0) { $0 + $1.bodyBytes }
            defer {
                state.withLock { $0.bodyBytes -= batchBodyBytes }
                finished(range)
            }
            guard !batch.isEmpty else { break }
            if batch.contains(where: \.hasBodies) {
                if behind {
                    // Records (and the spend they carry) come first: while the buffer is more than half full, bodies
                    // are dropped rather than redacted.
                    var stripped = 0
                    for i in batch.indices where batch[i].hasBodies {
                        batch[i].dropBodies()
                        stripped += 1
                    }
                    state.withLock { $0.bodiesDropped += stripped }
                } else {
                    // Redaction is CPU work on made-up text: on NIO's blocking pool, not the cooperative threads
                    // that serve requests.
                    let (redactor, limit, records, secrets) = (redactor, bodyLimit, batch, secrets?.known ?? [])
                    batch = (try? await NIOThreadPool.singleton.runIfActive { Self.prepareBodies(records, redactor: redactor, limit: limit, secrets: secrets) })
                        ?? Self.prepareBodies(records, redactor: redactor, limit: limit, secrets: secrets)
                }
            }
            do {
                try await storage.insert(batch)
                state.withLock { $0.written += batch.count }
            } catch {
                state.withLock { $0.dropped += batch.count }
                logger.error("Request log write failed", metadata: ["records": "\(batch.count)", "error.type": "\(type(of: error))"])
            }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s in
                if s.done >= target { return true }
                s.waiters.append((target, c))
                return false
            }
            if ready { c.resume() }
        }
    }

    /// A batch's records are written (or given up): flushes waiting for them go on.
    private func finished(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { s in
            s.doneAhead.append(range)
            while let i = s.doneAhead.firstIndex(where: { $0.lowerBound == s.done }) {
                s.done = s.doneAhead.remove(at: i).upperBound
            }
            let done = s.done
            let ready = s.waiters.filter { $0.target <= done }.map(\.continuation)
            s.waiters.removeAll { $0.target <= done }
            return ready
        }
        for c in ready { c.resume() }
    }
}

/// Retention: deletes what is older than `days` at start and then every hour — the request log
/// (`logging.request_log_retention_days`; the daily spend that budgets use is kept apart and is not deleted) and the
/// audit log (`audit.retention_days`).
struct RetentionService: Service {
    /// What is trimmed, for the log: "Request log", "Audit log".
    let what: String
    let days: Double
    let logger: Logger
    /// Deletes what started before the cutoff (seconds since 1970); how many were deleted.
    let delete: @Sendable (Double) async throws -> Int

    static func requestLog(_ storage: any Storage, days: Double, logger: Logger) -> RetentionService {
        RetentionService(what: "Request log", days: days, logger: logger) { try await storage.deleteRequests(before: $0) }
    }

    static func auditLog(_ storage: any Storage, days: Double, logger: Logger) -> RetentionService {
        RetentionService(what: "Audit log", days: days, logger: logger) { try await storage.deleteAudit(beforeMs: Int64($0 * 1000)) }
    }

    func run() async throws {
        guard days > 0 else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let n = try await delete(Date().timeIntervalSince1970 - days * 86_400)
                if n > 0 { logger.info("\(what) trimmed", metadata: ["entries": "\(n)", "retention_days": "\(days)"]) }
            } catch is CancellationError {
                return                  // the gateway is stopping (or could not start)
            } catch {
                logger.warning("\(what) retention failed", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
