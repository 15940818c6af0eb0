import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// The parts of an `http://` or `https://` URL a connection needs.
struct UpstreamTarget: Sendable {
    var tls: Bool
    var host: String
    var port: Int
    var pathAndQuery: String
    var hostHeader: String
    /// The PEM CA bundle the server's certificate must chain to (`https://` only; nil: the system's trust roots).
    var caFile: String?
    /// The pool a connection to this target belongs to: scheme, authority and trust roots, so plain and TLS
    /// connections, or TLS connections verified against different CAs, are never shared.
    var key: String

    init?(_ url: String, caFile: String? = nil) {
        let rest: Substring
        if url.hasPrefix("http://") {
            tls = false
            rest = url.dropFirst("http://".count)
        } else if url.hasPrefix("https://") {
            tls = true
            rest = url.dropFirst("https://".count)
        } else {
            return nil
        }
        let defaultPort = tls ? 443 : 80
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        pathAndQuery = slash == rest.endIndex ? "/" : String(rest[slash...])
        hostHeader = String(authority)
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : defaultPort
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.caFile = tls ? caFile : nil
        let bracketed = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host   // (not Foundation's substring search: per request)
        key = "\(tls ? "https" : "http")://\(bracketed):\(port)" + (self.caFile.map { " ca=\($0)" } ?? "")
    }

    /// The name sent as SNI and checked against the certificate; nil for an IP literal, which is checked against
    /// the certificate's IP addresses instead (SNI cannot carry one).
    var serverName: String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }
}

/// Client TLS contexts, one per set of trust roots, built on first use and shared by every connection (building one
/// reads and parses certificates; a connection only references it). A CA file that changes on disk (a rotated CA)
/// is read again for the next new connection.
final class TLSContexts: Sendable {
    private let contexts = Mutex<[String: (version: String, context: NIOSSLContext)]>([:])

    /// The context for servers whose certificates chain to `caFile`'s certificates (nil: the system's trust roots).
    /// Certificates are fully verified, the name included; TLS 1.2 or later; HTTP/1.1 offered through ALPN.
    func context(caFile: String?) throws -> NIOSSLContext {
        let key = caFile ?? ""
        let version = caFile.map(Self.version) ?? ""
        if let cached = contexts.withLock({ $0[key] }), cached.version == version { return cached.context }
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateVerification = .fullVerification
        config.minimumTLSVersion = .tlsv12
        config.applicationProtocols = ["http/1.1"]
        // Closing a pooled connection waits this long at most for the server's close_notify.
        config.shutdownTimeout = .seconds(1)
        if let caFile {
            let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            guard !certificates.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
            config.trustRoots = .certificates(certificates)
        }
        let context = try NIOSSLContext(configuration: config)
        contexts.withLock { $0[key] = (version, context) }
        return context
    }

    /// What tells one content of a file from another without reading it: its inode, size and modification time.
    static func version(of file: String) -> String {
        guard let a = try? FileManager.default.attributesOfItem(atPath: file) else { return "" }
        let modified = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(a[.systemFileNumber] ?? 0) \(a[.size] ?? 0) \(modified)"
    }
}

/// Sits behind the TLS handler of a new connection: completes `handshake` when the handshake is done (or fails it
/// with why it could not be), and keeps a server's unclean shutdown (no close_notify) from counting as an error by
/// itself: the connection's end that follows decides, as for a plain connection, whether a response was cut short.
final class TLSHandshakeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let handshake: EventLoopPromise<Void>

    init(handshake: EventLoopPromise<Void>) { self.handshake = handshake }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { handshake.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError { return }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
