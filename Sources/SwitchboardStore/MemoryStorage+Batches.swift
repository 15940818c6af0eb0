import SwitchboardCore
import Synchronization

/// MemoryStorage's files and batches.
final class MemoryBatchState: Sendable {
    struct Line {
        var line: BatchLine
        var done = false
        var owner: String?
        var leaseUntil: Int64 = 0
        var notBefore: Int64 = 0
        var result: String?
        var failed = false
    }

    struct State {
        var files: [String: (file: StoredFile, content: String)] = [:]
        var batches: [String: BatchRecord] = [:]
        var lines: [String: [Line]] = [:]
        var finishers: [String: (owner: String, until: Int64)] = [:]
    }

    let state = Mutex(State())
}

/// Newest first (time, then id), those after the row `after` in that order, at most `limit`.
private func page<T>(_ rows: [T], after: String?, limit: Int, id: (T) -> String, created: (T) -> Int) -> [T] {
    var sorted = rows.sorted { (created($0), id($0)) > (created($1), id($1)) }
    if let after {
        guard let i = sorted.firstIndex(where: { id($0) == after }) else { return [] }
        sorted = Array(sorted[(i + 1)...])
    }
    return Array(sorted.prefix(max(limit, 0)))
}

extension MemoryStorage {
    public func insertFile(_ file: StoredFile, content: String) async throws {
        try batchState.state.withLock { s in
            if s.files[file.id] != nil { throw StorageError.conflict("a file \"\(file.id)\"") }
            s.files[file.id] = (file, content)
        }
    }

    public func file(id: String) async throws -> StoredFile? { batchState.state.withLock { $0.files[id]?.file } }

    public func fileContent(id: String) async throws -> String? { batchState.state.withLock { $0.files[id]?.content } }

    public func files(owner: String?, purpose: String?, after: String?, limit: Int) async throws -> [StoredFile] {
        let all = batchState.state.withLock { s in
            s.files.values.map(\.file).filter { f in (owner.map { f.owner == $0 } ?? true) && (purpose.map { f.purpose == $0 } ?? true) }
        }
        return page(all, after: after, limit: limit, id: \.id, created: \.createdAt)
    }

    public func deleteFile(id: String) async throws -> Bool { batchState.state.withLock { $0.files.removeValue(forKey: id) != nil } }

    public func insertBatch(_ batch: BatchRecord, lines: [BatchLine]) async throws {
        try batchState.state.withLock { s in
            if s.batches[batch.id] != nil { throw StorageError.conflict("a batch \"\(batch.id)\"") }
            s.batches[batch.id] = batch
            s.lines[batch.id] = lines.map { MemoryBatchState.Line(line: $0) }
        }
    }

    public func batch(id: String) async throws -> BatchRecord? { batchState.state.withLock { $0.batches[id] } }

    public func batches(owner: String?, after: String?, limit: Int) async throws -> [BatchRecord] {
        let all = batchState.state.withLock { s in s.batches.values.filter { b in owner.map { b.owner == $0 } ?? true } }
        return page(Array(all), after: after, limit: limit, id: \.id, created: \.createdAt)
    }

