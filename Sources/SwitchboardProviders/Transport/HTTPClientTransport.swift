import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix

/// A transport on one shared AsyncHTTPClient with keep-alive pools per upstream. The gateway uses `DefaultTransport`
/// (the lean NIO client) instead; this one stays for tests that run the gateway against both. It applies its
/// client-wide timeouts, not a request's `AttemptLimits`, and trusts the system's roots (a request's `caFile` is not
/// used). `classify` maps any transport's errors, AsyncHTTPClient's and NIO's, to `UpstreamError`.
public final class HTTPClientTransport: UpstreamTransport {
    public let client: HTTPClient

    /// A client tuned for proxying: no connect retry (fast failover), no redirects, no decompression,
    /// `idleTimeout` as the read timeout (which also bounds the gap between stream chunks).
    public init(connectTimeout: Duration, idleTimeout: Duration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        var cfg = HTTPClient.Configuration()
        cfg.timeout = .init(connect: .init(connectTimeout), read: .init(idleTimeout))
        cfg.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        cfg.connectionPool.retryConnectionEstablishment = false
        cfg.redirectConfiguration = .disallow
        cfg.decompression = .disabled
        cfg.httpVersion = .automatic
        cfg.tracing.tracer = nil      // no per-request span bookkeeping unless tracing is configured
        client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: cfg)
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        var r = HTTPClientRequest(url: request.url)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if let body = request.body { r.body = .bytes(body) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(r, timeout: .init(request.timeout))
        } catch {
            throw Self.classify(error)
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(response.headers.count)
        for h in response.headers { headers.append((h.name, h.value)) }
        return UpstreamResponse(status: Int(response.status.code), headers: headers, body: UpstreamBody(response.body))
    }

    public func shutdown() async throws { try await client.shutdown() }

    /// Maps AsyncHTTPClient and NIO errors to the transport's error codes.
    public static func classify(_ error: any Error) -> UpstreamError {
        if let e = error as? UpstreamError { return e }
        if let e = error as? HTTPClientError {
            switch e {
            case .readTimeout, .deadlineExceeded, .writeTimeout: return UpstreamError(.timeout)
            case .connectTimeout: return UpstreamError(.connectFailed)
            case .remoteConnectionClosed, .cancelled: return UpstreamError(.connectionClosed)
            default: return UpstreamError(.other)
            }
        }
        if error is IOError || error is NIOConnectionError || error is ChannelError { return UpstreamError(.connectFailed) }
        return UpstreamError(.other)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (s, atto) = duration.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
