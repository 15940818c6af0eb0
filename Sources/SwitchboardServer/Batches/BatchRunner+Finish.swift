import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

extension BatchRunner {
    /// Moves every unfinished batch along: validated ones start; one with every line done completes (through
    /// `finalizing`); a cancelled one ends once no line is in flight, and so does one past its 24 h window.
    func upkeep() async throws {
        let t = Int(now()), ms = nowMs
        for b in try await storage.activeBatches() {
            switch b.status {
            case .validating:
                _ = try await storage.moveBatch(id: b.id, from: [.validating], to: .inProgress, at: t)
            case .inProgress:
                let counts = try await storage.batchLineCounts(batchID: b.id, nowMs: ms)
                if counts.open == 0 {
                    try await finish(b, as: .completed)
                } else if t >= b.expiresAt && counts.running == 0 {
                    try await finish(b, as: .expired)
                }
            case .finalizing:
                try await finish(b, as: .completed)
            case .cancelling:
                if try await storage.batchLineCounts(batchID: b.id, nowMs: ms).running == 0 { try await finish(b, as: .cancelled) }
            case .failed, .completed, .expired, .cancelled:
                break
            }
        }
    }

    /// Writes a batch's output and error files and moves it to `status` (one replica does it: `claimBatchFinish`).
    func finish(_ batch: BatchRecord, as status: BatchStatus) async throws {
        guard try await storage.claimBatchFinish(id: batch.id, owner: owner, nowMs: nowMs, leaseMs: leaseMs) else { return }
        let t = Int(now())
        let from: [BatchStatus]
        switch status {
        case .completed:
            _ = try await storage.moveBatch(id: batch.id, from: [.inProgress], to: .finalizing, at: t)
            from = [.finalizing]
        case .expired: from = [.inProgress]
        default: from = [.cancelling]
        }
        var output: [String] = [], errors: [String] = []
        for outcome in try await storage.batchOutcomes(batchID: batch.id) {
            if let result = outcome.result {
                if outcome.failed { errors.append(result) } else { output.append(result) }
            } else {
                let (code, message) = status == .expired
                    ? ("batch_expired", "This line was not run within the batch's completion window.")
                    : ("batch_cancelled", "This line was not run: the batch was cancelled.")
                errors.append(BatchObjects.notRun(customID: outcome.customID, code: code, message: message))
            }
        }
        func file(_ lines: [String], _ kind: String) -> BatchOutputFile? {
            guard !lines.isEmpty else { return nil }
            let content = lines.joined(separator: "\n") + "\n"
            return BatchOutputFile(file: StoredFile(id: BatchObjects.newFileID(), owner: batch.owner, purpose: "batch_output",
                                                    filename: "\(batch.id)_\(kind).jsonl", bytes: content.utf8.count, createdAt: t),
                                   content: content)
        }
        let done = try await storage.finishBatch(id: batch.id, from: from, to: status, at: t, output: file(output, "output"),
                                                 errorFile: file(errors, "error"), errors: nil)
        if done {
            logger.info("Batch finished", metadata: ["batch.id": "\(batch.id)", "batch.status": "\(status.rawValue)",
                                                     "batch.completed": "\(output.count)", "batch.failed": "\(errors.count)"])
        }
    }
}

/// Runs a replica's batch work beside the server: `concurrency` workers each take a line, serve it and take the
/// next, and one keeps leases alive and batches moving. On graceful shutdown the workers take no new line and
/// finish (and record) the ones they hold.
struct BatchService: Service {
    let runner: BatchRunner

    /// The batch runner and the retention of files and batches (none when `batches.enabled` is false).
    static func services(_ services: GatewayServices, logger: Logger) -> [any Service] {
        let config = services.config.batches
        guard config.enabled else { return [] }
        let storage = services.storage
        return [BatchService(runner: BatchRunner(services: services, logger: logger)),
                RetentionService(what: "Batches and files", days: config.retentionDays, logger: logger) {
                    try await storage.deleteBatchData(before: Int($0))
                }]
    }

    func run() async throws {
        let runner = self.runner
        let poll = Duration.milliseconds(runner.config.pollMilliseconds)
        await withDiscardingTaskGroup { group in
            for _ in 0..<runner.config.concurrency {
                group.addTask {
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        var took = false
                        do {
                            if let line = try await runner.claim(1).first {
                                took = true
                                await runner.serve(line)
                            }
                        } catch {
                            runner.logger.warning("Batch lines could not be claimed", metadata: ["error.type": "\(type(of: error))"])
                        }
                        if !took { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: poll) } }
                    }
                }
            }
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    do {
                        try await runner.storage.renewBatchLines(owner: runner.owner, untilMs: runner.nowMs + runner.leaseMs)
                        try await runner.upkeep()
                    } catch {
                        runner.logger.warning("Batch upkeep failed", metadata: ["error.type": "\(type(of: error))"])
                    }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: poll) }
                }
            }
        }
    }
}
