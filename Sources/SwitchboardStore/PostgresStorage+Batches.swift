// Files and batches in PostgreSQL, shared by every replica. A line is taken with `FOR UPDATE SKIP LOCKED`, so two
// replicas claiming at the same moment never take the same line; its result is written in the statement that marks
// it done, and only by the replica that still holds it.
import Logging
import PostgresNIO
import SwitchboardCore

extension PostgresStorage {
    public func insertFile(_ f: StoredFile, content: String) async throws {
        try await write("""
            INSERT INTO batch_files (\(unescaped: BatchSchema.fileColumns), content)
            VALUES (\(f.id), \(f.owner), \(f.purpose), \(f.filename), \(f.bytes), \(f.createdAt), \(content))
            """, conflict: "a file \"\(f.id)\"")
    }

    public func file(id: String) async throws -> StoredFile? {
        try await fileRows("SELECT \(unescaped: BatchSchema.fileColumns) FROM batch_files WHERE id = \(id)").first
    }

    public func fileContent(id: String) async throws -> String? {
        for try await content in try await client.query("SELECT content FROM batch_files WHERE id = \(id)", logger: logger).decode(String.self) {
            return content
        }
        return nil
    }

    public func files(owner: String?, purpose: String?, after: String?, limit: Int) async throws -> [StoredFile] {
        try await fileRows("""
            SELECT \(unescaped: BatchSchema.fileColumns) FROM batch_files
            WHERE (\(owner)::text IS NULL OR owner = \(owner)) AND (\(purpose)::text IS NULL OR purpose = \(purpose))
              AND (\(after)::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM batch_files WHERE id = \(after)))
            ORDER BY created_at DESC, id DESC LIMIT \(max(limit, 0))
            """)
    }

    public func deleteFile(id: String) async throws -> Bool {
        try await affected("DELETE FROM batch_files WHERE id = \(id) RETURNING id") == 1
    }

    func fileRows(_ query: PostgresQuery) async throws -> [StoredFile] {
        try await client.query(query, logger: logger).collect().map { row in
            let r = row.makeRandomAccess()
            return StoredFile(id: try r["id"].decode(String.self), owner: try r["owner"].decode(String.self),
                              purpose: try r["purpose"].decode(String.self), filename: try r["filename"].decode(String.self),
                              bytes: try r["bytes"].decode(Int.self), createdAt: try r["created_at"].decode(Int.self))
        }
    }

    /// How many rows a statement with `RETURNING` touched.
    func affected(_ query: PostgresQuery) async throws -> Int {
        try await client.query(query, logger: logger).collect().count
    }

    public func insertBatch(_ b: BatchRecord, lines: [BatchLine]) async throws {
        do {
            try await client.withTransaction(logger: logger) { tx in
                try await tx.query("""
                    INSERT INTO batches (\(unescaped: BatchSchema.batchColumns))
                    VALUES (\(b.id), \(b.owner), \(b.keyName), \(b.endpoint), \(b.inputFileID), \(b.completionWindow), \(b.status.rawValue),
                            \(b.createdAt), \(b.expiresAt), \(b.inProgressAt), \(b.finalizingAt), \(b.completedAt), \(b.failedAt), \(b.expiredAt),
                            \(b.cancellingAt), \(b.cancelledAt), \(b.outputFileID), \(b.errorFileID), \(b.total), \(b.completed), \(b.failed),
                            \(b.metadata), \(b.errors))
                    """, logger: logger)
                var start = 0
                while start < lines.count {
                    let chunk = Array(lines[start..<min(start + 1000, lines.count)])
                    start += chunk.count
                    try await tx.query("""
                        INSERT INTO batch_lines (batch_id, idx, custom_id, body, state)
                        SELECT \(b.id), i, c, body, 'pending' FROM unnest(\(chunk.map(\.index)), \(chunk.map(\.customID)), \(chunk.map(\.body))) AS u(i, c, body)
                        """, logger: logger)
                }
            }
        } catch let error as PostgresTransactionError {
            if let e = error.closureError as? PSQLError, e.serverInfo?[.sqlState] == "23505" { throw StorageError.conflict("a batch \"\(b.id)\"") }
            throw error
        }
    }

    public func batch(id: String) async throws -> BatchRecord? {
        try await batchRows("SELECT \(unescaped: BatchSchema.batchColumns) FROM batches WHERE id = \(id)").first
    }

