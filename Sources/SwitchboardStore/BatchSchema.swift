import SwitchboardCore

/// Files (`POST /v1/files`) and batches (`POST /v1/batches`) with their progress, line by line.
///
/// A batch's lines are taken by runners (one per replica) with a claim: an owner and a lease that the owner renews
/// while it works. A line's result is written in the same step that marks it done, so a finished line is never taken
/// again; a line whose owner died (lease passed) is taken by another runner, and may then have reached its upstream
/// twice (at-least-once for lines in flight at a crash, exactly once for every other).
public protocol BatchStorage: Sendable {
    /// Stores a file and its content.
    func insertFile(_ file: StoredFile, content: String) async throws
    /// A file's description (nil: none with this id).
    func file(id: String) async throws -> StoredFile?
    /// A file's content (nil: none with this id).
    func fileContent(id: String) async throws -> String?
    /// Files of `owner` (every owner's when nil), newest first, those after the file `after` in that order, at most `limit`.
    func files(owner: String?, purpose: String?, after: String?, limit: Int) async throws -> [StoredFile]
    /// Deletes a file and its content; false when there was none.
    func deleteFile(id: String) async throws -> Bool

    /// Stores a new batch and its lines, all pending, in one step.
    func insertBatch(_ batch: BatchRecord, lines: [BatchLine]) async throws
    func batch(id: String) async throws -> BatchRecord?
    /// Batches of `owner` (every owner's when nil), newest first, those after the batch `after`, at most `limit`.
    func batches(owner: String?, after: String?, limit: Int) async throws -> [BatchRecord]
    /// Batches that are not finished (validating, in progress, finalizing, cancelling), oldest first.
    func activeBatches() async throws -> [BatchRecord]
    /// Moves a batch from one of `from` to `to`, stamping the time of `to` (seconds); false when it was in none of them.
    func moveBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int) async throws -> Bool

    /// Takes up to `limit` lines for `owner` until `nowMs + leaseMs`: pending lines due at `nowMs`, and lines whose
    /// owner's lease has passed, of batches in progress and not expired at `nowMs`; oldest batch first, in line order.
    func claimBatchLines(owner: String, nowMs: Int64, leaseMs: Int64, limit: Int) async throws -> [BatchLine]
    /// Extends the leases of every line `owner` holds to `untilMs`.
    func renewBatchLines(owner: String, untilMs: Int64) async throws
    /// Gives a held line back, to be taken again from `notBeforeMs` on (a line refused for a rate limit).
    func retryBatchLine(batchID: String, index: Int, owner: String, notBeforeMs: Int64) async throws
    /// Marks a held line done with its output line, counting it completed or failed on its batch, in one step;
    /// false when `owner` no longer held it (its lease passed and another runner took it).
    func finishBatchLine(batchID: String, index: Int, owner: String, result: String, failed: Bool) async throws -> Bool
    /// How many of a batch's lines are not done, and how many of those are held under a lease still running at `nowMs`.
    func batchLineCounts(batchID: String, nowMs: Int64) async throws -> BatchLineCounts
    /// Every line of a batch in order, with its output line when it is done.
    func batchOutcomes(batchID: String) async throws -> [BatchLineOutcome]
    /// Makes `owner` the one replica writing a batch's output, until `nowMs + leaseMs`; false when another holds it.
    func claimBatchFinish(id: String, owner: String, nowMs: Int64, leaseMs: Int64) async throws -> Bool
    /// Ends a batch: stores its output and error files (when given) and moves it from one of `from` to `to` with
    /// their ids and `errors`, in one step; false (and nothing stored) when it was in none of `from`.
    func finishBatch(id: String, from: [BatchStatus], to: BatchStatus, at: Int, output: BatchOutputFile?, errorFile: BatchOutputFile?,
                     errors: String?) async throws -> Bool
    /// Deletes files created before `before` (seconds since 1970) and finished batches (with their lines) created
    /// before it; how many of both.
    func deleteBatchData(before: Int) async throws -> Int
}

