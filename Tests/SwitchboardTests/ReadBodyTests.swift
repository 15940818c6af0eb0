import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
@testable import SwitchboardServer
import Testing

/// `readBody`: a body that came whole is returned as it is; one that streams in is joined; past the limit, 413
/// (`body_too_large`) whether the length was said or not; a stream that fails is `body_read_failed`.
@Suite struct ReadBodyTests {
    private struct Broken: Error {}

    private func request(_ body: RequestBody, length: Int? = nil) -> Request {
        var head = HTTPRequest(method: .post, scheme: "http", authority: "x", path: "/v1/chat/completions")
        if let length { head.headerFields[.contentLength] = String(length) }
        return Request(head: head, body: body)
    }

    private func streamed(_ parts: [String], failing: Bool = false) -> RequestBody {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        for part in parts { continuation.yield(ByteBuffer(string: part)) }
        if failing { continuation.finish(throwing: Broken()) } else { continuation.finish() }
        return RequestBody(asyncSequence: stream)
    }

    /// The error `readBody` gives for `body`, if any.
    private func code(_ body: RequestBody, length: Int? = nil, limit: Int) async -> GatewayError.Code? {
        do {
            _ = try await readBody(request(body, length: length), limit: limit)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func wholeAndStreamedBodiesAreRead() async throws {
        let whole = try await readBody(request(RequestBody(buffer: ByteBuffer(string: #"{"a":1}"#))), limit: 7)
        #expect(String(buffer: whole) == #"{"a":1}"#)
        let joined = try await readBody(request(streamed(["{\"a\"", ":", "1}"])), limit: 7)
        #expect(String(buffer: joined) == #"{"a":1}"#)
        #expect(try await readBody(request(streamed([])), limit: 7).readableBytes == 0)
        #expect(try await readBody(request(RequestBody(buffer: ByteBuffer())), limit: 7).readableBytes == 0)
    }

    @Test func pastTheLimitIs413AndAFailedStreamIsABadRead() async {
        let tooLarge = GatewayError.bodyTooLarge(limit: 6).code
        #expect(await code(RequestBody(buffer: ByteBuffer(string: "1234567")), limit: 6) == tooLarge)
        #expect(await code(streamed(["1234", "567"]), limit: 6) == tooLarge)
        #expect(await code(streamed(["1"]), length: 7, limit: 6) == tooLarge)
        #expect(await code(streamed(["12"], failing: true), limit: 6) == GatewayError.Code.bodyReadFailed)
        #expect(await code(streamed(["123456"]), limit: 6) == nil)
    }
}
