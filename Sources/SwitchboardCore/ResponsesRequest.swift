import Foundation
import NIOCore

/// The parts of an OpenAI Responses API request (`POST /v1/responses`) the gateway needs, read without decoding the
/// rest, plus the original bytes (forwarded untouched to deployments that speak the Responses API, but for `model`).
///
/// A request that continues a stored response (`previous_response_id`) is *expanded* by the gateway before it is
/// served: the stored turns are put in front of its `input` (`withHistory`), so that any provider can serve it.
public struct ResponsesRequest: Sendable {
    public let body: ByteBuffer
    public let model: String
    public let stream: Bool
    /// `store` (default true, as OpenAI's): the gateway keeps the response for `previous_response_id`, GET and DELETE.
    public let store: Bool
    public private(set) var previousResponseID: String?
    /// What the request needs from a deployment.
    public let needs: RequestNeeds
    /// The `user` field (or `safety_identifier`), when set (session affinity).
    public var user: String?
    /// This turn's own input items as JSON (a string input becomes one user message), before any expansion: what is
    /// stored with the response and listed by `GET /v1/responses/{id}/input_items`.
    public private(set) var turnInput: JSONValue
    /// True once the stored turns were put in front of `input` (`previous_response_id` is then not sent upstream).
    public private(set) var expanded = false
    private let modelRange: Range<Int>
    private let previousMember: Range<Int>?

    private static let keys: [[UInt8]] = ["model", "input", "stream", "store", "previous_response_id", "tools", "text",
                                          "max_output_tokens", "user", "instructions", "background", "conversation",
                                          "safety_identifier"].map { Array($0.utf8) }
    private static let imageType = Array(#""input_image""#.utf8)

    /// Reads a Responses request; throws the 400 the client should get for malformed or incomplete bodies (or the
    /// 400/413 for a body past `limits`).
    public static func parse(_ body: ByteBuffer, limits: RequestLimits = .none) throws(GatewayError) -> ResponsesRequest {
        try body.withUnsafeReadableBytes { (bytes) throws(GatewayError) -> ResponsesRequest in
            let f = try OpenAIRequest.peek(bytes, keys: keys, limits: limits)
            let (model, modelRange) = try OpenAIRequest.requireModel(bytes, f[0])
            guard let input = f[1], input.kind != .null else { throw .missingParameter("input") }
            switch input.kind {
            case .string: break
            case .array:
                if JSONPeek.isEmptyArray(bytes, input) { throw .invalidParameter("input", "'input' must not be an empty array.") }
            default:
                throw .invalidParameter("input", "Invalid type for 'input': expected a string or an array of input items, but got \(input.kind.name).")
            }
            try limits.check(entries: input, of: "input")
            try limits.check(contentBytes: input.range.count + (f[9]?.range.count ?? 0), of: "input")
            let stream = try bool(bytes, f[2], "stream") ?? false
            let store = try bool(bytes, f[3], "store") ?? true
            if try bool(bytes, f[10], "background") == true {
                throw .invalidParameter("background", "background: background responses are not supported by this gateway; send the request without it.")
            }
            if let c = f[11], c.kind != .null {
                throw .invalidParameter("conversation", "conversation: conversations are not supported by this gateway; chain turns with previous_response_id.")
            }
            var previous: String?
            if let p = f[4], p.kind != .null {
                guard let id = JSONPeek.string(bytes, p), !id.isEmpty, id.utf8.count <= 128 else {
                    throw .invalidParameter("previous_response_id", "previous_response_id: must be a response id (a non-empty string).")
                }
                previous = id
            }
            if let i = f[9], i.kind != .null, i.kind != .string {
                throw .invalidParameter("instructions", "Invalid type for 'instructions': expected a string, but got \(i.kind.name).")
            }
            var needs = RequestNeeds(streaming: stream, estimatedPromptTokens: (input.range.count + (f[9]?.range.count ?? 0)) / 4)
            if let tools = f[5], tools.kind != .null {
                guard tools.kind == .array else { throw .invalidParameter("tools", "Invalid type for 'tools': expected an array, but got \(tools.kind.name).") }
                needs.tools = !JSONPeek.isEmptyArray(bytes, tools)
            }
            if let text = f[6], text.kind != .null {
                guard text.kind == .object else { throw .invalidParameter("text", "Invalid type for 'text': expected an object, but got \(text.kind.name).") }
                let format = JSONValue.parse(UnsafeRawBufferPointer(rebasing: bytes[text.range]))?["format"]?["type"]?.string
                needs.jsonMode = format == "json_schema" || format == "json_object"
            }
            if let m = f[7], m.kind != .null {
                guard let n = JSONPeek.integer(bytes, m), (1...RequestNeeds.maxOutputTokensLimit).contains(n) else {
                    throw .invalidParameter("max_output_tokens", "max_output_tokens: must be an integer from 1 to \(RequestNeeds.maxOutputTokensLimit).")
                }
                needs.maxOutputTokens = n
            }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[input.range])
            let turn: JSONValue
            if input.kind == .string {
                turn = [Self.userMessage(JSONPeek.string(bytes, input) ?? "")]
            } else {
                guard let items = JSONValue.parse(raw), let list = items.array else { throw .invalidJSON("'input' could not be decoded.") }
                for (i, item) in list.enumerated() where item.object == nil {
                    throw .invalidParameter("input[\(i)]", "input[\(i)]: each input item must be an object.")
                }
                turn = items
                needs.vision = JSONPeek.contains(bytes, input, imageType) && list.contains { item in
                    (item["content"]?.array ?? []).contains { $0["type"]?.string == "input_image" }
                }
            }
            var request = ResponsesRequest(body: body, model: model, stream: stream, store: store, previousResponseID: previous, needs: needs,
                                           turnInput: turn, modelRange: modelRange, previousMember: f[4].flatMap { JSONPeek.memberRange(bytes, $0) })
            request.user = (f[8] ?? f[12]).flatMap { JSONPeek.string(bytes, $0) }
            return request
        }
    }

