import SwitchboardCore
import SwitchboardStore

/// A wrapping test storage passes files and batches through to the storage it wraps.
extension WrappingStorage {
    func insertFile(_ file: StoredFile, content: String) async throws { try await wrapped.insertFile(file, content: content) }
    func file(id: String) async throws -> StoredFile? { try await wrapped.file(id: id) }
    func fileContent(id: String) async throws -> String? { try await wrapped.fileContent(id: id) }
    func files(owner: String?, purpose: String?, after: String?, limit: Int) async throws -> [StoredFile] {
        try await wrapped.files(owner: owner, purpose: purpose, after: after, limit: limit)
    }
    func deleteFile(id: String) async throws -> Bool { try await wrapped.deleteFile(id: id) }
    func insertBatch(_ batch: BatchRecord, lines: [BatchLine]) async throws { try await wrapped.insertBatch(batch, lines: lines) }
    func batch(id: String) async throws -> BatchRecord? { try await wrapped.batch(id: id) }
    func batches(owner: String?, after: String?, limit: Int) async throws -> [BatchRecord] {
        try await wrapped.batches(owner: owner, after: after, limit: limit)
    }
    func activeBatches() async throws -> [BatchRecord] { try await wrapped.activeBatches() }
    func moveBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int) async throws -> Bool {
        try await wrapped.moveBatch(id: id, from: from, to: to, at: at)
    }
    func claimBatchLines(owner: String, nowMs: Int64, leaseMs: Int64, limit: Int) async throws -> [BatchLine] {
        try await wrapped.claimBatchLines(owner: owner, nowMs: nowMs, leaseMs: leaseMs, limit: limit)
    }
    func renewBatchLines(owner: String, untilMs: Int64) async throws { try await wrapped.renewBatchLines(owner: owner, untilMs: untilMs) }
    func retryBatchLine(batchID: String, index: Int, owner: String, notBeforeMs: Int64) async throws {
        try await wrapped.retryBatchLine(batchID: batchID, index: index, owner: owner, notBeforeMs: notBeforeMs)
    }
    func finishBatchLine(batchID: String, index: Int, owner: String, result: String, failed: Bool) async throws -> Bool {
        try await wrapped.finishBatchLine(batchID: batchID, index: index, owner: owner, result: result, failed: failed)
    }
    func batchLineCounts(batchID: String, nowMs: Int64) async throws -> BatchLineCounts {
        try await wrapped.batchLineCounts(batchID: batchID, nowMs: nowMs)
    }
    func batchOutcomes(batchID: String) async throws -> [BatchLineOutcome] { try await wrapped.batchOutcomes(batchID: batchID) }
    func claimBatchFinish(id: String, owner: String, nowMs: Int64, leaseMs: Int64) async throws -> Bool {
        try await wrapped.claimBatchFinish(id: id, owner: owner, nowMs: nowMs, leaseMs: leaseMs)
    }
    func finishBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int, output: BatchOutputFile?, errorFile: BatchOutputFile?,
                     errors: String?) async throws -> Bool {
        try await wrapped.finishBatch(id: id, from: from, to: to, at: at, output: output, errorFile: errorFile, errors: errors)
    }
    func deleteBatchData(before: Int) async throws -> Int { try await wrapped.deleteBatchData(before: before) }
}
