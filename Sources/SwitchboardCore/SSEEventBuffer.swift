import Foundation
import NIOCore

/// Collects stream bytes and hands out the `data:` payloads of the events completed so far — what every stream
/// translator needs, whatever format it translates.
public struct SSEEventBuffer: Sendable {
    private var pending = ByteBuffer()

    public init() {}

    /// True once an event grew past `SSERelay.maxEventBytes` without ending; it was dropped.
    public private(set) var overflowed = false

    /// Adds `chunk`; returns the data payloads of the events it completed (events without data are skipped).
    public mutating func add(_ chunk: ByteBuffer) -> [Data] {
        guard !overflowed else { return [] }      // a broken stream: nothing more is read from it
        var chunk = chunk
        pending.writeBuffer(&chunk)
        let ends = pending.withUnsafeReadableBytes { SSEFraming.eventEnds(in: $0) }
        guard let last = ends.last else {
            if pending.readableBytes > SSERelay.maxEventBytes {
                // Never hold an endless line: drop it (the stream then ends without its end marker).
                overflowed = true
                pending = ByteBuffer()
            }
            return []
        }
        var out: [Data] = []
        var start = 0
        for end in ends {
            if let data = Self.payload(pending.getSlice(at: pending.readerIndex + start, length: end - start)!) { out.append(data) }
            start = end
        }
        pending.moveReaderIndex(forwardBy: last)
        pending.discardReadBytes()
        return out
    }

    /// The end of the stream: the payload of a last event that never got its blank line, if any.
    public mutating func finish() -> Data? {
        defer { pending = ByteBuffer() }
        return pending.readableBytes > 0 ? Self.payload(pending) : nil
    }

    private static func payload(_ event: ByteBuffer) -> Data? {
        event.withUnsafeReadableBytes { bytes -> Data? in
            guard let range = SSEFraming.fields(of: bytes).data, !range.isEmpty else { return nil }
            return Data(UnsafeRawBufferPointer(rebasing: bytes[range]))
        }
    }
}
