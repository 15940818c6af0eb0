import Foundation
import NIOCore

/// The parts of an OpenAI request body the gateway needs, read without decoding the rest, plus the original bytes.
public struct OpenAIRequest: Sendable {
    public enum Endpoint: Sendable { case chatCompletions, embeddings }

    public let endpoint: Endpoint
    /// The original body, forwarded as is when nothing needs rewriting.
    public let body: ByteBuffer
    public let model: String
    public let stream: Bool
    /// The client asked for the usage chunk itself (`stream_options.include_usage: true`).
    public let clientWantsUsage: Bool
    /// What the request needs from a deployment (tools, images, JSON mode, …).
    public let needs: RequestNeeds
    /// The `user` field, when set (session affinity).
    public var user: String?
    /// OpenRouter's `provider` object, when the body has one (removed before the request goes upstream).
    public private(set) var providerPreferences: ProviderPreferences?
    private var providerMember: Range<Int>?
    private let modelRange: Range<Int>
    private let streamOptions: JSONPeek.Value?

    private static let chatKeys: [[UInt8]] = ["model", "messages", "stream", "stream_options", "tools", "response_format",
                                              "max_tokens", "max_completion_tokens", "user", "provider"].map { Array($0.utf8) }
    private static let imageURL = Array(#""image_url""#.utf8)
    private static let typeKey: [[UInt8]] = [Array("type".utf8)]
    private static let embeddingKeys: [[UInt8]] = ["model", "input"].map { Array($0.utf8) }

    /// Reads a chat completion request; throws the 400 the client should get for malformed or incomplete bodies (or
    /// the 400/413 for a body past `limits`).
    public static func chat(_ body: ByteBuffer, limits: RequestLimits = .none) throws(GatewayError) -> OpenAIRequest {
        try body.withUnsafeReadableBytes { (bytes) throws(GatewayError) -> OpenAIRequest in
            let fields = try peek(bytes, keys: chatKeys, limits: limits)
            let (model, modelRange) = try requireModel(bytes, fields[0])
            guard let messages = fields[1] else { throw .missingParameter("messages") }
            guard messages.kind == .array else {
                throw .invalidParameter("messages", "Invalid type for 'messages': expected an array, but got \(messages.kind.name).")
            }
            if JSONPeek.isEmptyArray(bytes, messages) {
                throw .invalidParameter("messages", "'messages' must contain at least one message.")
            }
            try limits.check(entries: messages, of: "messages")
            try limits.check(contentBytes: messages.range.count, of: "messages")
            var stream = false
            if let s = fields[2], s.kind != .null {
                guard s.kind == .bool else {
                    throw .invalidParameter("stream", "Invalid type for 'stream': expected a boolean, but got \(s.kind.name).")
                }
                stream = JSONPeek.isTrue(bytes, s)
            }
            var wantsUsage = false
            if let so = fields[3], so.kind != .null {
                guard so.kind == .object else {
                    throw .invalidParameter("stream_options", "Invalid type for 'stream_options': expected an object, but got \(so.kind.name).")
                }
                let inner = UnsafeRawBufferPointer(rebasing: bytes[so.range])
                if let f = try? JSONPeek.topLevel(inner, keys: [Array("include_usage".utf8)]), let iu = f[0] {
                    wantsUsage = JSONPeek.isTrue(inner, iu)
                }
            }
            var needs = RequestNeeds(streaming: stream)
            if let tools = fields[4], tools.kind == .array, !JSONPeek.isEmptyArray(bytes, tools) { needs.tools = true }
            if let format = fields[5], format.kind == .object {
                let inner = UnsafeRawBufferPointer(rebasing: bytes[format.range])
                if let f = try? JSONPeek.topLevel(inner, keys: typeKey), let t = f[0], let type = JSONPeek.string(inner, t) {
                    needs.jsonMode = type != "text"
                }
            }
            // An "image_url" anywhere in the messages is checked properly, by decoding them (rare, so cheap overall).
            if JSONPeek.contains(bytes, messages, imageURL),
               let decoded = JSONValue.parse(Data(UnsafeRawBufferPointer(rebasing: bytes[messages.range]))) {
                needs.vision = decoded.array?.contains { ($0["content"]?.array ?? []).contains { $0["type"]?.string == "image_url" } } ?? false
            }
            if let field = fields[7] ?? fields[6], field.kind != .null {
                let name = fields[7] != nil ? "max_completion_tokens" : "max_tokens"
                guard let n = JSONPeek.integer(bytes, field), (1...RequestNeeds.maxOutputTokensLimit).contains(n) else {
                    throw .invalidParameter(name, "\(name): must be an integer from 1 to \(RequestNeeds.maxOutputTokensLimit).")
                }
                needs.maxOutputTokens = n
            }
            needs.estimatedPromptTokens = messages.range.count / 4
            var request = OpenAIRequest(endpoint: .chatCompletions, body: body, model: model, stream: stream,
                                        clientWantsUsage: wantsUsage, needs: needs, modelRange: modelRange, streamOptions: fields[3])
            request.user = fields[8].flatMap { JSONPeek.string(bytes, $0) }
            if let p = fields[9], p.kind != .null {
                let decoded = JSONValue.parse(UnsafeRawBufferPointer(rebasing: bytes[p.range])) ?? .null
                request.providerPreferences = try ProviderPreferences(json: decoded)
                request.providerMember = JSONPeek.memberRange(bytes, p)
            }
            return request
        }
    }

    /// Reads an embeddings request; throws the 400 the client should get for malformed or incomplete bodies (or the
    /// 400/413 for a body past `limits`).
    public static func embeddings(_ body: ByteBuffer, limits: RequestLimits = .none) throws(GatewayError) -> OpenAIRequest {
        try body.withUnsafeReadableBytes { (bytes) throws(GatewayError) -> OpenAIRequest in
            let fields = try peek(bytes, keys: embeddingKeys, limits: limits)
            let (model, modelRange) = try requireModel(bytes, fields[0])
            guard let input = fields[1] else { throw .missingParameter("input") }
            switch input.kind {
            case .string, .array: break
            default: throw .invalidParameter("input", "Invalid type for 'input': expected a string or an array, but got \(input.kind.name).")
            }
            if JSONPeek.isEmptyArray(bytes, input) { throw .invalidParameter("input", "'input' must not be empty.") }
            // OpenAI's own limit: one request embeds at most 2,048 inputs (an answer for 200,000 would be gigabytes).
            if input.kind == .array, input.count > maxEmbeddingInputs {
                throw .invalidParameter("input", "'input' must have at most \(maxEmbeddingInputs) elements.")
            }
            try limits.check(entries: input, of: "input")
            try limits.check(contentBytes: input.range.count, of: "input")
            return OpenAIRequest(endpoint: .embeddings, body: body, model: model, stream: false, clientWantsUsage: false,
                                 needs: RequestNeeds(estimatedPromptTokens: input.range.count / 4), modelRange: modelRange, streamOptions: nil)
        }
    }

    /// A chat completion the gateway wrote itself (translated from another API), already in its upstream form:
    /// `model` is the upstream's and a stream asks for its usage, so it is serialised once and sent as it is.
    public static func translated(_ chat: JSONValue, upstreamModel: String, stream: Bool, needs: RequestNeeds) -> OpenAIRequest {
        var object = chat.object ?? [:]
        object["model"] = .string(upstreamModel)
        object["stream"] = .bool(stream)
        if stream { object["stream_options"] = ["include_usage": true] }
        return OpenAIRequest(endpoint: .chatCompletions, body: ByteBuffer(string: JSONValue.object(object).jsonText), model: upstreamModel,
                             stream: stream, clientWantsUsage: stream, needs: needs, modelRange: 0..<0, streamOptions: nil)
    }

    /// The most inputs one embeddings request may have (OpenAI's limit).
    public static let maxEmbeddingInputs = 2048

    static func peek(_ bytes: UnsafeRawBufferPointer, keys: [[UInt8]], limits: RequestLimits = .none) throws(GatewayError) -> [JSONPeek.Value?] {
        do {
            return try JSONPeek.topLevel(bytes, keys: keys, maxDepth: limits.depth)
        } catch {
            throw limits.error(error)
        }
    }

    static func requireModel(_ bytes: UnsafeRawBufferPointer, _ value: JSONPeek.Value?) throws(GatewayError) -> (String, Range<Int>) {
        guard let value else { throw .missingParameter("model") }
        guard let model = JSONPeek.string(bytes, value) else {
            throw .invalidParameter("model", "Invalid type for 'model': expected a string, but got \(value.kind.name).")
        }
        guard !model.isEmpty else { throw .invalidParameter("model", "'model' must not be empty.") }
        return (model, value.range)
    }

    /// The same request for another public model (a routing rule's choice): the body with only `model` replaced.
    public func renamed(_ name: String) throws(GatewayError) -> OpenAIRequest {
        try rebuilt(name == model ? body : JSONPeek.splice(body, [(modelRange, JSONString.quote(name))]))
    }

    /// The same request with another body of the same endpoint (a guardrail masked its texts).
    public func rebuilt(_ body: ByteBuffer) throws(GatewayError) -> OpenAIRequest {
        var request = endpoint == .chatCompletions ? try Self.chat(body) : try Self.embeddings(body)
        request.user = user
        return request
    }

    /// The body to send to an OpenAI-compatible upstream: `model` set to the upstream's name and, for streams,
    /// `stream_options.include_usage` switched on. The original buffer when neither changes anything.
    public func upstreamBody(model upstreamModel: String) -> ByteBuffer {
        var edits: [(range: Range<Int>, replacement: String)] = []
        if let member = providerMember { edits.append((member, "")) }
        if upstreamModel != model { edits.append((modelRange, JSONString.quote(upstreamModel))) }
        if stream && !clientWantsUsage {
            if let so = streamOptions, so.kind == .object {
                edits.append((so.range, rewrittenStreamOptions(so)))
            } else if let so = streamOptions {
                edits.append((so.range, #"{"include_usage":true}"#))
            } else {
                // Insert before the closing brace of the top-level object.
                let close = body.withUnsafeReadableBytes { bytes in
                    var i = bytes.count - 1
                    while i > 0, bytes[i] != UInt8(ascii: "}") { i -= 1 }
                    return i
                }
                edits.append((close..<close, #","stream_options":{"include_usage":true}"#))
            }
        }
        return JSONPeek.splice(body, edits)
    }

    /// `stream_options` with `include_usage: true` added, other members kept (a rare path: full decode of a small object).
    private func rewrittenStreamOptions(_ so: JSONPeek.Value) -> String {
        let data = Data(body.getBytes(at: body.readerIndex + so.range.lowerBound, length: so.range.count) ?? [])
        var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        object["include_usage"] = true
        let out = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(#"{"include_usage":true}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
