import AsyncHTTPClient
import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardProviders
@testable import SwitchboardServer
import SwitchboardStore
import SwitchboardTesting
import Synchronization

/// Runs the gateway for a test: `.router` in process, or `.live` on a free port with a real upstream client.
/// The upstream clients a test can run the gateway with.
enum TransportKind: String, CaseIterable, Sendable {
    /// What the gateway uses: the lean NIO client (for http:// and https://).
    case lean
    /// AsyncHTTPClient for everything.
    case asyncHTTPClient

    func make(_ config: GatewayConfig) -> (any UpstreamTransport, @Sendable () async throws -> Void) {
        let connect = Duration.milliseconds(Int64(config.routing.connectTimeoutSeconds * 1000))
        let idle = Duration.milliseconds(Int64(config.routing.timeoutSeconds * 1000))
        switch self {
        case .lean:
            let t = DefaultTransport(connectTimeout: connect, idleTimeout: idle)
            return (t, { try await t.shutdown() })
        case .asyncHTTPClient:
            let t = HTTPClientTransport(connectTimeout: connect, idleTimeout: idle)
            return (t, { try await t.shutdown() })
        }
    }
}

func withGateway<T: Sendable>(
    _ yaml: String, env: [String: String] = [:], mode: TestingSetup = .router, transport kind: TransportKind = .lean,
    clock: ManualClock? = nil, wall: WallClock? = nil, storage given: (any Storage)? = nil, metrics: (any MetricsFactory)? = nil,
    logHandler: (any LogHandler)? = nil,
    _ body: @Sendable (GatewayHarness) async throws -> T
) async throws -> T {
    var config = try ConfigLoader.load(yaml: yaml, environment: env)
    config.server.port = 0
    let storage = given ?? MemoryStorage()
    let (transport, shutdown) = kind.make(config)
    var logger = logHandler.map { h in Logger(label: "test", factory: { _ in h }) } ?? Logger(label: "test")
    logger.logLevel = .warning
    let engineClock: any EngineClock = clock ?? SystemEngineClock()
    let services = wall.map { wall in
        GatewayServices(config: config, storage: storage, transport: transport, logger: logger, clock: engineClock, wallClock: { wall.now },
                        metricsFactory: metrics)
    } ?? GatewayServices(config: config, storage: storage, transport: transport, logger: logger, clock: engineClock, metricsFactory: metrics)
    // The connections the binary serves (`gatewayConnection`): live tests go through the same connection handling.
    let responder = buildResponder(services)
    let connection = try gatewayConnection(config, responder: responder, metrics: services.metrics, logger: logger)
    let app = Application(responder: responder, server: HTTPServerBuilder { _ in connection },
                          configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
    do {
        let result = try await app.test(mode) { client in
            try await body(GatewayHarness(client: client, services: services, storage: storage))
        }
        try await shutdown()
        return result
    } catch {
        try? await shutdown()
        throw error
    }
}

/// Seconds since 1970 for key expiry, rate-limit windows and budget periods; starts on 2027-03-10 12:00:00 UTC.
final class WallClock: Sendable {
    private let t = Mutex(1_804_680_000.0)
    var now: Double { t.withLock { $0 } }
    func advance(_ seconds: Double) { t.withLock { $0 += seconds } }
}

struct GatewayHarness: Sendable {
    let client: any TestClientProtocol
    let services: GatewayServices
    let storage: any Storage

    static let key = "sk-test"

    func post(_ path: String, _ body: String, key: String? = GatewayHarness.key, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        headers[.contentType] = "application/json"
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func get(_ path: String, key: String? = GatewayHarness.key) async throws -> TestResponse {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: path, method: .get, headers: headers)
    }

    /// Any method, with a JSON body when one is given.
    func send(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, key: String? = GatewayHarness.key) async throws -> TestResponse {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// The request log after everything recorded so far has been written.
    func records() async throws -> [RequestRecord] {
        await services.requestLog.flush()
        return try await storage.recentRequests(limit: 1000)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    func json() throws -> [String: Any] { try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:] }
    var errorObject: [String: Any]? { (try? json())?["error"] as? [String: Any] }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

let chatBody = #"{"model":"demo","messages":[{"role":"user","content":"Hello"}]}"#

/// A gateway config with one mock model and one key per purpose.
let mockYAML = """
auth:
  master_key: "sk-master"
  keys:
    - { name: tester, key: "\(GatewayHarness.key)" }
    - { name: limited, key: "sk-limited", models: ["demo-*"] }
providers:
  - { name: sim-a, kind: mock, seed: 1 }
  - { name: sim-b, kind: mock, seed: 2 }
models:
  - name: demo
    balancing: round-robin
    deployments:
      - { provider: sim-a, model: a-1, price: { input: 100000, output: 200000 } }
      - { provider: sim-b, model: b-1, price: { input: 1, output: 1 } }
  - name: demo-small
    deployments: [ { provider: sim-a, model: a-1 } ]
"""
