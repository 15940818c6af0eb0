import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A request the fake upstream received.
public struct ReceivedRequest: Sendable {
    public var method: String
    public var path: String
    /// The query string, without the `?` ("" when none).
    public var query: String
    public var headers: HTTPFields
    public var body: ByteBuffer
    public var text: String { String(buffer: body) }
}

/// A scripted upstream on a real port: each test supplies the handler, the fake records what it received.
public final class FakeUpstream: Sendable {
    public typealias Handler = @Sendable (ReceivedRequest) async throws -> Response

    private let received = Mutex<[ReceivedRequest]>([])
    public let port: Int

    init(port: Int) { self.port = port }

    /// Base URL to put in a provider's `base_url`.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    public var requests: [ReceivedRequest] { received.withLock { $0 } }

    func append(_ r: ReceivedRequest) { received.withLock { $0.append(r) } }

    /// Runs `body` with a fake upstream listening on a free port; stops it afterwards.
    public static func run<T: Sendable>(_ handler: @escaping Handler, _ body: (FakeUpstream) async throws -> T) async throws -> T {
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let holder = Mutex<FakeUpstream?>(nil)
        let router = Router()
        let route: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = try await request.body.collect(upTo: 64 << 20)
            let r = ReceivedRequest(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                                    headers: request.headers, body: body)
            holder.withLock { $0 }?.append(r)
            return try await handler(r)
        }
        router.post("/**", use: route)
        router.get("/**", use: route)
        let logger = {
            var l = Logger(label: "fake-upstream")
            l.logLevel = .critical
            return l
        }()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
                              onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let sg = ServiceGroup(configuration: .init(services: [app], logger: logger))
                try await sg.run()
            }
            var it = ports.makeAsyncIterator()
            guard let port = await it.next() else { throw CancellationError() }
            let fake = FakeUpstream(port: port)
            holder.withLock { $0 = fake }
            do {
                let result = try await body(fake)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

/// A one-shot signal between a test and a fake upstream: `open()` once, `wait()` from anywhere.
public final class Gate: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func open() {
        continuation.yield()
        continuation.finish()
    }

    public func wait() async {
        for await _ in stream { return }
    }
}

/// Canned OpenAI wire-format bodies.
public enum Wire {
    public static func chatCompletion(content: String = "Hello!", model: String = "up-model", prompt: Int = 10, completion: Int = 5, cached: Int = 0) -> String {
        #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"\#(model)","choices":[{"index":0,"message":{"role":"assistant","content":"\#(content)"},"finish_reason":"stop"}],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion),"prompt_tokens_details":{"cached_tokens":\#(cached)}}}"#
    }

    public static func chunk(_ content: String, finish: String? = nil) -> String {
        let f = finish.map { "\"\($0)\"" } ?? "null"
        return #"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[{"index":0,"delta":{"content":"\#(content)"},"finish_reason":\#(f)}]}"# + "\n\n"
    }

    public static func usageChunk(prompt: Int, completion: Int, cached: Int = 0) -> String {
        #"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion),"prompt_tokens_details":{"cached_tokens":\#(cached)}}}"# + "\n\n"
    }

    public static let done = "data: [DONE]\n\n"

    public static func error(_ message: String, type: String = "invalid_request_error", code: String = "bad") -> String {
        #"{"error":{"message":"\#(message)","type":"\#(type)","param":null,"code":"\#(code)"}}"#
    }
}

/// Response helpers for fake upstream handlers.
public func jsonReply(_ text: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// An SSE response whose body is written by `write` (call `send` for each event).
public func sseReply(_ write: @escaping @Sendable (_ send: @Sendable (String) async throws -> Void) async throws -> Void) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/event-stream"
    return Response(status: .ok, headers: headers, body: ResponseBody { writer in
        let (events, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let producer = Task {
            do {
                try await write { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        defer { producer.cancel() }
        for try await e in events { try await writer.write(ByteBuffer(string: e)) }
        try await writer.finish(nil)
    })
}