    public func batches(owner: String?, after: String?, limit: Int) async throws -> [BatchRecord] {
        try await batchRows("""
            SELECT \(unescaped: BatchSchema.batchColumns) FROM batches
            WHERE (\(owner)::text IS NULL OR owner = \(owner))
              AND (\(after)::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM batches WHERE id = \(after)))
            ORDER BY created_at DESC, id DESC LIMIT \(max(limit, 0))
            """)
    }

    public func activeBatches() async throws -> [BatchRecord] {
        try await batchRows("""
            SELECT \(unescaped: BatchSchema.batchColumns) FROM batches WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling')
            ORDER BY created_at, id
            """)
    }

    func batchRows(_ query: PostgresQuery) async throws -> [BatchRecord] {
        try await client.query(query, logger: logger).collect().map { row in
            let r = row.makeRandomAccess()
            func int(_ c: String) throws -> Int? { try r[c].decode(Int?.self) }
            func text(_ c: String) throws -> String? { try r[c].decode(String?.self) }
            let id = try r["id"].decode(String.self)
            var b = BatchRecord(id: id, owner: try r["owner"].decode(String.self), keyName: try r["key_name"].decode(String.self),
                                endpoint: try r["endpoint"].decode(String.self), inputFileID: try r["input_file_id"].decode(String.self),
                                completionWindow: try r["completion_window"].decode(String.self),
                                status: try BatchSchema.status(try r["status"].decode(String.self), id: id),
                                createdAt: try r["created_at"].decode(Int.self), expiresAt: try r["expires_at"].decode(Int.self),
                                total: try r["total"].decode(Int.self), metadata: try text("metadata"))
            b.inProgressAt = try int("in_progress_at")
            b.finalizingAt = try int("finalizing_at")
            b.completedAt = try int("completed_at")
            b.failedAt = try int("failed_at")
            b.expiredAt = try int("expired_at")
            b.cancellingAt = try int("cancelling_at")
            b.cancelledAt = try int("cancelled_at")
            b.outputFileID = try text("output_file_id")
            b.errorFileID = try text("error_file_id")
            b.completed = try r["completed"].decode(Int.self)
            b.failed = try r["failed"].decode(Int.self)
            b.errors = try text("errors")
            return b
        }
    }