    private static func bool(_ bytes: UnsafeRawBufferPointer, _ value: JSONPeek.Value?, _ name: String) throws(GatewayError) -> Bool? {
        guard let value, value.kind != .null else { return nil }
        guard value.kind == .bool else { throw .invalidParameter(name, "Invalid type for '\(name)': expected a boolean, but got \(value.kind.name).") }
        return JSONPeek.isTrue(bytes, value)
    }

    /// A user message input item holding `text`, as OpenAI lists a string input.
    public static func userMessage(_ text: String) -> JSONValue {
        ["type": "message", "role": "user", "content": [["type": "input_text", "text": .string(text)]]]
    }

    /// The same request with `history` (the stored turns' input and output items, oldest first) in front of its
    /// input. `turnInput` stays this turn's own.
    public func withHistory(_ history: [JSONValue]) throws(GatewayError) -> ResponsesRequest {
        guard var object = body.withUnsafeReadableBytes({ JSONValue.parse($0) })?.object else { throw .invalidJSON("The body could not be decoded.") }
        object["input"] = .array(history + (turnInput.array ?? []))
        var next = try Self.parse(ByteBuffer(string: JSONValue.object(object).jsonText))
        next.turnInput = turnInput
        next.expanded = true
        next.user = user
        return next
    }

    /// The same request stored as a conversation's first turn: its input already holds every earlier turn (a held
    /// request served after review), so its stored turn must not point back to them again.
    public func standalone() -> ResponsesRequest {
        var next = self
        next.previousResponseID = nil
        return next
    }

    /// The same request for another public model (a routing rule's choice): the body with only `model` replaced.
    public func renamed(_ name: String) throws(GatewayError) -> ResponsesRequest {
        try rebuilt(name == model ? body : JSONPeek.splice(body, [(modelRange, JSONString.quote(name))]))
    }

    /// The same request with another body (a guardrail masked its texts); what the gateway knows of it is kept.
    public func rebuilt(_ body: ByteBuffer) throws(GatewayError) -> ResponsesRequest {
        var next = try Self.parse(body)
        next.turnInput = turnInput
        next.expanded = expanded
        next.previousResponseID = previousResponseID
        next.user = user
        return next
    }

    /// The body for an upstream that speaks the Responses API: the client's bytes with `model` replaced and, once the
    /// gateway has put the stored turns into `input`, without `previous_response_id` (the upstream never saw it).
    public func upstreamBody(model upstreamModel: String) -> ByteBuffer {
        var edits: [(range: Range<Int>, replacement: String)] = []
        if expanded, let member = previousMember { edits.append((member, "")) }
        if upstreamModel != model { edits.append((modelRange, JSONString.quote(upstreamModel))) }
        return edits.isEmpty ? body : JSONPeek.splice(body, edits)
    }
}

extension Usage {
    private static let responsesKeys: [[UInt8]] = ["input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"].map { Array($0.utf8) }
    private static let cachedKey: [[UInt8]] = [Array("cached_tokens".utf8)]
    private static let reasoningKey: [[UInt8]] = [Array("reasoning_tokens".utf8)]

    /// Reads the Responses API's `usage` object (`input_tokens` includes the cached ones, `output_tokens` the
    /// reasoning ones).
    public static func responsesUsageObject(_ bytes: UnsafeRawBufferPointer) -> Usage? {
        guard let f = try? JSONPeek.topLevel(bytes, keys: responsesKeys), f[0] != nil || f[1] != nil else { return nil }
        func detail(_ value: JSONPeek.Value?, _ key: [[UInt8]]) -> Int {
            guard let value, value.kind == .object else { return 0 }
            let inner = UnsafeRawBufferPointer(rebasing: bytes[value.range])
            guard let d = try? JSONPeek.topLevel(inner, keys: key) else { return 0 }
            return count(inner, d[0])
        }
        return Usage(promptTokens: count(bytes, f[0]), completionTokens: count(bytes, f[1]), cachedTokens: detail(f[2], cachedKey),
                     reasoningTokens: detail(f[3], reasoningKey))
    }

    private static let responseKey: [[UInt8]] = [Array("usage".utf8)]

    /// Usage of a Responses API response object (its top-level `usage`).
    public static func inResponsesObject(_ bytes: UnsafeRawBufferPointer) -> Usage? {
        guard let f = try? JSONPeek.topLevel(bytes, keys: responseKey), let u = f[0], u.kind == .object else { return nil }
        return responsesUsageObject(UnsafeRawBufferPointer(rebasing: bytes[u.range]))
    }
}
