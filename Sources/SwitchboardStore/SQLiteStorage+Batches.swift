// Files and batches in SQLite: one process owns the file, so a claim is one conditional UPDATE under the write gate.
import SQLiteNIO
import SwitchboardCore

extension SQLiteStorage {
    static func optionalInt(_ v: Int?) -> SQLiteData { v.map(SQLiteData.integer) ?? .null }

    public func insertFile(_ f: StoredFile, content: String) async throws {
        try await write("INSERT INTO batch_files (\(BatchSchema.fileColumns), content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        fileBinds(f) + [.text(content)], conflict: "a file \"\(f.id)\"")
    }

    func fileBinds(_ f: StoredFile) -> [SQLiteData] {
        [.text(f.id), .text(f.owner), .text(f.purpose), .text(f.filename), .integer(f.bytes), .integer(f.createdAt)]
    }

    public func file(id: String) async throws -> StoredFile? {
        try await fileRows("SELECT \(BatchSchema.fileColumns) FROM batch_files WHERE id = ?", [.text(id)]).first
    }

    public func fileContent(id: String) async throws -> String? {
        try await connection.query("SELECT content FROM batch_files WHERE id = ?", [.text(id)]).first?.column("content")?.string
    }

    public func files(owner: String?, purpose: String?, after: String?, limit: Int) async throws -> [StoredFile] {
        var clauses: [String] = [], binds: [SQLiteData] = []
        if let owner { clauses.append("owner = ?"); binds.append(.text(owner)) }
        if let purpose { clauses.append("purpose = ?"); binds.append(.text(purpose)) }
        if let after { clauses.append(BatchSchema.afterClause(table: "batch_files", placeholder: "?")); binds.append(.text(after)) }
        let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return try await fileRows("SELECT \(BatchSchema.fileColumns) FROM batch_files \(filter) ORDER BY created_at DESC, id DESC LIMIT ?",
                                  binds + [.integer(max(limit, 0))])
    }

    public func deleteFile(id: String) async throws -> Bool {
        try await writes.run { try await self.connection.query("DELETE FROM batch_files WHERE id = ? RETURNING id", [.text(id)]).count == 1 }
    }

    func fileRows(_ sql: String, _ binds: [SQLiteData]) async throws -> [StoredFile] {
        try await connection.query(sql, binds).map { row in
            StoredFile(id: row.column("id")?.string ?? "", owner: row.column("owner")?.string ?? "", purpose: row.column("purpose")?.string ?? "",
                       filename: row.column("filename")?.string ?? "", bytes: row.column("bytes")?.integer ?? 0,
                       createdAt: row.column("created_at")?.integer ?? 0)
        }
    }

    public func insertBatch(_ b: BatchRecord, lines: [BatchLine]) async throws {
        try await writes.run {
            do {
                try await self.transaction {
                    let marks = Array(repeating: "?", count: 23).joined(separator: ", ")
                    _ = try await self.connection.query("INSERT INTO batches (\(BatchSchema.batchColumns)) VALUES (\(marks))", self.batchBinds(b))
                    var start = 0
                    while start < lines.count {
                        let chunk = lines[start..<min(start + 200, lines.count)]
                        start += chunk.count
                        let sql = "INSERT INTO batch_lines (batch_id, idx, custom_id, body, state) VALUES "
                            + Array(repeating: "(?, ?, ?, ?, 'pending')", count: chunk.count).joined(separator: ", ")
                        _ = try await self.connection.query(sql, chunk.flatMap { [.text($0.batchID), .integer($0.index), .text($0.customID), .text($0.body)] })
                    }
                }
            } catch let error as SQLiteError where [.constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed].contains(error.reason) {
                throw StorageError.conflict("a batch \"\(b.id)\"")
            }
        }
    }

    func batchBinds(_ b: BatchRecord) -> [SQLiteData] {
        [.text(b.id), .text(b.owner), .text(b.keyName), .text(b.endpoint), .text(b.inputFileID), .text(b.completionWindow), .text(b.status.rawValue),
         .integer(b.createdAt), .integer(b.expiresAt), Self.optionalInt(b.inProgressAt), Self.optionalInt(b.finalizingAt),
         Self.optionalInt(b.completedAt), Self.optionalInt(b.failedAt), Self.optionalInt(b.expiredAt), Self.optionalInt(b.cancellingAt),
         Self.optionalInt(b.cancelledAt), Self.optionalText(b.outputFileID), Self.optionalText(b.errorFileID), .integer(b.total),
         .integer(b.completed), .integer(b.failed), Self.optionalText(b.metadata), Self.optionalText(b.errors)]
    }

    public func batch(id: String) async throws -> BatchRecord? {
        try await batchRows("SELECT \(BatchSchema.batchColumns) FROM batches WHERE id = ?", [.text(id)]).first
    }

