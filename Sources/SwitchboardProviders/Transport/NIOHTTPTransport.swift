import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A lean HTTP/1.1 client for `http://` and `https://` upstreams, built directly on SwiftNIO: keep-alive connections
/// pooled per scheme, host and port (and, for TLS, trust roots), the whole exchange driven by one channel handler on
/// the connection's event loop.
///
/// Same contract as `HTTPClientTransport`: connect timeout, a deadline for the response head, an idle limit between
/// body chunks, the same error codes; besides, the request's `AttemptLimits` (connect, idle, total). Non-streamed
/// responses are collected on the event loop (bounded); streamed ones are delivered through a back-pressured
/// sequence, so a slow client slows the upstream read instead of buffering without bound. A stale pooled connection
/// that the upstream closed is retried once on a new one.
///
/// `https://` connections verify the server's certificate fully (chain and name; SNI is the URL's host unless it is
/// an IP address) against the system's trust roots, or the request's `caFile`; the connect timeout covers the TCP
/// connection and the TLS handshake, and a handshake that fails (an untrusted certificate, a wrong name) is
/// `connectFailed`.
public final class NIOHTTPTransport: UpstreamTransport {
    let group: any EventLoopGroup
    let connectTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxResponseBytes: Int
    private let idle: IdleConnections
    /// Targets already parsed, by URL and CA file: a provider sends every request to one of a few URLs, and parsing
    /// one costs several allocations. Bounded: emptied when it would pass `maxTargets`.
    private let targets = Mutex<[TargetKey: UpstreamTarget]>([:])
    static let maxTargets = 1024
    private let tlsContexts = TLSContexts()

    public init(connectTimeout: Duration, idleTimeout: Duration, maxResponseBytes: Int = 64 << 20, maxIdlePerHost: Int = 256,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        group = eventLoopGroup
        self.connectTimeout = TimeAmount(connectTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
        self.maxResponseBytes = maxResponseBytes
        idle = IdleConnections(maxPerHost: maxIdlePerHost)
    }

    public func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        guard let target = target(request.url, caFile: request.caFile) else { throw UpstreamError(.other) }
        // A head that may not be sent (a field value with a line break, say) is refused as NIO's validator refused it
        // in the pipeline before: the exchange failed with the connection closed. Now before any connection is used.
        guard let head = UpstreamWire.head(method: request.method, target: target.pathAndQuery, host: target.hostHeader, fields: request.headers,
                                           contentLength: request.body?.readableBytes ?? 0) else { throw UpstreamError(.connectionClosed) }
        let wire = UpstreamWrite(head: head, body: request.body, method: HTTPMethod(rawValue: request.method))
        for attempt in 0..<2 {
            let (connection, reused) = try await connection(to: target, connectTimeout: request.limits.connect.map(TimeAmount.init) ?? connectTimeout)
            do {
                return try await exchange(wire, stream: request.streamResponse,
                                          timeout: TimeAmount(request.timeout), limits: request.limits, on: connection)
            } catch let error as StaleConnection where (reused || error.neverSent) && attempt == 0 && !Task.isCancelled {
                _ = error   // the connection closed before it could serve: try once more on a new one
            } catch let error as StaleConnection {
                _ = error
                throw UpstreamError(.connectionClosed)
            } catch let error as UpstreamError {
                throw error
            } catch {
                throw HTTPClientTransport.classify(error)
            }
        }
        throw UpstreamError(.connectionClosed)
    }

    /// Closes the pooled idle connections.
    public func shutdown() async {
        let channels = idle.pools.withLock { pools in
            defer { pools = [:] }
            return pools.values.flatMap { $0.map(\.channel) }
        }
        // All at once: closing a TLS connection may wait a moment for the server's close_notify.
        for c in channels { c.close(promise: nil) }
        for c in channels { try? await c.closeFuture.get() }
    }

    private struct TargetKey: Hashable {
        var url: String
        var caFile: String?
    }

    private func target(_ url: String, caFile: String?) -> UpstreamTarget? {
        let key = TargetKey(url: url, caFile: caFile)
        if let known = targets.withLock({ $0[key] }) { return known }
        guard let target = UpstreamTarget(url, caFile: caFile) else { return nil }
        targets.withLock { known in
            if known.count >= Self.maxTargets { known.removeAll(keepingCapacity: true) }
            known[key] = target
        }
        return target
    }

    // MARK: Connections