    public func moveBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int) async throws -> Bool {
        let stamp = BatchSchema.stampColumn(to).map { ", \($0) = \(at)" } ?? ""
        return try await affected("""
            UPDATE batches SET status = \(to.rawValue)\(unescaped: stamp) WHERE id = \(id) AND status = ANY(\(from.map(\.rawValue))) RETURNING id
            """) == 1
    }

    public func claimBatchLines(owner: String, nowMs: Int64, leaseMs: Int64, limit: Int) async throws -> [BatchLine] {
        let now = Int(nowMs), until = Int(nowMs + leaseMs)
        let rows = try await client.query("""
            UPDATE batch_lines l SET state = 'running', owner = \(owner), lease_until = \(until), attempts = l.attempts + 1
            FROM (
                SELECT c.batch_id, c.idx FROM batch_lines c JOIN batches b ON b.id = c.batch_id
                WHERE b.status = 'in_progress' AND b.expires_at * 1000 > \(now)
                  AND ((c.state = 'pending' AND c.not_before <= \(now)) OR (c.state = 'running' AND c.lease_until < \(now)))
                ORDER BY b.created_at, c.batch_id, c.idx LIMIT \(max(limit, 0))
                FOR UPDATE OF c SKIP LOCKED
            ) AS picked
            WHERE l.batch_id = picked.batch_id AND l.idx = picked.idx
            RETURNING l.batch_id, l.idx, l.custom_id, l.body, l.attempts
            """, logger: logger)
        var lines: [BatchLine] = []
        for try await (batchID, index, customID, body, attempts) in rows.decode((String, Int, String, String, Int).self) {
            lines.append(BatchLine(batchID: batchID, index: index, customID: customID, body: body, attempts: attempts))
        }
        return lines.sorted { ($0.batchID, $0.index) < ($1.batchID, $1.index) }
    }

    public func renewBatchLines(owner: String, untilMs: Int64) async throws {
        try await client.query("UPDATE batch_lines SET lease_until = \(Int(untilMs)) WHERE owner = \(owner) AND state = 'running'", logger: logger)
    }

    public func retryBatchLine(batchID: String, index: Int, owner: String, notBeforeMs: Int64) async throws {
        try await client.query("""
            UPDATE batch_lines SET state = 'pending', owner = NULL, lease_until = 0, not_before = \(Int(notBeforeMs))
            WHERE batch_id = \(batchID) AND idx = \(index) AND owner = \(owner) AND state = 'running'
            """, logger: logger)
    }

    public func finishBatchLine(batchID: String, index: Int, owner: String, result: String, failed: Bool) async throws -> Bool {
        // One statement: the line marked done and its batch's counter moved together, or neither.
        let (done, bad) = failed ? (0, 1) : (1, 0)
        return try await affected("""
            WITH line AS (
                UPDATE batch_lines SET state = 'done', owner = NULL, result = \(result), failed = \(bad)
                WHERE batch_id = \(batchID) AND idx = \(index) AND owner = \(owner) AND state = 'running' RETURNING batch_id
            )
            UPDATE batches SET completed = completed + \(done), failed = failed + \(bad) WHERE id IN (SELECT batch_id FROM line) RETURNING id
            """) == 1
    }

    public func batchLineCounts(batchID: String, nowMs: Int64) async throws -> BatchLineCounts {
        let rows = try await client.query("""
            SELECT COUNT(*)::bigint, COUNT(*) FILTER (WHERE state = 'running' AND lease_until >= \(Int(nowMs)))::bigint
            FROM batch_lines WHERE batch_id = \(batchID) AND state <> 'done'
            """, logger: logger)
        for try await (open, running) in rows.decode((Int, Int).self) { return BatchLineCounts(open: open, running: running) }
        return BatchLineCounts(open: 0, running: 0)
    }

    public func batchOutcomes(batchID: String) async throws -> [BatchLineOutcome] {
        let rows = try await client.query("SELECT idx, custom_id, result, failed FROM batch_lines WHERE batch_id = \(batchID) ORDER BY idx",
                                          logger: logger)
        var outcomes: [BatchLineOutcome] = []
        for try await (index, customID, result, failed) in rows.decode((Int, String, String?, Int).self) {
            outcomes.append(BatchLineOutcome(index: index, customID: customID, result: result, failed: failed != 0))
        }
        return outcomes
    }

    public func claimBatchFinish(id: String, owner: String, nowMs: Int64, leaseMs: Int64) async throws -> Bool {
        try await affected("""
            UPDATE batches SET finisher = \(owner), finisher_until = \(Int(nowMs + leaseMs))
            WHERE id = \(id) AND (finisher IS NULL OR finisher = \(owner) OR finisher_until < \(Int(nowMs))) RETURNING id
            """) == 1
    }

    public func finishBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int, output: BatchOutputFile?, errorFile: BatchOutputFile?,
                            errors: String?) async throws -> Bool {
        let stamp = BatchSchema.stampColumn(to).map { ", \($0) = \(at)" } ?? ""
        return try await client.withTransaction(logger: logger) { tx in
            var moved = false
            for try await _ in try await tx.query("""
                UPDATE batches SET status = \(to.rawValue)\(unescaped: stamp), output_file_id = COALESCE(\(output?.file.id), output_file_id),
                    error_file_id = COALESCE(\(errorFile?.file.id), error_file_id), errors = COALESCE(\(errors), errors)
                WHERE id = \(id) AND status = ANY(\(from.map(\.rawValue))) RETURNING id
                """, logger: logger).decode(String.self) { moved = true }
            guard moved else { return false }
            for f in [output, errorFile].compactMap({ $0 }) {
                try await tx.query("""
                    INSERT INTO batch_files (\(unescaped: BatchSchema.fileColumns), content)
                    VALUES (\(f.file.id), \(f.file.owner), \(f.file.purpose), \(f.file.filename), \(f.file.bytes), \(f.file.createdAt), \(f.content))
                    """, logger: logger)
            }
            return true
        }
    }

    public func deleteBatchData(before: Int) async throws -> Int {
        try await client.withTransaction(logger: logger) { tx in
            var deleted = 0
            try await tx.query("""
                DELETE FROM batch_lines WHERE batch_id IN (
                    SELECT id FROM batches WHERE status IN ('failed', 'completed', 'expired', 'cancelled') AND created_at < \(before))
                """, logger: logger)
            for try await _ in try await tx.query("""
                DELETE FROM batches WHERE status IN ('failed', 'completed', 'expired', 'cancelled') AND created_at < \(before) RETURNING id
                """, logger: logger).decode(String.self) { deleted += 1 }
            for try await _ in try await tx.query("DELETE FROM batch_files WHERE created_at < \(before) RETURNING id", logger: logger)
                .decode(String.self) { deleted += 1 }
            return deleted
        }
    }
}
