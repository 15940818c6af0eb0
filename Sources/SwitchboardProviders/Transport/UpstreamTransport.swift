import Foundation
import AsyncHTTPClient
import NIOCore

/// One HTTP request to an upstream provider.
public struct UpstreamRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: ByteBuffer?
    /// Longest wait for the response head.
    public var timeout: Duration
    /// Per-deployment limits beyond the head timeout (the transport's defaults when nil).
    public var limits: AttemptLimits
    /// The caller will read the body as a stream (SSE); otherwise transports may collect it before answering.
    public var streamResponse: Bool
    /// For `https://`: a PEM file of the CA certificates the server's certificate must chain to, instead of the
    /// system's trust roots (the provider's `ca_file`).
    public var caFile: String?

    public init(method: String = "POST", url: String, headers: [(name: String, value: String)] = [],
                body: ByteBuffer? = nil, timeout: Duration, limits: AttemptLimits = .init(), streamResponse: Bool = false,
                caFile: String? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.limits = limits
        self.streamResponse = streamResponse
        self.caFile = caFile
    }

    /// The path part of `url` (after scheme and authority), for transports that dispatch on it.
    public var path: String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        let path = rest[slash...]
        return String(path.split(separator: "?", maxSplits: 1).first ?? path)
    }
}

/// Time limits of one attempt besides the head timeout. The gateway's transport (`NIOHTTPTransport`) honours all
/// three for `http://` and `https://` upstreams alike (`connect` includes the TLS handshake); the gateway itself also
/// checks `total` whenever a chunk arrives. (`HTTPClientTransport`, kept for comparison in tests, uses its
/// client-wide connect and read timeouts instead.)
public struct AttemptLimits: Sendable, Equatable {
    /// Opening the connection.
    public var connect: Duration?
    /// The longest gap between two body chunks.
    public var idle: Duration?
    /// The whole exchange, body included: past it the body ends with a timeout error.
    public var total: Duration?
    public init(connect: Duration? = nil, idle: Duration? = nil, total: Duration? = nil) {
        self.connect = connect
        self.idle = idle
        self.total = total
    }
}

/// An upstream's answer: status and head at once, the body as it arrives.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: UpstreamBody

    public init(status: Int, headers: [(name: String, value: String)], body: UpstreamBody) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) }?.value
    }
}

extension String {
    func caseInsensitiveCompare(_ other: String) -> Bool {
        utf8.count == other.utf8.count && lowercased() == other.lowercased()
    }
}

/// An upstream response body: the chunks as they arrive from the transport.
public struct UpstreamBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    enum Source: Sendable {
        case httpClient(HTTPClientResponse.Body)
        case producer(BodyProducer)
        case generator(@Sendable () -> any AsyncIteratorProtocol<ByteBuffer, any Error>)
        case buffer(ByteBuffer)
    }

    let source: Source

    public init(_ body: HTTPClientResponse.Body) { source = .httpClient(body) }
    public init(_ buffer: ByteBuffer) { source = .buffer(buffer) }
    init(producer: BodyProducer) { source = .producer(producer) }
    /// A body produced by an iterator made on demand (simulated upstreams, tests).
    public init(iterator: @escaping @Sendable () -> any AsyncIteratorProtocol<ByteBuffer, any Error>) {
        source = .generator(iterator)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        enum State {
            case httpClient(HTTPClientResponse.Body.AsyncIterator)
            case producer(BodyProducer.AsyncIterator)
            case generator(any AsyncIteratorProtocol<ByteBuffer, any Error>)
            case buffer(ByteBuffer?)
        }
        var state: State

        public mutating func next() async throws -> ByteBuffer? {
            switch state {
            case .httpClient(var it):
                let chunk = try await it.next()
                state = .httpClient(it)
                return chunk
            case .producer(let it):
                return try await it.next()
            case .generator(var it):
                let chunk = try await it.next()
                state = .generator(it)
                return chunk
            case .buffer(let b):
                state = .buffer(nil)
                return b
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .httpClient(let body): AsyncIterator(state: .httpClient(body.makeAsyncIterator()))
        case .producer(let sequence): AsyncIterator(state: .producer(sequence.makeAsyncIterator()))
        case .generator(let make): AsyncIterator(state: .generator(make()))
        case .buffer(let b): AsyncIterator(state: .buffer(b.readableBytes > 0 ? b : nil))
        }
    }

    /// Reads the whole body, failing past `limit` bytes. A body that came whole (the lean transport collects one that
    /// is not streamed) is that buffer, neither iterated nor copied.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        if case .buffer(let whole) = source {
            guard whole.readableBytes <= limit else { throw UpstreamError(.responseTooLarge) }
            return whole
        }
        var out = ByteBuffer()
        for try await var chunk in self {
            guard out.readableBytes + chunk.readableBytes <= limit else { throw UpstreamError(.responseTooLarge) }
            out.writeBuffer(&chunk)
        }
        return out
    }
}

/// Why a transport could not deliver a response. The code is short and stable (safe as a metric label).
public struct UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The connection could not be opened (refused, DNS, TLS handshake).
        case connectFailed = "connect_failed"
        /// No response head (or, mid-body, no chunk) within the timeout.
        case timeout
        /// The connection broke: reset or closed early.
        case connectionClosed = "connection_closed"
        /// The upstream's response body exceeded what the gateway accepts.
        case responseTooLarge = "response_too_large"
        /// Anything else the transport reported.
        case other
    }

    public var code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { code.rawValue }
}

/// Sends requests to upstreams. Providers use it and nothing else, so they test without sockets.
public protocol UpstreamTransport: Sendable {
    func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse
}

/// Sends every request with a provider's CA bundle (`ca_file`) for its `https://` upstream.
public struct CABundleTransport: UpstreamTransport {
    public let base: any UpstreamTransport
    public let caFile: String

    public init(base: any UpstreamTransport, caFile: String) {
        self.base = base
        self.caFile = caFile
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        var r = request
        r.caFile = caFile
        return try await base.execute(r)
    }
}
