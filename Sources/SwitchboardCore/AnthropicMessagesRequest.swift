import Foundation
import NIOCore

/// The parts of an Anthropic Messages request (`POST /v1/messages`) the gateway needs, read without decoding the
/// rest, plus the original bytes (forwarded untouched to Anthropic deployments but for `model`).
public struct AnthropicMessagesRequest: Sendable {
    public let body: ByteBuffer
    public let model: String
    public let stream: Bool
    /// What the request needs from a deployment.
    public let needs: RequestNeeds
    /// `metadata.user_id`, when set (session affinity).
    public var user: String?
    private let modelRange: Range<Int>

    private static let keys: [[UInt8]] = ["model", "messages", "max_tokens", "stream", "tools", "system", "metadata"].map { Array($0.utf8) }
    private static let imageType = Array(#""image""#.utf8)

    /// Reads a Messages request; throws the 400 the client should get for malformed or incomplete bodies (or the
    /// 400/413 for a body past `limits`).
    public static func parse(_ body: ByteBuffer, limits: RequestLimits = .none) throws(GatewayError) -> AnthropicMessagesRequest {
        try body.withUnsafeReadableBytes { (bytes) throws(GatewayError) -> AnthropicMessagesRequest in
            let fields = try OpenAIRequest.peek(bytes, keys: keys, limits: limits)
            let (model, modelRange) = try OpenAIRequest.requireModel(bytes, fields[0])
            guard let messages = fields[1] else { throw .missingParameter("messages") }
            guard messages.kind == .array, !JSONPeek.isEmptyArray(bytes, messages) else {
                throw .invalidParameter("messages", "messages: must be a non-empty array.")
            }
            try limits.check(entries: messages, of: "messages")
            try limits.check(contentBytes: messages.range.count + (fields[5]?.range.count ?? 0), of: "messages")
            guard let maxTokens = fields[2] else { throw .missingParameter("max_tokens") }
            guard let n = JSONPeek.integer(bytes, maxTokens), (1...RequestNeeds.maxOutputTokensLimit).contains(n) else {
                throw .invalidParameter("max_tokens", "max_tokens: must be an integer from 1 to \(RequestNeeds.maxOutputTokensLimit).")
            }
            var stream = false
            if let s = fields[3], s.kind != .null {
                guard s.kind == .bool else { throw .invalidParameter("stream", "stream: must be a boolean.") }
                stream = JSONPeek.isTrue(bytes, s)
            }
            var needs = RequestNeeds(streaming: stream, maxOutputTokens: n,
                                     estimatedPromptTokens: (messages.range.count + (fields[5]?.range.count ?? 0)) / 4)
            if let tools = fields[4], tools.kind == .array, !JSONPeek.isEmptyArray(bytes, tools) { needs.tools = true }
            if JSONPeek.contains(bytes, messages, imageType),
               let decoded = JSONValue.parse(Data(UnsafeRawBufferPointer(rebasing: bytes[messages.range]))) {
                needs.vision = decoded.array?.contains { ($0["content"]?.array ?? []).contains { $0["type"]?.string == "image" } } ?? false
            }
            var request = AnthropicMessagesRequest(body: body, model: model, stream: stream, needs: needs, modelRange: modelRange)
            if let meta = fields[6], meta.kind == .object {
                let inner = UnsafeRawBufferPointer(rebasing: bytes[meta.range])
                if let f = try? JSONPeek.topLevel(inner, keys: [Array("user_id".utf8)]), let u = f[0] { request.user = JSONPeek.string(inner, u) }
            }
            return request
        }
    }

    /// The model of a `count_tokens` request (which, unlike a Messages request, needs no `max_tokens`), after
    /// checking the body is JSON with `model` and `messages` (within `limits`).
    public static func countTokensModel(_ body: ByteBuffer, limits: RequestLimits = .none) throws(GatewayError) -> String {
        try body.withUnsafeReadableBytes { (bytes) throws(GatewayError) -> String in
            let f = try OpenAIRequest.peek(bytes, keys: [Array("model".utf8), Array("messages".utf8), Array("system".utf8)], limits: limits)
            let (model, _) = try OpenAIRequest.requireModel(bytes, f[0])
            guard let messages = f[1] else { throw .missingParameter("messages") }
            guard messages.kind == .array else { throw .invalidParameter("messages", "messages: must be an array.") }
            try limits.check(entries: messages, of: "messages")
            try limits.check(contentBytes: messages.range.count + (f[2]?.range.count ?? 0), of: "messages")
            return model
        }
    }

    /// The same request for another public model (a routing rule's choice): the body with only `model` replaced.
    public func renamed(_ name: String) throws(GatewayError) -> AnthropicMessagesRequest {
        try Self.parse(upstreamBody(model: name))
    }

    /// The body for an Anthropic upstream: the client's bytes with only `model` replaced.
    public func upstreamBody(model upstreamModel: String) -> ByteBuffer {
        upstreamModel == model ? body : JSONPeek.splice(body, [(modelRange, JSONString.quote(upstreamModel))])
    }
}

extension Usage {
    private static let anthropicKeys: [[UInt8]] = ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"].map { Array($0.utf8) }

    /// Reads Anthropic's `usage` object. `input_tokens` counts uncached input only, so the normalised prompt count is
    /// input + cache reads + cache writes.
    public static func anthropicUsageObject(_ bytes: UnsafeRawBufferPointer) -> Usage? {
        guard let f = try? JSONPeek.topLevel(bytes, keys: anthropicKeys) else { return nil }
        func int(_ i: Int) -> Int { count(bytes, f[i]) }
        return Usage(promptTokens: sum(int(0), int(2), int(3)), completionTokens: int(1), cachedTokens: int(2), cacheWriteTokens: int(3))
    }

    /// Usage of a non-streamed Anthropic message (its top-level `usage`).
    public static func inAnthropicMessage(_ body: ByteBuffer) -> Usage? {
        (try? checkedAnswer(body, usage: anthropicUsageObject)) ?? nil
    }
}
