import Foundation
import SwitchboardCore
import SwitchboardStore

/// Files, batches and output lines in OpenAI's shapes (openai-python `types/file_object.py`, `types/batch.py`).
enum BatchObjects {
    static func int(_ v: Int?) -> JSONValue { v.map(JSONValue.int) ?? .null }
    static func text(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }

    /// `FileObject`.
    static func file(_ f: StoredFile) -> JSONValue {
        ["id": .string(f.id), "object": "file", "bytes": .int(f.bytes), "created_at": .int(f.createdAt), "filename": .string(f.filename),
         "purpose": .string(f.purpose), "status": "processed", "status_details": nil, "expires_at": nil]
    }

    /// `Batch`.
    static func batch(_ b: BatchRecord) -> JSONValue {
        let metadata = b.metadata.flatMap { JSONValue.parse(Data($0.utf8)) } ?? .null
        let errors = b.errors.flatMap { JSONValue.parse(Data($0.utf8)) } ?? .null
        return [
            "id": .string(b.id), "object": "batch", "endpoint": .string(b.endpoint), "errors": errors, "input_file_id": .string(b.inputFileID),
            "completion_window": .string(b.completionWindow), "status": .string(b.status.rawValue), "output_file_id": text(b.outputFileID),
            "error_file_id": text(b.errorFileID), "created_at": .int(b.createdAt), "in_progress_at": int(b.inProgressAt),
            "expires_at": .int(b.expiresAt), "finalizing_at": int(b.finalizingAt), "completed_at": int(b.completedAt),
            "failed_at": int(b.failedAt), "expired_at": int(b.expiredAt), "cancelling_at": int(b.cancellingAt),
            "cancelled_at": int(b.cancelledAt),
            "request_counts": ["total": .int(b.total), "completed": .int(b.completed), "failed": .int(b.failed)],
            "metadata": metadata,
        ]
    }

    /// A page of a list: `{"object":"list","data":[…],"first_id","last_id","has_more"}`.
    static func list(_ items: [JSONValue], ids: [String], hasMore: Bool) -> String {
        JSONValue.object(["object": "list", "data": .array(items), "first_id": text(ids.first), "last_id": text(ids.last),
                          "has_more": .bool(hasMore)]).jsonText
    }

    /// An output line for a request that was answered: `response` with its status, request id and body.
    static func answered(customID: String, status: Int, requestID: String, body: String) -> String {
        let parsed = JSONValue.parse(Data(body.utf8)) ?? .string(body)
        return JSONValue.object([
            "id": .string(newBatchRequestID()), "custom_id": .string(customID),
            "response": ["status_code": .int(status), "request_id": .string(requestID), "body": parsed], "error": nil,
        ]).jsonText
    }

    /// An output line for a request that never ran: `error {code, message}`.
    static func notRun(customID: String, code: String, message: String) -> String {
        JSONValue.object(["id": .string(newBatchRequestID()), "custom_id": .string(customID), "response": nil,
                          "error": ["code": .string(code), "message": .string(message)]]).jsonText
    }

    /// OpenAI's `errors` object for a batch that failed validation.
    static func errors(_ items: [(code: String, message: String, param: String?, line: Int?)]) -> String {
        JSONValue.object(["object": "list", "data": .array(items.map {
            ["code": .string($0.code), "message": .string($0.message), "param": text($0.param), "line": int($0.line)]
        })]).jsonText
    }

    static func random(_ n: Int) -> String {
        var g = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<n).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
    }

    static func newFileID() -> String { "file-" + random(24) }
    static func newBatchID() -> String { "batch_" + random(24) }
    static func newBatchRequestID() -> String { "batch_req_" + random(24) }
}