/// A stored file's description (its content is read apart).
public struct StoredFile: Sendable, Equatable {
    /// `file-` + 24 letters and digits.
    public var id: String
    /// Who may see it: `key:ID`, `static:NAME` or `master`.
    public var owner: String
    public var purpose: String
    public var filename: String
    public var bytes: Int
    /// Seconds since 1970.
    public var createdAt: Int

    public init(id: String, owner: String, purpose: String, filename: String, bytes: Int, createdAt: Int) {
        self.id = id
        self.owner = owner
        self.purpose = purpose
        self.filename = filename
        self.bytes = bytes
        self.createdAt = createdAt
    }
}

/// A file written by the gateway (a batch's output or errors).
public struct BatchOutputFile: Sendable, Equatable {
    public var file: StoredFile
    public var content: String
    public init(file: StoredFile, content: String) {
        self.file = file
        self.content = content
    }
}

/// OpenAI's batch statuses.
public enum BatchStatus: String, Sendable, CaseIterable {
    case validating, failed, inProgress = "in_progress", finalizing, completed, expired, cancelling, cancelled

    public var isFinished: Bool { [.failed, .completed, .expired, .cancelled].contains(self) }
}

/// A batch as stored.
public struct BatchRecord: Sendable, Equatable {
    /// `batch_` + 24 letters and digits.
    public var id: String
    /// Who may see it, as a file's owner.
    public var owner: String
    /// The submitting key's name (for logs and errors), never the key.
    public var keyName: String
    public var endpoint: String
    public var inputFileID: String
    public var completionWindow: String
    public var status: BatchStatus
    /// Seconds since 1970.
    public var createdAt: Int
    public var expiresAt: Int
    public var inProgressAt: Int?
    public var finalizingAt: Int?
    public var completedAt: Int?
    public var failedAt: Int?
    public var expiredAt: Int?
    public var cancellingAt: Int?
    public var cancelledAt: Int?
    public var outputFileID: String?
    public var errorFileID: String?
    public var total: Int
    public var completed: Int
    public var failed: Int
    /// The client's `metadata`, as JSON text (nil: none).
    public var metadata: String?
    /// OpenAI's `errors` object, as JSON text (nil: none).
    public var errors: String?

    public init(id: String, owner: String, keyName: String, endpoint: String, inputFileID: String, completionWindow: String = "24h",
                status: BatchStatus = .validating, createdAt: Int, expiresAt: Int, total: Int, metadata: String? = nil) {
        self.id = id
        self.owner = owner
        self.keyName = keyName
        self.endpoint = endpoint
        self.inputFileID = inputFileID
        self.completionWindow = completionWindow
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.total = total
        self.completed = 0
        self.failed = 0
        self.metadata = metadata
    }

    /// Sets the time column of `status`.
    public mutating func stamp(_ status: BatchStatus, at t: Int) {
        switch status {
        case .validating: break
        case .inProgress: inProgressAt = t
        case .finalizing: finalizingAt = t
        case .completed: completedAt = t
        case .failed: failedAt = t
        case .expired: expiredAt = t
        case .cancelling: cancellingAt = t
        case .cancelled: cancelledAt = t
        }
    }
}

/// One request line of a batch.
public struct BatchLine: Sendable, Equatable {
    public var batchID: String
    /// 0-based position in the input file.
    public var index: Int
    public var customID: String
    /// The line's `body` object, as JSON text.
    public var body: String
    /// How many times a runner has taken it (1 on its first run).
    public var attempts: Int

    public init(batchID: String, index: Int, customID: String, body: String, attempts: Int = 0) {
        self.batchID = batchID
        self.index = index
        self.customID = customID
        self.body = body
        self.attempts = attempts
    }
}

public struct BatchLineCounts: Sendable, Equatable {
    /// Lines not done.
    public var open: Int
    /// Of those, lines held under a lease that has not passed.
    public var running: Int
    public init(open: Int, running: Int) {
        self.open = open
        self.running = running
    }
}

/// A line at the end of its batch: its output line when it ran.
public struct BatchLineOutcome: Sendable, Equatable {
    public var index: Int
    public var customID: String
    /// The output line (nil: never finished).
    public var result: String?
    public var failed: Bool
    public init(index: Int, customID: String, result: String?, failed: Bool) {
        self.index = index
        self.customID = customID
        self.result = result
        self.failed = failed
    }
}

