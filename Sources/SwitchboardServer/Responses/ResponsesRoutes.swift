import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardStore

/// `/v1/responses`: create (through the engine, after the stored conversation it continues is put in front of its
/// input), and the stored responses' `GET`, `DELETE` and `input_items` — each key sees only its own.
enum ResponsesRoutes {
    static func add(to v1: RouterGroup<GatewayRequestContext>, live: LiveGateway, store: ResponseStore, limit: Int, bodyLimits: RequestLimits) {
        v1.post("responses") { request, context in
            var parsed = try ResponsesRequest.parse(try await readBody(request, limit: limit), limits: bodyLimits)
            parsed = try await store.expand(parsed, owner: ResponseStore.owner(context.identity!))
            return try await ClientRoutes.serve(ResponsesAPI.self, parsed, request, context, live: live, clientHeaders: false)
        }
        v1.get("responses/:id") { _, context in
            let stored = try await found(store, context)
            return jsonResponse(stored.response)
        }
        v1.delete("responses/:id") { _, context in
            let stored = try await found(store, context)
            do { _ = try await store.storage.deleteResponse(id: stored.id) } catch { throw GatewayError.storageUnavailable }
            return jsonResponse(#"{"id":\#(JSONString.quote(stored.id)),"object":"response","deleted":true}"#)
        }
        v1.get("responses/:id/input_items") { request, context in
            let stored = try await found(store, context)
            return jsonResponse(try inputItems(stored, request.uri.queryParameters))
        }
    }

    /// The caller's stored response named by the path; 404 in OpenAI's shape otherwise.
    static func found(_ store: ResponseStore, _ context: GatewayRequestContext) async throws -> StoredResponse {
        let id = context.parameters.get("id") ?? ""
        guard let stored = try await store.find(id, owner: ResponseStore.owner(context.identity!)) else {
            throw GatewayError(.notFound, "Response with id '\(id)' not found.", param: "response_id")
        }
        return stored
    }

    /// `GET /v1/responses/{id}/input_items`: the turn's own input items, `order` (desc by default, as OpenAI's),
    /// `limit` (1–100, default 20) and `after` (an item id) as OpenAI pages them.
    static func inputItems(_ stored: StoredResponse, _ query: Parameters) throws -> String {
        var items = JSONValue.parse(Data(stored.input.utf8))?.array ?? []
        switch query.get("order") ?? "desc" {
        case "desc": items.reverse()
        case "asc": break
        case let other: throw GatewayError.invalidParameter("order", "order: expected asc or desc, got '\(other.prefix(20))'.")
        }
        let limitText = query.get("limit") ?? "20"
        guard let limit = Int(limitText), (1...100).contains(limit) else {
            throw GatewayError.invalidParameter("limit", "limit: expected an integer from 1 to 100, got '\(limitText.prefix(20))'.")
        }
        if let after = query.get("after") {
            guard let i = items.firstIndex(where: { $0["id"]?.string == after }) else {
                throw GatewayError.invalidParameter("after", "after: no input item '\(after.prefix(80))' in this response.")
            }
            items.removeFirst(i + 1)
        }
        let page = Array(items.prefix(limit))
        let list: JSONValue = [
            "object": "list", "data": .array(page), "has_more": .bool(items.count > limit),
            "first_id": page.first?["id"] ?? .null, "last_id": page.last?["id"] ?? .null,
        ]
        return list.jsonText
    }
}
