#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import HummingbirdCore
import NIOCore
import SwitchboardCore
import Synchronization

/// The rest of a request's body, from the connection's event loop to the request's task (`RequestDispatcher`).
///
/// The loop `yield`s parts; the task iterates. Whatever waits is bounded: `yield` says when more than `highWater`
/// bytes wait, and the dispatcher then stops reading from the socket until the task has taken enough of them that
/// fewer than half of that wait (`drained` is called then, from the task).
final class RequestBodyStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    static let highWater = 256 << 10

    private struct State {
        var parts: [ByteBuffer] = []
        var next = 0
        var bytes = 0
        var finished = false
        var error: (any Error)?
        var waiter: CheckedContinuation<ByteBuffer?, any Error>?
        /// `yield` reported too many bytes waiting; `drained` is owed.
        var full = false
    }

    private let state = Mutex(State())
    private let drained: @Sendable () -> Void

    init(drained: @escaping @Sendable () -> Void) { self.drained = drained }

    /// Hands a part on; false when more than `highWater` bytes now wait (stop reading until `drained`).
    func yield(_ part: ByteBuffer) -> Bool {
        let (waiter, room): (CheckedContinuation<ByteBuffer?, any Error>?, Bool) = state.withLock { s in
            guard !s.finished else { return (nil, true) }
            if let w = s.waiter {
                s.waiter = nil
                return (w, true)
            }
            s.parts.append(part)
            s.bytes += part.readableBytes
            if s.bytes > Self.highWater { s.full = true }
            return (nil, !s.full)
        }
        waiter?.resume(returning: part)
        return room
    }

    /// No more parts: the body ended (`error` nil), or it never will (the client went away, a malformed request).
    func finish(throwing error: (any Error)? = nil) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { s in
            guard !s.finished else { return nil }
            s.finished = true
            s.error = error
            if error != nil { (s.parts, s.next, s.bytes) = ([], 0, 0) }
            defer { s.waiter = nil }
            return s.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    private enum Taken {
        case part(ByteBuffer, drained: Bool)
        case end((any Error)?)
    }

    /// The next part if one waits (and whether that freed enough room to read again), the end, or nil: wait.
    private func take(_ s: inout State) -> Taken? {
        if s.next < s.parts.count {
            let part = s.parts[s.next]
            s.next += 1
            s.bytes -= part.readableBytes
            if s.next == s.parts.count { (s.parts, s.next) = ([], 0) }
            let drained = s.full && s.bytes < Self.highWater / 2
            if drained { s.full = false }
            return .part(part, drained: drained)
        }
        return s.finished ? .end(s.error) : nil
    }

    fileprivate func next() async throws -> ByteBuffer? {
        if let taken = state.withLock({ take(&$0) }) { return try settle(taken) }
        return try await withCheckedThrowingContinuation { c in
            // A part may have come since: take it, or wait for `yield` or `finish` to hand over the next.
            let ready = state.withLock { s in
                let t = take(&s)
                if t == nil { s.waiter = c }
                return t
            }
            if let ready { c.resume(with: Result { try settle(ready) }) }
        }
    }

    /// What `next` returns for what it took: a part (asking for more reading when that made room), or the end.
    private func settle(_ taken: Taken) throws -> ByteBuffer? {
        switch taken {
        case .part(let part, let drained):
            if drained { self.drained() }
            return part
        case .end(let error):
            if let error { throw error }
            return nil
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let stream: RequestBodyStream
        mutating func next() async throws -> ByteBuffer? { try await stream.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}

/// The `date` header's value (RFC 9110's IMF-fixdate), made once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, value: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        return cache.withLock { c in
            if c.second != second { c = (second, format(second)) }
            return c.value
        }
    }

    static func format(_ seconds: Int) -> String {
        var t = seconds
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }
}

/// Reads the request body up to `limit` bytes; 413 beyond it, without reading further. A body that came whole with
/// its head (almost every API call) is that buffer: its iterator hands it over without a suspension, and it is not
/// copied into another (as a generic `collect` copies even one part).
@inline(never)
func readBody(_ request: Request, limit: Int) async throws(GatewayError) -> ByteBuffer {
    if let length = request.headers.value(.contentLength).flatMap({ Int($0) }), length > limit {
        throw .bodyTooLarge(limit: limit)
    }
    var parts = request.body.makeAsyncIterator()
    do {
        guard var body = try await parts.next() else { return ByteBuffer() }
        while true {
            guard body.readableBytes <= limit else { throw GatewayError.bodyTooLarge(limit: limit) }
            guard var part = try await parts.next() else { return body }
            body.writeBuffer(&part)
        }
    } catch let error as GatewayError {
        throw error
    } catch {
        throw GatewayError(.bodyReadFailed, "The request body could not be read.")
    }
}
