/// The gateway's upstream transport: the lean NIO client (`NIOHTTPTransport`) for `http://` and `https://` upstreams
/// alike, so every deployment gets pooled keep-alive connections and its per-attempt limits.
public final class DefaultTransport: UpstreamTransport {
    public let lean: NIOHTTPTransport

    public init(connectTimeout: Duration, idleTimeout: Duration) {
        lean = NIOHTTPTransport(connectTimeout: connectTimeout, idleTimeout: idleTimeout)
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        try await lean.execute(request)
    }

    public func shutdown() async throws {
        await lean.shutdown()
    }
}
