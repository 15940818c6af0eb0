import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardStore

/// OpenAI's Files and Batch APIs under `/v1`: `files` (purpose `batch`, JSONL checked line by line), `batches`
/// (created, read, listed, cancelled). A key sees only its own files and batches (404 otherwise); the master key and
/// admins see all. The lines run in `BatchRunner`.
enum BatchAPI {
    static func add(to v1: RouterGroup<GatewayRequestContext>, services: GatewayServices) {
        let storage = services.storage, config = services.config.batches, now = services.keys.now
        let enabled = config.enabled
        @Sendable func check() throws(GatewayError) {
            if !enabled { throw GatewayError(.notFound, "The Files and Batch APIs are turned off on this gateway (batches.enabled: false).") }
        }

        v1.post("files") { request, context in
            try check()
            let file = try await upload(request, limit: config.maxFileBytes)
            let stored = StoredFile(id: BatchObjects.newFileID(), owner: BatchOwner.of(context.identity!), purpose: "batch",
                                    filename: file.filename, bytes: file.content.utf8.count, createdAt: Int(now()))
            try await call { try await storage.insertFile(stored, content: file.content) }
            return jsonResponse(BatchObjects.file(stored).jsonText)
        }
        v1.get("files") { request, context in
            try check()
            let q = request.uri.queryParameters
            let limit = try limitParameter(q["limit"].map(String.init), default: 10_000, max: 10_000)
            let purpose = q["purpose"].map(String.init)
            let files = try await call {
                try await storage.files(owner: BatchOwner.filter(context.identity!), purpose: purpose, after: q["after"].map(String.init), limit: limit + 1)
            }
            let page = Array(files.prefix(limit))
            return jsonResponse(BatchObjects.list(page.map(BatchObjects.file), ids: page.map(\.id), hasMore: files.count > limit))
        }
        v1.get("files/:id") { _, context in
            try check()
            return jsonResponse(BatchObjects.file(try await visibleFile(context, storage)).jsonText)
        }
        v1.delete("files/:id") { _, context in
            try check()
            let file = try await visibleFile(context, storage)
            let deleted = try await call { try await storage.deleteFile(id: file.id) }
            return jsonResponse(JSONValue.object(["id": .string(file.id), "object": "file", "deleted": .bool(deleted)]).jsonText)
        }
        v1.get("files/:id/content") { _, context in
            try check()
            let file = try await visibleFile(context, storage)
            guard let content = try await call({ try await storage.fileContent(id: file.id) }) else { throw notFound("file", file.id) }
            var headers = HTTPFields()
            headers[.contentType] = "application/octet-stream"
            headers[.contentDisposition] = "attachment; filename=\"\(file.filename.replacingOccurrences(of: "\"", with: ""))\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: content)))
        }

        v1.post("batches") { request, context in
            try check()
            let body = try await readBody(request, limit: services.config.server.maxBodyBytes)
            let batch = try await create(body, identity: context.identity!, storage: storage, at: Int(now()))
            return jsonResponse(BatchObjects.batch(batch).jsonText)
        }
        v1.get("batches") { request, context in
            try check()
            let q = request.uri.queryParameters
            let limit = try limitParameter(q["limit"].map(String.init), default: 20, max: 100)
            let batches = try await call {
                try await storage.batches(owner: BatchOwner.filter(context.identity!), after: q["after"].map(String.init), limit: limit + 1)
            }
            let page = Array(batches.prefix(limit))
            return jsonResponse(BatchObjects.list(page.map(BatchObjects.batch), ids: page.map(\.id), hasMore: batches.count > limit))
        }
        v1.get("batches/:id") { _, context in
            try check()
            return jsonResponse(BatchObjects.batch(try await visibleBatch(context, storage)).jsonText)
        }
        v1.post("batches/:id/cancel") { _, context in
            try check()
            let batch = try await visibleBatch(context, storage)
            let moved = try await call { try await storage.moveBatch(id: batch.id, from: [.validating, .inProgress], to: .cancelling, at: Int(now())) }
            guard let current = try await call({ try await storage.batch(id: batch.id) }) else { throw notFound("batch", batch.id) }
            if !moved && ![.cancelling, .cancelled].contains(current.status) {
                throw GatewayError(.conflict, "Cannot cancel a batch with status '\(current.status.rawValue)'.")
            }
            return jsonResponse(BatchObjects.batch(current).jsonText)
        }
    }

    // MARK: Steps

    /// The uploaded file of a `multipart/form-data` request: `purpose` must be `batch`, `file` a valid batch JSONL.
    static func upload(_ request: Request, limit: Int) async throws(GatewayError) -> (filename: String, content: String) {
        guard let boundary = request.headers[.contentType].flatMap(MultipartForm.boundary) else {
            throw GatewayError(.invalidParameter, "Expected a multipart/form-data body with the fields 'purpose' and 'file'.", param: "file")
        }
        // The form around the file may add a little; the file itself is held to `limit` below.
        let body = try await readBody(request, limit: limit + 64 * 1024)
        guard let form = MultipartForm.parse(Array(buffer: body), boundary: boundary) else {
            throw GatewayError(.invalidParameter, "The multipart/form-data body is malformed.", param: "file")
        }
        guard let purpose = form.part("purpose").map({ String(decoding: $0.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) })
        else { throw GatewayError.missingParameter("purpose") }
        guard purpose == "batch" else {
            throw GatewayError(.invalidParameter, "'purpose' \(JSONString.quote(purpose)) is not supported: this gateway stores files for 'batch' only.",
                               param: "purpose")
        }
        guard let file = form.part("file") else { throw GatewayError.missingParameter("file") }
        guard file.data.count <= limit else { throw GatewayError(.requestTooLarge, "The file is larger than the limit of \(limit) bytes.") }
        guard let content = String(validating: file.data, as: UTF8.self) else {
            throw GatewayError(.invalidParameter, "The file is not UTF-8 text.", param: "file")
        }
        _ = try BatchInput.parse(content)
        let name = (file.filename ?? "").isEmpty ? "batch.jsonl" : file.filename ?? "batch.jsonl"
        return (String(name.prefix(255)), content)
    }

    /// A new batch over a stored file: its lines checked again and stored, all pending.
    static func create(_ body: ByteBuffer, identity: Identity, storage: any Storage, at t: Int) async throws(GatewayError) -> BatchRecord {
        guard let object = JSONValue.parse(Data(buffer: body))?.object else { throw GatewayError.invalidJSON("expected a JSON object") }
        guard let fileID = object["input_file_id"]?.string, !fileID.isEmpty else { throw GatewayError.missingParameter("input_file_id") }
        guard let endpoint = object["endpoint"]?.string else { throw GatewayError.missingParameter("endpoint") }
        guard BatchInput.endpoints.contains(endpoint) else {
            throw GatewayError(.invalidParameter, "'endpoint' \(JSONString.quote(endpoint)) is not supported; expected one of "
                               + BatchInput.endpoints.joined(separator: ", ") + ".", param: "endpoint")
        }
        guard let window = object["completion_window"]?.string else { throw GatewayError.missingParameter("completion_window") }
        guard window == "24h" else {
            throw GatewayError(.invalidParameter, "'completion_window' must be \"24h\".", param: "completion_window")
        }
        var metadata: String?
        if let m = object["metadata"], !m.isNull {
            guard let pairs = m.object, pairs.count <= 16, pairs.allSatisfy({ $0.key.count <= 64 && ($0.value.string?.count ?? 513) <= 512 }) else {
                throw GatewayError(.invalidParameter, "'metadata' must be an object of at most 16 string values (keys up to 64 characters, values up to 512).",
                                   param: "metadata")
            }
            metadata = m.jsonText
        }
        guard let file = try await call({ try await storage.file(id: fileID) }), BatchOwner.canSee(identity, file.owner) else {
            throw GatewayError(.notFound, "No file with id '\(fileID)'.", param: "input_file_id")
        }
        guard file.purpose == "batch" else {
            throw GatewayError(.invalidParameter, "The file '\(fileID)' has purpose '\(file.purpose)', not 'batch'.", param: "input_file_id")
        }
        guard let content = try await call({ try await storage.fileContent(id: fileID) }) else {
            throw GatewayError(.notFound, "No file with id '\(fileID)'.", param: "input_file_id")
        }
        let input = try BatchInput.parse(content)
        if let wrong = input.lines.first(where: { $0.url != endpoint }) {
            throw BatchInput.invalid(wrong.number, "url", "'url' \(JSONString.quote(wrong.url)) does not match the batch's endpoint \(JSONString.quote(endpoint)).")
        }
        let id = BatchObjects.newBatchID()
        let batch = BatchRecord(id: id, owner: BatchOwner.of(identity), keyName: identity.name, endpoint: endpoint, inputFileID: fileID,
                                createdAt: t, expiresAt: t + 86_400, total: input.lines.count, metadata: metadata)
        let lines = input.lines.enumerated().map { BatchLine(batchID: id, index: $0.offset, customID: $0.element.customID, body: $0.element.body) }
        try await call { try await storage.insertBatch(batch, lines: lines) }
        return batch
    }

    static func visibleFile(_ context: GatewayRequestContext, _ storage: any Storage) async throws(GatewayError) -> StoredFile {
        let id = context.parameters.get("id") ?? ""
        guard let file = try await call({ try await storage.file(id: id) }), BatchOwner.canSee(context.identity!, file.owner) else {
            throw notFound("file", id)
        }
        return file
    }

    static func visibleBatch(_ context: GatewayRequestContext, _ storage: any Storage) async throws(GatewayError) -> BatchRecord {
        let id = context.parameters.get("id") ?? ""
        guard let batch = try await call({ try await storage.batch(id: id) }), BatchOwner.canSee(context.identity!, batch.owner) else {
            throw notFound("batch", id)
        }
        return batch
    }

    static func notFound(_ what: String, _ id: String) -> GatewayError {
        GatewayError(.notFound, "No \(what) with id '\(id)'.")
    }

    static func limitParameter(_ text: String?, default value: Int, max: Int) throws(GatewayError) -> Int {
        guard let text else { return value }
        guard let n = Int(text), (1...max).contains(n) else {
            throw GatewayError(.invalidParameter, "'limit' must be an integer from 1 to \(max).", param: "limit")
        }
        return n
    }

    /// A storage call; its failure is a 503 (unreachable) or 500 (anything else), never a bare error.
    static func call<T>(_ body: () async throws -> T) async throws(GatewayError) -> T {
        do {
            return try await body()
        } catch let e as StorageError {
            if case .unreachable = e { throw GatewayError.storageUnavailable }
            throw GatewayError(.storageError, "Storage error: \(e.detail).")
        } catch {
            throw GatewayError.storageUnavailable
        }
    }
}
