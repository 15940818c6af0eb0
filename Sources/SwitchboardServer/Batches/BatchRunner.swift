import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import SwitchboardCore
import SwitchboardStore

/// Runs batches' lines through the gateway's own engine, as their owner in the `batch` priority class, and ends
/// batches whose work is done (BatchRunner+Finish.swift). One per replica; every step goes through storage, so
/// several replicas share the work and a restarted one carries on where the last left off.
final class BatchRunner: Sendable {
    let storage: any Storage
    let live: LiveGateway
    let config: BatchesConfig
    let bodyLimits: RequestLimits
    let identities: BatchIdentities
    /// Stored Responses API responses (`previous_response_id` in `/v1/responses` lines).
    let responses: ResponseStore
    /// Seconds since 1970.
    let now: @Sendable () -> Double
    let logger: Logger
    /// This runner's name on the lines it holds.
    let owner: String
    /// Batches' fixed fields (owner, endpoint), by id: they never change.
    private let batchInfo = Mutex<[String: (owner: String, endpoint: String)]>([:])

    var leaseMs: Int64 { Int64(config.leaseSeconds * 1000) }
    var nowMs: Int64 { Int64(now() * 1000) }

    init(services: GatewayServices, logger: Logger) {
        self.storage = services.storage
        self.live = services.live
        self.config = services.config.batches
        self.bodyLimits = services.config.waf.body
        self.now = services.keys.now
        self.identities = BatchIdentities(storage: services.storage, auth: services.config.auth, now: services.keys.now)
        self.responses = services.responseStore
        self.logger = logger
        self.owner = "runner_" + BatchObjects.random(12)
    }

    /// Whether batch work may take a place now: not while requests wait for one (`server.max_in_flight`). A line
    /// that finds the places taken queues behind every interactive request, which the gate serves first.
    var hasSpareCapacity: Bool {
        guard let gate = live.gateway.gate else { return true }
        return gate.snapshot.queued == 0
    }

    /// Takes up to `limit` due lines (none while interactive traffic waits).
    func claim(_ limit: Int) async throws -> [BatchLine] {
        guard limit > 0, hasSpareCapacity else { return [] }
        return try await storage.claimBatchLines(owner: owner, nowMs: nowMs, leaseMs: leaseMs, limit: limit)
    }

    /// Runs until nothing is due: upkeep, then lines `concurrency` at a time, then upkeep again. For tests and tools;
    /// the service runs the same steps continuously.
    func drain() async throws {
        while true {
            try await upkeep()
            let lines = try await claim(config.concurrency)
            if lines.isEmpty { break }
            await withDiscardingTaskGroup { group in
                for line in lines { group.addTask { await self.serve(line) } }
            }
        }
        try await upkeep()
    }

    /// What became of a line.
    enum LineResult: Sendable, Equatable {
        case answered(status: Int, body: String, requestID: String)
        /// Refused for a rate limit or a full queue: given back, due again after this many seconds.
        case retry(afterSeconds: Double)
        /// The runner is stopping: given back, due at once.
        case giveBack
    }

    /// Serves one held line and records what became of it.
    func serve(_ line: BatchLine) async {
        let result: LineResult
        do {
            result = try await run(line)
        } catch {
            logger.warning("Batch line could not be served", metadata: ["batch.id": "\(line.batchID)", "batch.line": "\(line.index)",
                                                                        "error.type": "\(type(of: error))"])
            result = .retry(afterSeconds: 1)
        }
        do {
            switch result {
            case .answered(let status, let body, let requestID):
                let ok = (200..<300).contains(status)
                let text = BatchObjects.answered(customID: line.customID, status: status, requestID: requestID, body: body)
                if try await !storage.finishBatchLine(batchID: line.batchID, index: line.index, owner: owner, result: text, failed: !ok) {
                    logger.notice("Batch line finished after its lease passed; another runner has it",
                                  metadata: ["batch.id": "\(line.batchID)", "batch.line": "\(line.index)"])
                }
            case .retry(let seconds):
                try await storage.retryBatchLine(batchID: line.batchID, index: line.index, owner: owner,
                                                 notBeforeMs: nowMs + Int64(seconds * 1000))
            case .giveBack:
                try await storage.retryBatchLine(batchID: line.batchID, index: line.index, owner: owner, notBeforeMs: nowMs)
            }
        } catch {
            // The lease runs out and another runner (or this one) takes the line again.
            logger.warning("Batch line result could not be stored", metadata: ["batch.id": "\(line.batchID)", "batch.line": "\(line.index)",
                                                                               "error.type": "\(type(of: error))"])
        }
    }