    public func batches(owner: String?, after: String?, limit: Int) async throws -> [BatchRecord] {
        var clauses: [String] = [], binds: [SQLiteData] = []
        if let owner { clauses.append("owner = ?"); binds.append(.text(owner)) }
        if let after { clauses.append(BatchSchema.afterClause(table: "batches", placeholder: "?")); binds.append(.text(after)) }
        let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return try await batchRows("SELECT \(BatchSchema.batchColumns) FROM batches \(filter) ORDER BY created_at DESC, id DESC LIMIT ?",
                                   binds + [.integer(max(limit, 0))])
    }

    public func activeBatches() async throws -> [BatchRecord] {
        try await batchRows("""
            SELECT \(BatchSchema.batchColumns) FROM batches WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling')
            ORDER BY created_at, id
            """, [])
    }

    func batchRows(_ sql: String, _ binds: [SQLiteData]) async throws -> [BatchRecord] {
        try await connection.query(sql, binds).map { row in
            func text(_ c: String) -> String? { row.column(c)?.string }
            func int(_ c: String) -> Int? { row.column(c)?.integer }
            let id = text("id") ?? ""
            var b = BatchRecord(id: id, owner: text("owner") ?? "", keyName: text("key_name") ?? "", endpoint: text("endpoint") ?? "",
                                inputFileID: text("input_file_id") ?? "", completionWindow: text("completion_window") ?? "",
                                status: try BatchSchema.status(text("status") ?? "", id: id), createdAt: int("created_at") ?? 0,
                                expiresAt: int("expires_at") ?? 0, total: int("total") ?? 0, metadata: text("metadata"))
            b.inProgressAt = int("in_progress_at")
            b.finalizingAt = int("finalizing_at")
            b.completedAt = int("completed_at")
            b.failedAt = int("failed_at")
            b.expiredAt = int("expired_at")
            b.cancellingAt = int("cancelling_at")
            b.cancelledAt = int("cancelled_at")
            b.outputFileID = text("output_file_id")
            b.errorFileID = text("error_file_id")
            b.completed = int("completed") ?? 0
            b.failed = int("failed") ?? 0
            b.errors = text("errors")
            return b
        }
    }