/// The files' and batches' tables, shared by the SQL storages (SQLite migration 12, PostgreSQL 11).
enum BatchSchema {
    /// `collate` makes ids compare byte by byte; `big` is the 64-bit integer type.
    static func tables(big: String, collate: String = "") -> [String] {
        [
            """
            CREATE TABLE batch_files (
                id TEXT\(collate) NOT NULL PRIMARY KEY,
                owner TEXT NOT NULL,
                purpose TEXT NOT NULL,
                filename TEXT NOT NULL,
                bytes \(big) NOT NULL,
                created_at \(big) NOT NULL,
                content TEXT NOT NULL
            )
            """,
            "CREATE INDEX batch_files_owner ON batch_files (owner, created_at, id)",
            "CREATE INDEX batch_files_created ON batch_files (created_at, id)",
            """
            CREATE TABLE batches (
                id TEXT\(collate) NOT NULL PRIMARY KEY,
                owner TEXT NOT NULL,
                key_name TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                input_file_id TEXT NOT NULL,
                completion_window TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at \(big) NOT NULL,
                expires_at \(big) NOT NULL,
                in_progress_at \(big), finalizing_at \(big), completed_at \(big), failed_at \(big), expired_at \(big),
                cancelling_at \(big), cancelled_at \(big),
                output_file_id TEXT, error_file_id TEXT,
                total \(big) NOT NULL, completed \(big) NOT NULL DEFAULT 0, failed \(big) NOT NULL DEFAULT 0,
                metadata TEXT, errors TEXT,
                finisher TEXT, finisher_until \(big) NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX batches_owner ON batches (owner, created_at, id)",
            "CREATE INDEX batches_status ON batches (status, created_at)",
            """
            CREATE TABLE batch_lines (
                batch_id TEXT\(collate) NOT NULL,
                idx \(big) NOT NULL,
                custom_id TEXT NOT NULL,
                body TEXT NOT NULL,
                state TEXT NOT NULL,
                owner TEXT,
                lease_until \(big) NOT NULL DEFAULT 0,
                not_before \(big) NOT NULL DEFAULT 0,
                attempts \(big) NOT NULL DEFAULT 0,
                result TEXT,
                failed \(big) NOT NULL DEFAULT 0,
                PRIMARY KEY (batch_id, idx)
            )
            """,
            "CREATE INDEX batch_lines_state ON batch_lines (batch_id, state, idx)",
            "CREATE INDEX batch_lines_owner ON batch_lines (owner)",
        ]
    }

    static let sqliteMigrations: [(version: Int, statements: [String])] = [(12, tables(big: "INTEGER"))]
    static let postgresMigrations: [(version: Int, statements: [String])] = [(11, tables(big: "BIGINT", collate: #" COLLATE "C""#))]

    static let fileColumns = "id, owner, purpose, filename, bytes, created_at"
    static let batchColumns = """
        id, owner, key_name, endpoint, input_file_id, completion_window, status, created_at, expires_at, in_progress_at, finalizing_at, \
        completed_at, failed_at, expired_at, cancelling_at, cancelled_at, output_file_id, error_file_id, total, completed, failed, metadata, errors
        """
    /// The column of a status's time.
    static func stampColumn(_ s: BatchStatus) -> String? {
        switch s {
        case .validating: nil
        case .inProgress: "in_progress_at"
        case .finalizing: "finalizing_at"
        case .completed: "completed_at"
        case .failed: "failed_at"
        case .expired: "expired_at"
        case .cancelling: "cancelling_at"
        case .cancelled: "cancelled_at"
        }
    }

    static func status(_ text: String, id: String) throws -> BatchStatus {
        guard let s = BatchStatus(rawValue: text) else { throw StorageError.corrupt("batch \(id): status \"\(text)\"") }
        return s
    }

    /// The WHERE condition of a listing page after the row `after` (newest first): rows older than it.
    static func afterClause(table: String, placeholder: String) -> String {
        "(created_at, id) < (SELECT created_at, id FROM \(table) WHERE id = \(placeholder))"
    }
}
