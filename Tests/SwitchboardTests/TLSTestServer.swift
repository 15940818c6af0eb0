import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import SwitchboardTesting

/// Certificates made once per test run with the `openssl` command, valid for ten years: a CA, a server certificate
/// it signed for localhost and 127.0.0.1, one for another name only, and a CA that signed neither.
struct TestPKI: Sendable {
    let dir: String
    var ca: String { dir + "/ca.pem" }
    var otherCA: String { dir + "/other-ca.pem" }
    /// Two certificates in one file: the other CA first, then the CA.
    var bundle: String { dir + "/bundle.pem" }
    var server: (cert: String, key: String) { (dir + "/server.pem", dir + "/server.key") }
    var wrongName: (cert: String, key: String) { (dir + "/wrong.pem", dir + "/wrong.key") }

    /// The certificates, made once, on a thread of their own. Made on one of Swift's few shared threads, with
    /// Foundation's `Process` (whose end is seen from a dispatch queue that Swift's tasks share), the six `openssl`
    /// runs took up to 20 s in the full suite, and held threads every other test needed meanwhile.
    static func shared() async throws -> TestPKI { try await made.value }

    private static let made = Task<TestPKI, any Error> {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try make() }) }.start()
        }
    }

    static func make() throws -> TestPKI {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name in ["ca", "other-ca"] {
            try openssl(["req", "-x509"] + ec + ["-days", "3650", "-subj", "/CN=Switchboard test \(name)", "-keyout", "\(dir)/\(name).key",
                         "-out", "\(dir)/\(name).pem"])
        }
        for (name, san) in [("server", "DNS:localhost,IP:127.0.0.1"), ("wrong", "DNS:wrong.example")] {
            let file = "\(dir)/\(name)"
            try "subjectAltName=\(san)\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n".write(toFile: "\(file).ext", atomically: true, encoding: .utf8)
            try openssl(["req"] + ec + ["-subj", "/CN=\(name)", "-keyout", "\(file).key", "-out", "\(file).csr"])
            try openssl(["x509", "-req", "-in", "\(file).csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key", "-CAcreateserial", "-days", "3650",
                         "-extfile", "\(file).ext", "-out", "\(file).pem"])
        }
        let bundle = try String(contentsOfFile: "\(dir)/other-ca.pem", encoding: .utf8) + String(contentsOfFile: "\(dir)/ca.pem", encoding: .utf8)
        try bundle.write(toFile: "\(dir)/bundle.pem", atomically: true, encoding: .utf8)
        return TestPKI(dir: dir)
    }

    /// Runs `openssl` (found on PATH) with its output discarded, and waits for it on this thread.
    private static func openssl(_ args: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0) }
        let argv: [UnsafeMutablePointer<CChar>?] = (["openssl"] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid = pid_t()
        var status: Int32 = 0
        guard posix_spawnp(&pid, "openssl", &actions, nil, argv, environ) == 0 else { throw PKIError(step: "spawn openssl") }
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        guard status == 0 else { throw PKIError(step: args.prefix(2).joined(separator: " ")) }
    }

    struct PKIError: Error { var step: String }
}

/// An in-process HTTPS/1.1 server on 127.0.0.1 for transport tests (or HTTP/1.1, `runPlain`). It counts the TCP
/// connections it accepts and answers by path:
/// - `/json`, `/v1/chat/completions`: a chat completion (keep-alive, with a length);
/// - `/close`: the same, then closes the connection without saying so in the head (a keep-alive connection the
///   server drops);
/// - `/eof`: an HTTP/1.0 answer without a length, its end marked by closing the TCP connection without a TLS
///   close_notify;
/// - `/stream`: five SSE events, 20 ms apart, chunked;
/// - `/slow`: the head after 2 s.
/// With `tls: false` it accepts connections and never answers (a server that hangs in the handshake).
final class TLSTestServer: Sendable {
    let channel: any Channel
    private let counter: Counter
    let requests: Counter
    var port: Int { channel.localAddress?.port ?? 0 }
    /// TCP connections accepted so far.
    var accepted: Int { counter.value }

    final class Counter: Sendable {
        private let n = Mutex(0)
        var value: Int { n.withLock { $0 } }
        func add() { n.withLock { $0 += 1 } }
    }

    private init(channel: any Channel, counter: Counter, requests: Counter) {
        self.channel = channel
        self.counter = counter
        self.requests = requests
    }

    static func start(cert: String, key: String, tls: Bool = true) async throws -> TLSTestServer {
        let chain = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        return try await start(tls: context, answers: tls)
    }

    private static func start(tls context: NIOSSLContext?, answers: Bool) async throws -> TLSTestServer {
        let counter = Counter()
        let requests = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.add()
                return channel.eventLoop.makeCompletedFuture {
                    guard answers else { return }
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(RawCloser())
                    if let context { try ops.addHandler(NIOSSLServerHandler(context: context)) }
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(Responder(requests: requests))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TLSTestServer(channel: channel, counter: counter, requests: requests)
    }

    func stop() async { try? await channel.close() }

    static func run<T>(cert: String, key: String, tls: Bool = true, _ body: (TLSTestServer) async throws -> T) async throws -> T {
        try await serve(try await start(cert: cert, key: key, tls: tls), body)
    }

    /// The same answers over plain HTTP/1.1: an upstream that, unlike Hummingbird's server, takes connections that
    /// close at once in its stride.
    static func runPlain<T>(_ body: (TLSTestServer) async throws -> T) async throws -> T {
        try await serve(try await start(tls: nil, answers: true), body)
    }

    private static func serve<T>(_ server: TLSTestServer, _ body: (TLSTestServer) async throws -> T) async throws -> T {
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

/// First in the pipeline, below TLS: a close issued from here skips the TLS handler, so no close_notify is sent.
private final class RawCloser: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
}

private final class Responder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var path = ""
    private let requests: TLSTestServer.Counter

    init(requests: TLSTestServer.Counter) { self.requests = requests }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): path = head.uri
        case .body: break
        case .end:
            requests.add()
            respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        let loop = context.eventLoop.assumeIsolated()
        switch path {
        case "/slow":
            loop.scheduleTask(in: .seconds(2)) { self.json(context: context) }
        case "/stream":
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "content-type", value: "text/event-stream")
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            for i in 0..<5 {
                loop.scheduleTask(in: .milliseconds(Int64(20 * (i + 1)))) {
                    let event = context.channel.allocator.buffer(string: "data: {\"n\":\(i)}\n\n")
                    context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(event))), promise: nil)
                    if i == 4 { context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil) }
                }
            }
        case "/eof":
            let head = HTTPResponseHead(version: .http1_0, status: .ok)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: Wire.chatCompletion())))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                (try? context.pipeline.syncOperations.context(handlerType: RawCloser.self))?.close(promise: nil)
            }
        case "/close":
            json(context: context).assumeIsolated().whenComplete { _ in
                (try? context.pipeline.syncOperations.context(handlerType: RawCloser.self))?.close(promise: nil)
            }
        default:
            json(context: context)
        }
    }

    @discardableResult
    private func json(context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let body = Wire.chatCompletion()
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "content-type", value: "application/json")
        head.headers.add(name: "content-length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        return context.writeAndFlush(wrapOutboundOut(.end(nil)))
    }
}