    nonisolated(nonsending) private func connection(to target: UpstreamTarget, connectTimeout: TimeAmount) async throws(UpstreamError) -> (UpstreamConnection, reused: Bool) {
        let here = MultiThreadedEventLoopGroup.currentEventLoop
        while let connection = idle.pools.withLock({ Self.take(from: &$0[target.key], preferring: here) }) {
            if connection.channel.isActive { return (connection, true) }
        }
        let tls: NIOSSLContext?
        do { tls = target.tls ? try tlsContexts.context(caFile: target.caFile) : nil } catch { throw UpstreamError(.connectFailed) }
        let started = NIODeadline.now()
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        // Completed by the handshake handler (TLS only); failed here too when the connection is never made.
        let handshake = tls.map { _ in loop.makePromise(of: Void.self) }
        let key = target.key
        // The exchange handler, as the initializer adds it (on the loop), for the connection's owner.
        let added = NIOLockedValueBox<NIOLoopBound<UpstreamExchangeHandler>?>(nil)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [idleTimeout, maxResponseBytes, idle] channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    if let tls, let handshake {
                        try ops.addHandler(NIOSSLClientHandler(context: tls, serverHostname: target.serverName))
                        try ops.addHandler(TLSHandshakeHandler(handshake: handshake))
                    }
                    // HTTP/1.1 out (UpstreamWire.swift) and in (NIO's decoder).
                    try ops.addHandler(UpstreamWireEncoder())
                    try ops.addHandler(ByteToMessageHandler(UpstreamResponseDecoder()))
                    try ops.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    let handler = UpstreamExchangeHandler(maxResponseBytes: maxResponseBytes) { [weak idle] connection in
                        if let idle { idle.release(connection, key: key) } else { connection.channel.close(promise: nil) }
                    }
                    try ops.addHandler(handler)
                    added.withLockedValue { $0 = NIOLoopBound(handler, eventLoop: channel.eventLoop) }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: target.host, port: target.port).get()
        } catch {
            handshake?.fail(error)
            throw UpstreamError(.connectFailed)
        }
        guard let handler = added.withLockedValue({ $0 }) else {
            channel.close(promise: nil)
            throw UpstreamError(.connectFailed)
        }
        let connection = UpstreamConnection(channel: channel, handler: handler)
        guard let handshake else { return (connection, false) }
        // The connect timeout covers the handshake too.
        let deadline = channel.eventLoop.scheduleTask(deadline: started + connectTimeout) {
            handshake.fail(ChannelError.connectTimeout(connectTimeout))
        }
        do {
            try await handshake.futureResult.get()
            deadline.cancel()
            return (connection, false)
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw UpstreamError(.connectFailed)
        }
    }

    /// The most recently pooled connection, or one on `loop` (the caller's event loop) among the last few: an exchange
    /// on the caller's own loop needs no hop to another thread.
    private static func take(from pool: inout [UpstreamConnection]?, preferring loop: (any EventLoop)?) -> UpstreamConnection? {
        guard let last = pool?.indices.last else { return nil }
        let mine = loop.flatMap { loop in pool!.indices.reversed().prefix(16).first { pool![$0].channel.eventLoop === loop } }
        return pool!.remove(at: mine ?? last)
    }

    // MARK: One exchange

    nonisolated(nonsending) private func exchange(_ request: UpstreamWrite, stream: Bool, timeout: TimeAmount, limits: AttemptLimits,
                          on connection: UpstreamConnection) async throws -> UpstreamResponse {
        let channel = connection.channel
        let promise = channel.eventLoop.makePromise(of: ExchangeResult.self)
        let start = Exchange(request: request, stream: stream, headTimeout: timeout, idleTimeout: limits.idle.map(TimeAmount.init),
                             total: limits.total.map(TimeAmount.init), result: promise)
        // On the loop: a connection that has closed since it was taken (its idle limit passed, say) may have lost its
        // handlers already, and would drop the write unseen, so that the result never came. Nothing was sent.
        channel.eventLoop.execute {
            guard channel.isActive else { return promise.fail(StaleConnection(neverSent: true)) }
            connection.handler.value.start(start)
        }
        let result = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(result.head.headers.count)
        for h in result.head.headers { headers.append((h.name, h.value)) }
        switch result.body {
        case .collected(let buffer):
            return UpstreamResponse(status: Int(result.head.status.code), headers: headers, body: UpstreamBody(buffer))
        case .streaming(let sequence):
            return UpstreamResponse(status: Int(result.head.status.code), headers: headers, body: UpstreamBody(producer: sequence))
        }
    }
}

/// The idle keep-alive connections, by target. An object of its own: a connection's handler gives its connection
/// back through a weak reference to it, and a weakly referenced object gets a side table, which sends every retain
/// and release of it down the runtime's slow path: this one, rather than the transport every request goes through.
final class IdleConnections: Sendable {
    let pools = Mutex<[String: [UpstreamConnection]]>([:])
    let maxPerHost: Int

    init(maxPerHost: Int) { self.maxPerHost = maxPerHost }

    /// Puts a connection whose exchange ended cleanly back into the pool (or closes it when the pool is full).
    func release(_ connection: UpstreamConnection, key: String) {
        let kept = pools.withLock { pools -> Bool in
            guard pools[key, default: []].count < maxPerHost else { return false }
            pools[key, default: []].append(connection)
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }
}
