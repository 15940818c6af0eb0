/// The gateway's upstream transport: the lean NIO client for plain `http://` upstreams (local model servers,
/// sidecars), AsyncHTTPClient for `https://` (TLS).
public final class DefaultTransport: UpstreamTransport {
    public let plain: NIOHTTPTransport
    public let tls: HTTPClientTransport

    public init(connectTimeout: Duration, idleTimeout: Duration) {
        plain = NIOHTTPTransport(connectTimeout: connectTimeout, idleTimeout: idleTimeout)
        tls = HTTPClientTransport(connectTimeout: connectTimeout, idleTimeout: idleTimeout)
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        request.url.hasPrefix("http://") ? try await plain.execute(request) : try await tls.execute(request)
    }

    public func shutdown() async throws {
        await plain.shutdown()
        try await tls.shutdown()
    }
}
