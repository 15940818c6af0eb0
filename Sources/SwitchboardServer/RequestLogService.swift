import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The recorder behind every request: records go into a bounded buffer (never blocking, dropping and counting
/// when full) and a background service writes them to storage in batches. On shutdown it writes what is left.
public final class RequestLogService: UsageRecorder, Service {
    private struct State {
        var pending: [RequestRecord] = []
        /// Bytes of bodies waiting in `pending`.
        var bodyBytes = 0
        var dropped = 0
        var written = 0
        /// Records kept without their bodies because `maxBodyBytes` were already waiting.
        var bodiesDropped = 0
    }

    private let state = Mutex(State())
    private let wake: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation
    let storage: any Storage
    let capacity: Int
    let batchSize: Int
    /// Bodies waiting to be written, at most (beyond it records are kept without their bodies).
    let maxBodyBytes: Int
    /// Applied to bodies before they are written (`logging.bodies`).
    let redactor: Redactor
    let logger: Logger

    public init(storage: any Storage, capacity: Int = 10_000, batchSize: Int = 500, maxBodyBytes: Int = 64 << 20,
                redactor: Redactor = Redactor(kinds: RedactionKind.allCases), logger: Logger) {
        self.storage = storage
        self.capacity = capacity
        self.batchSize = batchSize
        self.maxBodyBytes = maxBodyBytes
        self.redactor = redactor
        self.logger = logger
        (wake, wakeContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func record(_ record: RequestRecord) {
        let accepted = state.withLock { s in
            guard s.pending.count < capacity else {
                s.dropped += 1
                return false
            }
            let bytes = (record.requestBody?.utf8.count ?? 0) + (record.responseBody?.utf8.count ?? 0)
            if bytes > 0, s.bodyBytes + bytes > maxBodyBytes {
                var stripped = record
                stripped.requestBody = nil
                stripped.responseBody = nil
                s.pending.append(stripped)
                s.bodiesDropped += 1
            } else {
                s.pending.append(record)
                s.bodyBytes += bytes
            }
            return true
        }
        if accepted { wakeContinuation.yield() }
    }

    /// Records dropped because the buffer was full, records written so far, records waiting, and records kept
    /// without their bodies.
    public var counts: (dropped: Int, written: Int, pending: Int, bodiesDropped: Int) {
        state.withLock { ($0.dropped, $0.written, $0.pending.count, $0.bodiesDropped) }
    }

    public func run() async throws {
        for await _ in wake.cancelOnGracefulShutdown() {
            await flush()
        }
        await flush()
    }

    /// Writes everything buffered, in batches; bodies are redacted here, off the request path.
    public func flush() async {
        var matchers: Redactor.Compiled?
        while true {
            var batch: [RequestRecord] = state.withLock { s in
                let n = min(batchSize, s.pending.count)
                let b = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                for r in b { s.bodyBytes -= (r.requestBody?.utf8.count ?? 0) + (r.responseBody?.utf8.count ?? 0) }
                return b
            }
            guard !batch.isEmpty else { return }
            if !redactor.isEmpty {
                for i in batch.indices where batch[i].requestBody != nil || batch[i].responseBody != nil {
                    if matchers == nil { matchers = redactor.compiled() }
                    batch[i].requestBody = batch[i].requestBody.map(matchers!.redact)
                    batch[i].responseBody = batch[i].responseBody.map(matchers!.redact)
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
    }
}

/// `logging.request_log_retention_days`: deletes older request-log records at start and then every hour (the daily
/// spend that budgets use is kept apart and is not deleted).
struct RetentionService: Service {
    let storage: any Storage
    let days: Double
    let logger: Logger

    func run() async throws {
        guard days > 0 else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let n = try await storage.deleteRequests(before: Date().timeIntervalSince1970 - days * 86_400)
                if n > 0 { logger.info("Request log trimmed", metadata: ["records": "\(n)", "retention_days": "\(days)"]) }
            } catch {
                logger.warning("Request log retention failed", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
