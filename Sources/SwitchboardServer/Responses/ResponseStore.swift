import Foundation
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardStore

/// The gateway's memory of Responses API conversations: each stored response with its own turn's input, chained by
/// `previous_response_id`. A turn that continues one is served with the whole conversation in its input, so the next
/// turn may go to any provider, whichever served the last.
struct ResponseStore: Sendable {
    let storage: any ResponseStorage
    let logger: Logger
    let now: @Sendable () -> Double
    /// The most turns one conversation may chain (a longer one is refused, never walked without end).
    static let maxTurns = 1000

    /// Whose responses a caller may see: the managed key's id, else its name.
    static func owner(_ identity: Identity) -> String { identity.keyID ?? "name:" + identity.name }

    /// The stored response `id` if it is the caller's (nil otherwise: someone else's is as good as missing).
    func find(_ id: String, owner: String) async throws(GatewayError) -> StoredResponse? {
        let found: StoredResponse?
        do { found = try await storage.storedResponse(id: id) } catch { throw .storageUnavailable }
        guard let found, found.owner == owner else { return nil }
        return found
    }

    /// The request with the conversation `previous_response_id` continues put in front of its input: every earlier
    /// turn's input and output items, oldest first (reasoning items are left out: they belong to the provider that
    /// made them). 400 `previous_response_not_found` when a turn is missing or not the caller's.
    func expand(_ request: ResponsesRequest, owner: String) async throws(GatewayError) -> ResponsesRequest {
        guard let first = request.previousResponseID else { return request }
        var turns: [StoredResponse] = []
        var next: String? = first
        while let id = next {
            guard turns.count < Self.maxTurns else {
                throw .invalidParameter("previous_response_id", "The conversation is longer than \(Self.maxTurns) turns; start a new one.")
            }
            guard let turn = try await find(id, owner: owner) else {
                throw GatewayError(.previousResponseNotFound, "Previous response with id '\(id)' not found.", param: "previous_response_id")
            }
            turns.append(turn)
            next = turn.previousID
        }
        var history: [JSONValue] = []
        for turn in turns.reversed() {
            history += JSONValue.parse(Data(turn.input.utf8))?.array ?? []
            let output = JSONValue.parse(Data(turn.response.utf8))?["output"]?.array ?? []
            history += output.filter { $0["type"]?.string != "reasoning" }
        }
        return try request.withHistory(history.map(Self.asInput))
    }

    /// An item as it goes back in as input: the members a provider accepts there (ids and statuses dropped).
    static func asInput(_ item: JSONValue) -> JSONValue {
        guard var o = item.object else { return item }
        o["id"] = nil
        o["status"] = nil
        if o["type"]?.string == "message", var content = o["content"]?.array {
            content = content.map { part in
                guard var p = part.object else { return part }
                if p["type"]?.string == "output_text" { p["annotations"] = nil; p["logprobs"] = nil }
                return .object(p)
            }
            o["content"] = .array(content)
        }
        return .object(o)
    }

    /// Keeps a response the client got (`response` is the response object) with its turn's input. A storage failure
    /// is logged, never the client's problem: the answer was given.
    func save(_ response: JSONValue, request: ResponsesRequest, owner: String) async {
        guard let id = response["id"]?.string, !id.isEmpty, id.utf8.count <= 256 else { return }
        let items = (request.turnInput.array ?? []).enumerated().map { i, item -> JSONValue in
            guard var o = item.object, o["id"] == nil else { return item }
            o["id"] = .string("msg_\(id.dropFirst(5).prefix(40))_\(i)")
            return .object(o)
        }
        let stored = StoredResponse(id: id, owner: owner, createdMs: Int64(now() * 1000), model: request.model,
                                    previousID: request.previousResponseID, input: JSONValue.array(items).jsonText, response: response.jsonText)
        do { try await storage.insertResponse(stored) } catch {
            logger.warning("A response could not be stored", metadata: ["response.id": "\(id)", "error.type": "\(type(of: error))"])
        }
    }
}

extension RetentionService {
    /// `responses.retention_days`.
    static func storedResponses(_ storage: any ResponseStorage, days: Double, logger: Logger) -> RetentionService {
        RetentionService(what: "Stored responses", days: days, logger: logger) { try await storage.deleteResponses(beforeMs: Int64($0 * 1000)) }
    }
}