    public func activeBatches() async throws -> [BatchRecord] {
        batchState.state.withLock { s in
            s.batches.values.filter { !$0.status.isFinished }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func moveBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int) async throws -> Bool {
        batchState.state.withLock { s in
            guard var b = s.batches[id], from.contains(b.status) else { return false }
            b.status = to
            b.stamp(to, at: at)
            s.batches[id] = b
            return true
        }
    }

    public func claimBatchLines(owner: String, nowMs: Int64, leaseMs: Int64, limit: Int) async throws -> [BatchLine] {
        batchState.state.withLock { s in
            var taken: [BatchLine] = []
            let open = s.batches.values.filter { $0.status == .inProgress && Int64($0.expiresAt) * 1000 > nowMs }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            for b in open {
                guard var lines = s.lines[b.id] else { continue }
                for i in lines.indices where taken.count < limit {
                    let l = lines[i]
                    guard !l.done, l.owner == nil ? l.notBefore <= nowMs : l.leaseUntil < nowMs else { continue }
                    lines[i].owner = owner
                    lines[i].leaseUntil = nowMs + leaseMs
                    lines[i].line.attempts += 1
                    taken.append(lines[i].line)
                }
                s.lines[b.id] = lines
                if taken.count >= limit { break }
            }
            return taken
        }
    }

    public func renewBatchLines(owner: String, untilMs: Int64) async throws {
        batchState.state.withLock { s in
            for (id, lines) in s.lines where lines.contains(where: { $0.owner == owner }) {
                s.lines[id] = lines.map { l in
                    var l = l
                    if l.owner == owner && !l.done { l.leaseUntil = untilMs }
                    return l
                }
            }
        }
    }

    public func retryBatchLine(batchID: String, index: Int, owner: String, notBeforeMs: Int64) async throws {
        batchState.state.withLock { s in
            guard var lines = s.lines[batchID], lines.indices.contains(index), lines[index].owner == owner, !lines[index].done else { return }
            lines[index].owner = nil
            lines[index].leaseUntil = 0
            lines[index].notBefore = notBeforeMs
            s.lines[batchID] = lines
        }
    }

    public func finishBatchLine(batchID: String, index: Int, owner: String, result: String, failed: Bool) async throws -> Bool {
        batchState.state.withLock { s in
            guard var lines = s.lines[batchID], lines.indices.contains(index), lines[index].owner == owner, !lines[index].done,
                  var b = s.batches[batchID] else { return false }
            lines[index].done = true
            lines[index].owner = nil
            lines[index].result = result
            lines[index].failed = failed
            s.lines[batchID] = lines
            if failed { b.failed += 1 } else { b.completed += 1 }
            s.batches[batchID] = b
            return true
        }
    }

    public func batchLineCounts(batchID: String, nowMs: Int64) async throws -> BatchLineCounts {
        batchState.state.withLock { s in
            let lines = s.lines[batchID] ?? []
            return BatchLineCounts(open: lines.count { !$0.done }, running: lines.count { !$0.done && $0.owner != nil && $0.leaseUntil >= nowMs })
        }
    }

    public func batchOutcomes(batchID: String) async throws -> [BatchLineOutcome] {
        batchState.state.withLock { s in
            (s.lines[batchID] ?? []).map { BatchLineOutcome(index: $0.line.index, customID: $0.line.customID, result: $0.result, failed: $0.failed) }
        }
    }

    public func claimBatchFinish(id: String, owner: String, nowMs: Int64, leaseMs: Int64) async throws -> Bool {
        batchState.state.withLock { s in
            if let held = s.finishers[id], held.owner != owner, held.until >= nowMs { return false }
            s.finishers[id] = (owner, nowMs + leaseMs)
            return true
        }
    }

    public func finishBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int, output: BatchOutputFile?, errorFile: BatchOutputFile?,
                            errors: String?) async throws -> Bool {
        batchState.state.withLock { s in
            guard var b = s.batches[id], from.contains(b.status) else { return false }
            for f in [output, errorFile].compactMap({ $0 }) { s.files[f.file.id] = (f.file, f.content) }
            b.status = to
            b.stamp(to, at: at)
            b.outputFileID = output?.file.id ?? b.outputFileID
            b.errorFileID = errorFile?.file.id ?? b.errorFileID
            b.errors = errors ?? b.errors
            s.batches[id] = b
            return true
        }
    }

    public func deleteBatchData(before: Int) async throws -> Int {
        batchState.state.withLock { s in
            let files = s.files.values.filter { $0.file.createdAt < before }.map(\.file.id)
            let batches = s.batches.values.filter { $0.createdAt < before && $0.status.isFinished }.map(\.id)
            for id in files { s.files[id] = nil }
            for id in batches {
                s.batches[id] = nil
                s.lines[id] = nil
                s.finishers[id] = nil
            }
            return files.count + batches.count
        }
    }
}
