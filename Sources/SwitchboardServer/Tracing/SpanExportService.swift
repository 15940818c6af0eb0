import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardProviders

/// Sends the finished spans of `SpanQueue` to an OTLP/HTTP collector: one loop that wakes every export interval, or
/// as soon as a full batch waits, and POSTs batches (protobuf or JSON) with the configured headers and timeout. A
/// collector that fails costs a warning at most once a minute (with how many spans were lost); spans are never
/// retried beyond one short second try, so memory stays bounded by the queue. On graceful shutdown it flushes what
/// waits, then closes the queue.
final class SpanExportService: Service, Sendable {
    let queue: SpanQueue
    let settings: TraceExportSettings
    let transport: any UpstreamTransport
    private let ownedTransport: NIOHTTPTransport?
    let logger: Logger

    /// `transport` nil: a lean NIO client of its own, closed when the service ends.
    init(queue: SpanQueue, settings: TraceExportSettings, transport: (any UpstreamTransport)? = nil, logger: Logger) {
        self.queue = queue
        self.settings = settings
        self.logger = logger
        if let transport {
            self.transport = transport
            ownedTransport = nil
        } else {
            let own = NIOHTTPTransport(connectTimeout: min(settings.timeout, .seconds(5)), idleTimeout: settings.timeout,
                                       maxResponseBytes: 1 << 20, maxIdlePerHost: 2)
            self.transport = own
            ownedTransport = own
        }
    }

    func run() async throws {
        var reporter = FailureReporter()
        await withGracefulShutdownHandler {
            while !queue.isStopping, !Task.isCancelled {
                await waitForWork()
                if queue.isStopping { break }      // the final flush below sends it, without second tries
                await exportWaiting(&reporter, final: false)
            }
        } onGracefulShutdown: {
            self.queue.stop()
        }
        await exportWaiting(&reporter, final: true)
        queue.close()
        reporter.report(logger, dropped: queue.takeDroppedCount(), force: true)
        await ownedTransport?.shutdown()
    }

    /// Returns after the export interval, or earlier when a full batch waits or shutdown begins.
    private func waitForWork() async {
        let interval = settings.exportInterval
        let queue = queue
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: interval) }
            group.addTask { await queue.waitForBatch() }
            _ = await group.next()
            group.cancelAll()
        }
    }

    /// Exports what waits now, in batches. At shutdown, a failure drops the rest instead of waiting on a collector
    /// that is down once per batch.
    private func exportWaiting(_ reporter: inout FailureReporter, final: Bool) async {
        var budget = queue.count
        while budget > 0 {
            let batch = queue.take(max: min(budget, settings.batchSize))
            guard !batch.isEmpty else { break }
            budget -= batch.count
            if let failure = await export(batch, retry: !final) {
                reporter.failed(spans: batch.count, reason: failure)
                if final {
                    reporter.failed(spans: queue.take(max: .max).count, reason: failure)
                    break
                }
            }
        }
        reporter.report(logger, dropped: queue.takeDroppedCount(), force: false)
    }

    /// Posts one batch; nil when the collector took it, else a short reason (no header value, no URL).
    func export(_ batch: [FinishedSpan], retry: Bool) async -> String? {
        let body: [UInt8]
        var headers = settings.headers.filter { !["content-type", "content-length", "user-agent"].contains($0.name.lowercased()) }
        switch settings.wireProtocol {
        case .protobuf:
            body = OTLPProtobuf.encode(batch, resource: settings.resource)
            headers.append(("content-type", "application/x-protobuf"))
        case .json:
            body = OTLPJSON.encode(batch, resource: settings.resource)
            headers.append(("content-type", "application/json"))
        }
        headers.append(("user-agent", "switchboard-otlp-exporter"))
        let request = UpstreamRequest(method: "POST", url: settings.endpoint, headers: headers, body: ByteBuffer(bytes: body),
                                      timeout: settings.timeout, limits: AttemptLimits(total: settings.timeout),
                                      caFile: settings.caFile)
        var reason: String?
        for attempt in 0..<(retry ? 2 : 1) {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200)) }
            do {
                let response = try await transport.execute(request)
                _ = try? await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(response.status) { return nil }
                reason = "status \(response.status)"
                // OTLP/HTTP: only 429, 502, 503 and 504 are worth trying again.
                guard [429, 502, 503, 504].contains(response.status) else { return reason }
            } catch {
                reason = error.description
            }
        }
        return reason
    }
}

/// Counts lost spans and turns them into one warning a minute at most.
struct FailureReporter {
    private var lostSinceReport = 0
    private var droppedSinceReport = 0
    private var lastReason = ""
    private var lastReport: ContinuousClock.Instant?

    mutating func failed(spans: Int, reason: String) {
        guard spans > 0 else { return }
        lostSinceReport += spans
        lastReason = reason
    }

    mutating func report(_ logger: Logger, dropped: Int, force: Bool) {
        droppedSinceReport += dropped
        guard lostSinceReport > 0 || droppedSinceReport > 0 else { return }
        let now = ContinuousClock.now
        if !force, let last = lastReport, now - last < .seconds(60) { return }
        lastReport = now
        if lostSinceReport > 0 {
            logger.warning("Spans not exported: the OTLP collector failed", metadata: [
                "spans": "\(lostSinceReport)", "error": "\(lastReason)"])
        }
        if droppedSinceReport > 0 {
            logger.warning("Spans dropped: the export queue was full", metadata: ["spans": "\(droppedSinceReport)"])
        }
        lostSinceReport = 0
        droppedSinceReport = 0
    }
}