    public func moveBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int) async throws -> Bool {
        guard !from.isEmpty else { return false }
        let stamp = BatchSchema.stampColumn(to).map { ", \($0) = ?" } ?? ""
        let marks = Array(repeating: "?", count: from.count).joined(separator: ", ")
        let binds: [SQLiteData] = [.text(to.rawValue)] + (stamp.isEmpty ? [] : [.integer(at)]) + [.text(id)] + from.map { .text($0.rawValue) }
        return try await writes.run {
            try await self.connection.query("UPDATE batches SET status = ?\(stamp) WHERE id = ? AND status IN (\(marks)) RETURNING id", binds).count == 1
        }
    }

    public func claimBatchLines(owner: String, nowMs: Int64, leaseMs: Int64, limit: Int) async throws -> [BatchLine] {
        let now = Int(nowMs)
        return try await writes.run {
            try await self.connection.query("""
                UPDATE batch_lines SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1
                WHERE rowid IN (
                    SELECT l.rowid FROM batch_lines l JOIN batches b ON b.id = l.batch_id
                    WHERE b.status = 'in_progress' AND b.expires_at * 1000 > ?
                      AND ((l.state = 'pending' AND l.not_before <= ?) OR (l.state = 'running' AND l.lease_until < ?))
                    ORDER BY b.created_at, l.batch_id, l.idx LIMIT ?)
                RETURNING batch_id, idx, custom_id, body, attempts
                """, [.text(owner), .integer(now + Int(leaseMs)), .integer(now), .integer(now), .integer(now), .integer(max(limit, 0))])
        }.map { row in
            BatchLine(batchID: row.column("batch_id")?.string ?? "", index: row.column("idx")?.integer ?? 0,
                      customID: row.column("custom_id")?.string ?? "", body: row.column("body")?.string ?? "",
                      attempts: row.column("attempts")?.integer ?? 0)
        }.sorted { ($0.batchID, $0.index) < ($1.batchID, $1.index) }
    }

    public func renewBatchLines(owner: String, untilMs: Int64) async throws {
        _ = try await writes.run {
            try await self.connection.query("UPDATE batch_lines SET lease_until = ? WHERE owner = ? AND state = 'running'",
                                            [.integer(Int(untilMs)), .text(owner)])
        }
    }

    public func retryBatchLine(batchID: String, index: Int, owner: String, notBeforeMs: Int64) async throws {
        _ = try await writes.run {
            try await self.connection.query("""
                UPDATE batch_lines SET state = 'pending', owner = NULL, lease_until = 0, not_before = ?
                WHERE batch_id = ? AND idx = ? AND owner = ? AND state = 'running'
                """, [.integer(Int(notBeforeMs)), .text(batchID), .integer(index), .text(owner)])
        }
    }

    public func finishBatchLine(batchID: String, index: Int, owner: String, result: String, failed: Bool) async throws -> Bool {
        try await writes.run {
            var finished = false
            try await self.transaction {
                finished = try await self.connection.query("""
                    UPDATE batch_lines SET state = 'done', owner = NULL, result = ?, failed = ?
                    WHERE batch_id = ? AND idx = ? AND owner = ? AND state = 'running' RETURNING idx
                    """, [.text(result), .integer(failed ? 1 : 0), .text(batchID), .integer(index), .text(owner)]).count == 1
                if finished {
                    _ = try await self.connection.query(
                        "UPDATE batches SET completed = completed + ?, failed = failed + ? WHERE id = ?",
                        [.integer(failed ? 0 : 1), .integer(failed ? 1 : 0), .text(batchID)])
                }
            }
            return finished
        }
    }

    public func batchLineCounts(batchID: String, nowMs: Int64) async throws -> BatchLineCounts {
        let row = try await connection.query("""
            SELECT COUNT(*) AS open, COALESCE(SUM(CASE WHEN state = 'running' AND lease_until >= ? THEN 1 ELSE 0 END), 0) AS running
            FROM batch_lines WHERE batch_id = ? AND state <> 'done'
            """, [.integer(Int(nowMs)), .text(batchID)]).first
        return BatchLineCounts(open: row?.column("open")?.integer ?? 0, running: row?.column("running")?.integer ?? 0)
    }

    public func batchOutcomes(batchID: String) async throws -> [BatchLineOutcome] {
        try await connection.query("SELECT idx, custom_id, result, failed FROM batch_lines WHERE batch_id = ? ORDER BY idx", [.text(batchID)]).map { row in
            BatchLineOutcome(index: row.column("idx")?.integer ?? 0, customID: row.column("custom_id")?.string ?? "",
                             result: row.column("result")?.string, failed: (row.column("failed")?.integer ?? 0) != 0)
        }
    }

    public func claimBatchFinish(id: String, owner: String, nowMs: Int64, leaseMs: Int64) async throws -> Bool {
        try await writes.run {
            try await self.connection.query("""
                UPDATE batches SET finisher = ?, finisher_until = ?
                WHERE id = ? AND (finisher IS NULL OR finisher = ? OR finisher_until < ?) RETURNING id
                """, [.text(owner), .integer(Int(nowMs + leaseMs)), .text(id), .text(owner), .integer(Int(nowMs))]).count == 1
        }
    }

    public func finishBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int, output: BatchOutputFile?, errorFile: BatchOutputFile?,
                            errors: String?) async throws -> Bool {
        guard !from.isEmpty else { return false }
        let stamp = BatchSchema.stampColumn(to).map { ", \($0) = ?" } ?? ""
        let marks = Array(repeating: "?", count: from.count).joined(separator: ", ")
        let binds: [SQLiteData] = [.text(to.rawValue)] + (stamp.isEmpty ? [] : [.integer(at)])
            + [Self.optionalText(output?.file.id), Self.optionalText(errorFile?.file.id), Self.optionalText(errors), .text(id)]
            + from.map { .text($0.rawValue) }
        return try await writes.run {
            var moved = false
            try await self.transaction {
                moved = try await self.connection.query("""
                    UPDATE batches SET status = ?\(stamp), output_file_id = COALESCE(?, output_file_id),
                        error_file_id = COALESCE(?, error_file_id), errors = COALESCE(?, errors)
                    WHERE id = ? AND status IN (\(marks)) RETURNING id
                    """, binds).count == 1
                guard moved else { return }
                for f in [output, errorFile].compactMap({ $0 }) {
                    _ = try await self.connection.query("INSERT INTO batch_files (\(BatchSchema.fileColumns), content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                                        self.fileBinds(f.file) + [.text(f.content)])
                }
            }
            return moved
        }
    }

    public func deleteBatchData(before: Int) async throws -> Int {
        try await writes.run {
            var deleted = 0
            try await self.transaction {
                let finished = "status IN ('failed', 'completed', 'expired', 'cancelled') AND created_at < ?"
                _ = try await self.connection.query("DELETE FROM batch_lines WHERE batch_id IN (SELECT id FROM batches WHERE \(finished))",
                                                    [.integer(before)])
                deleted += try await self.connection.query("DELETE FROM batches WHERE \(finished) RETURNING id", [.integer(before)]).count
                deleted += try await self.connection.query("DELETE FROM batch_files WHERE created_at < ? RETURNING id", [.integer(before)]).count
            }
            return deleted
        }
    }
}
