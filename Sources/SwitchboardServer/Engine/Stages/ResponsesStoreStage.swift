import Foundation
import NIOCore
import SwitchboardCore

/// Response stage: keeps each Responses API response the client gets (`store`, the default) with its turn's input,
/// for `previous_response_id`, `GET` and `DELETE /v1/responses/{id}` (ResponseStore). A whole answer is the response
/// object; a stream's is the one its `response.completed` (or `response.incomplete`/`response.failed`) event carries.
/// The response is stored before the client sees that event, so a client that continues the conversation the moment
/// it has the answer finds it. Last in order: it keeps what the client got.
struct ResponsesStoreStage: ResponseStage {
    let store: ResponseStore

    func start<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> (any ResponseFilter)? {
        guard let request = call.request as? ResponsesRequest, request.store else { return nil }
        return Keeper(store: store, request: request, owner: ResponseStore.owner(call.identity))
    }

    struct Keeper: ResponseFilter {
        let store: ResponseStore
        let request: ResponsesRequest
        let owner: String
        var events = SSEEventBuffer()
        var saved = false

        mutating func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
            if let response = JSONValue.parse(Data(buffer: body)), response["object"]?.string == "response" {
                await store.save(response, request: request, owner: owner)
            }
            return .pass
        }

        mutating func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
            guard !saved else { return .pass }
            for payload in events.add(bytes) {
                guard let response = Self.finalResponse(payload) else { continue }
                saved = true
                await store.save(response, request: request, owner: owner)
            }
            return .pass
        }

        func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange) {}

        private static let endings = ["response.completed", "response.incomplete", "response.failed"].map { Data("\"\($0)\"".utf8) }

        /// The response object of an event that ends the response, if `payload` is one.
        static func finalResponse(_ payload: Data) -> JSONValue? {
            // Deltas are most events: only those naming an ending type are decoded (members may come in any order).
            guard endings.contains(where: { payload.range(of: $0) != nil }), let event = JSONValue.parse(payload),
                  let type = event["type"]?.string, endings.contains(Data("\"\(type)\"".utf8)),
                  let response = event["response"], response.object != nil else { return nil }
            return response
        }
    }
}