    /// The error codes that mean "not now" rather than "no": the line is retried later, not failed.
    static let retryable: Set<String> = [
        GatewayError.Code.rateLimitExceeded.name, GatewayError.Code.deploymentCapacityExceeded.name, GatewayError.Code.upstreamRateLimited.name,
        GatewayError.Code.overloaded.name, GatewayError.Code.shuttingDown.name, GatewayError.Code.storageUnavailable.name,
    ]

    func run(_ line: BatchLine) async throws -> LineResult {
        guard let (batchOwner, endpoint) = try await info(line.batchID) else {
            return .answered(status: 404, body: GatewayError(.notFound, "The batch no longer exists.").openAIBody, requestID: newRequestID())
        }
        let requestID = newRequestID()
        let identity: Identity
        switch try await identities.resolve(batchOwner) {
        case .identity(let i): identity = i
        case .refused(let why): return .answered(status: 401, body: GatewayError(.invalidAPIKey, why).openAIBody, requestID: requestID)
        }
        let body = ByteBuffer(string: line.body)
        let logger = self.logger
        let gateway = live.gateway
        let response: Response
        do {
            switch endpoint {
            case "/v1/embeddings":
                response = await gateway.serve(OpenAIAPI.self, try OpenAIRequest.embeddings(body, limits: bodyLimits), identity: identity,
                                                requestID: requestID, logger: logger)
            case "/v1/responses":
                // As `POST /v1/responses`: a stored conversation it continues goes in front of its input.
                let turn = try await responses.expand(try ResponsesRequest.parse(body, limits: bodyLimits), owner: ResponseStore.owner(identity))
                response = await gateway.serve(ResponsesAPI.self, turn, identity: identity, requestID: requestID, logger: logger)
            default:
                response = await gateway.serve(OpenAIAPI.self, try OpenAIRequest.chat(body, limits: bodyLimits), identity: identity,
                                                requestID: requestID, logger: logger)
            }
        } catch {
            return .answered(status: error.status, body: error.openAIBody, requestID: requestID)
        }
        return try await Self.result(of: response, requestID: requestID)
    }

    /// Reads a response whole and decides: answered (success or a final error), or retried later.
    static func result(of response: Response, requestID: String) async throws -> LineResult {
        let status = Int(response.status.code)
        let retryAfter = response.headers[.retryAfter].flatMap(Double.init)
        let collector = CollectingWriter()
        try await response.body.write(collector)
        let text = collector.text
        if Task.isCancelled { return .giveBack }
        if status >= 400, let code = errorCode(text), retryable.contains(code) {
            return .retry(afterSeconds: min(max(retryAfter ?? 1, 0.05), 300))
        }
        if status == GatewayError.Code.clientClosedRequest.status { return .giveBack }
        return .answered(status: status, body: text, requestID: requestID)
    }

    /// `error.code` of an OpenAI-shaped error body.
    static func errorCode(_ body: String) -> String? {
        JSONValue.parse(Data(body.utf8))?["error"]?["code"]?.string
    }

    func info(_ batchID: String) async throws -> (owner: String, endpoint: String)? {
        if let known = batchInfo.withLock({ $0[batchID] }) { return known }
        guard let b = try await storage.batch(id: batchID) else { return nil }
        batchInfo.withLock { m in
            if m.count > 10_000 { m.removeAll(keepingCapacity: true) }
            m[batchID] = (b.owner, b.endpoint)
        }
        return (b.owner, b.endpoint)
    }
}

/// Collects a response body in memory (a batch line's answer is not streamed).
struct CollectingWriter: ResponseBodyWriter {
    final class Buffer: Sendable {
        let bytes = Mutex(ByteBuffer())
    }

    let buffer = Buffer()

    var text: String { buffer.bytes.withLock { String(buffer: $0) } }

    mutating func write(_ b: ByteBuffer) async throws {
        var b = b
        buffer.bytes.withLock { _ = $0.writeBuffer(&b) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
