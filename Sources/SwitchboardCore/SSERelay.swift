import NIOCore

/// Watches a server-sent-event stream as it is relayed: finds usage, the end marker and error events, and (OpenAI
/// streams) optionally removes the usage-only chunk the gateway asked for on the client's behalf.
///
/// OpenAI streams: usage in the final `choices: []` chunk, end = `data: [DONE]`. Anthropic streams: usage in
/// `message_start` and `message_delta`, end = `message_stop`. Responses API streams: usage and the end in
/// `response.completed` (or `response.incomplete`), errors as `response.failed` or `error`. Only OpenAI chat streams
/// ever have anything removed.
///
/// Events may be split anywhere across chunks. In `.passthrough` mode every chunk is returned unchanged at once;
/// in `.stripUsageChunk` mode complete events are returned as soon as they are complete and a partial event waits
/// only for the rest of itself.
public struct SSERelay: Sendable {
    public enum Mode: Sendable { case passthrough, stripUsageChunk }
    public enum Format: Sendable { case openAI, anthropic, responses }

    public let mode: Mode
    public let format: Format
    /// Usage from the stream's usage chunk, once seen.
    public private(set) var usage: Usage?
    /// True once `data: [DONE]` was seen.
    public private(set) var sawDone = false
    /// True once an event carrying a top-level `error` object was seen.
    public private(set) var sawError = false
    /// True once an event grew past `maxEventBytes` without ending: the stream is broken (or hostile) and must stop.
    public private(set) var overflowed = false
    /// The longest event the relay holds while it waits for its end; chat deltas are a few hundred bytes.
    public static let maxEventBytes = 4 << 20
    /// True when the bytes relayed so far end inside an event (an error event must then start on a fresh line).
    public var endsInsideEvent: Bool { pending.readableBytes > 0 || overflowed }
    /// Bytes of an event that has not ended yet.
    private var pending = ByteBuffer()
    /// How far into `pending` the terminator search already looked.
    private var searched = 0

    public init(mode: Mode, format: Format = .openAI) {
        self.mode = format == .openAI ? mode : .passthrough
        self.format = format
    }

    /// Feeds one chunk from upstream; returns the bytes to send to the client now (nil: nothing yet).
    public mutating func feed(_ chunk: ByteBuffer) -> ByteBuffer? {
        guard !overflowed else { return nil }     // a broken stream: nothing more is read from it
        let buffer: ByteBuffer
        let fresh = pending.readableBytes == 0
        if fresh {
            buffer = chunk
        } else {
            var copy = chunk
            pending.writeBuffer(&copy)
            buffer = pending
        }
        let (events, consumed) = completeEvents(in: buffer, from: fresh ? 0 : max(0, searched - 3))
        if consumed < buffer.readableBytes {
            pending = buffer.getSlice(at: buffer.readerIndex + consumed, length: buffer.readableBytes - consumed)!
            searched = pending.readableBytes
            if pending.readableBytes > Self.maxEventBytes {
                // Never buffer an endless line: drop it and report the stream as broken.
                overflowed = true
                pending = ByteBuffer()
                searched = 0
                return nil
            }
        } else {
            pending = ByteBuffer()
            searched = 0
        }
        if mode == .passthrough { return chunk }
        // Strip mode: forward the complete events except a usage-only chunk.
        if fresh && consumed == chunk.readableBytes && events.allSatisfy({ $0.keep }) {
            return chunk     // the usual case: whole events, none removed: forward the original buffer
        }
        var out = ByteBuffer()
        for (event, keep) in events where keep {
            var e = event
            out.writeBuffer(&e)
        }
        return out.readableBytes > 0 ? out : nil
    }

    /// The end of the stream: returns whatever partial event is left (in strip mode; passthrough sent it already).
    public mutating func finish() -> ByteBuffer? {
        guard pending.readableBytes > 0 else { return nil }
        let rest = pending
        pending = ByteBuffer()
        searched = 0
        let keep = rest.withUnsafeReadableBytes { inspect(event: $0) }
        if mode == .passthrough { return nil }
        return keep ? rest : nil
    }

    /// The complete events in `buffer` (each with whether to keep it) and the number of bytes they span.
    private mutating func completeEvents(in buffer: ByteBuffer, from start: Int) -> (events: [(event: ByteBuffer, keep: Bool)], consumed: Int) {
        let ends = buffer.withUnsafeReadableBytes { SSEFraming.eventEnds(in: $0, from: start) }
        var consumed = 0
        var events: [(event: ByteBuffer, keep: Bool)] = []
        events.reserveCapacity(ends.count)
        for end in ends {
            let event = buffer.getSlice(at: buffer.readerIndex + consumed, length: end - consumed)!
            let keep = event.withUnsafeReadableBytes { inspect(event: $0) }
            events.append((event, keep))
            consumed = end
        }
        return (events, consumed)
    }

    private static let usageKeys: [[UInt8]] = [Array("usage".utf8), Array("choices".utf8), Array("error".utf8)]

    /// Looks at one event: records usage, `[DONE]` and errors. Returns false for a usage-only chunk in strip mode.
    private mutating func inspect(event: UnsafeRawBufferPointer) -> Bool {
        let payload = SSEFraming.fields(of: event).data
        guard let payload, !payload.isEmpty else { return true }
        let data = UnsafeRawBufferPointer(rebasing: event[payload])
        switch format {
        case .anthropic:
            inspectAnthropic(data)
            return true
        case .responses:
            inspectResponses(data)
            return true
        case .openAI:
            break
        }
        if data.count == 6, data.elementsEqual("[DONE]".utf8) {
            sawDone = true
            return true
        }
        // Cheap pre-check: only events mentioning "usage" or "error" are scanned.
        guard contains(data, "\"usage\"") || contains(data, "\"error\"") else { return true }
        guard let fields = try? JSONPeek.topLevel(data, keys: Self.usageKeys) else { return true }
        if let err = fields[2], err.kind == .object { sawError = true }
        guard let u = fields[0], u.kind == .object else { return true }
        if let found = Usage.openAIUsageObject(UnsafeRawBufferPointer(rebasing: data[u.range])) { usage = found }
        if mode == .stripUsageChunk, let choices = fields[1], JSONPeek.isEmptyArray(data, choices) {
            return false
        }
        return true
    }

    private static let anthropicKeys: [[UInt8]] = ["type", "message", "usage", "error"].map { Array($0.utf8) }
    private static let messageUsageKey: [[UInt8]] = [Array("usage".utf8)]

    private mutating func inspectAnthropic(_ data: UnsafeRawBufferPointer) {
        // Only the events that carry usage, the end or an error are scanned.
        guard contains(data, "message_") || contains(data, "\"error\"") else { return }
        guard let f = try? JSONPeek.topLevel(data, keys: Self.anthropicKeys), let t = f[0], let type = JSONPeek.string(data, t) else { return }
        switch type {
        case "message_start":
            guard let m = f[1], m.kind == .object else { return }
            let message = UnsafeRawBufferPointer(rebasing: data[m.range])
            if let mf = try? JSONPeek.topLevel(message, keys: Self.messageUsageKey), let u = mf[0], u.kind == .object {
                usage = Usage.anthropicUsageObject(UnsafeRawBufferPointer(rebasing: message[u.range]))
            }
        case "message_delta":
            guard let u = f[2], u.kind == .object, let delta = Usage.anthropicUsageObject(UnsafeRawBufferPointer(rebasing: data[u.range])) else { return }
            var total = usage ?? Usage()
            // Output is cumulative; input counts, when repeated here, replace the earlier ones. Invalid counts
            // (negative) are kept, so the stream's usage is seen as broken.
            if delta.completionTokens != 0 { total.completionTokens = delta.completionTokens }
            if delta.promptTokens != 0 {
                total.promptTokens = delta.promptTokens
                total.cachedTokens = delta.cachedTokens
                total.cacheWriteTokens = delta.cacheWriteTokens
            }
            usage = total
        case "message_stop":
            sawDone = true
        case "error":
            sawError = true
        default:
            break
        }
    }

    private static let responsesKeys: [[UInt8]] = ["type", "response"].map { Array($0.utf8) }

    private mutating func inspectResponses(_ data: UnsafeRawBufferPointer) {
        // Only the events that end the response (or report an error) are scanned; deltas pass untouched.
        guard contains(data, "\"response.completed\"") || contains(data, "\"response.incomplete\"") || contains(data, "\"response.failed\"")
            || contains(data, "\"error\"") else { return }
        guard let f = try? JSONPeek.topLevel(data, keys: Self.responsesKeys), let t = f[0], let type = JSONPeek.string(data, t) else { return }
        switch type {
        case "response.completed", "response.incomplete":
            sawDone = true
            if let r = f[1], r.kind == .object, let found = Usage.inResponsesObject(UnsafeRawBufferPointer(rebasing: data[r.range])) { usage = found }
        case "response.failed", "error":
            sawError = true
        default:
            break
        }
    }

    private func contains(_ data: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
        let m = needle.utf8CodeUnitCount
        guard data.count >= m else { return false }
        let p = needle.utf8Start
        var i = 0
        while i <= data.count - m {
            if data[i] == p[0] {
                var k = 1
                while k < m, data[i + k] == p[k] { k += 1 }
                if k == m { return true }
            }
            i += 1
        }
        return false
    }
}
