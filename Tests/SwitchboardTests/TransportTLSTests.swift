import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import SwitchboardProviders

/// The lean transport over TLS, against an in-process HTTPS server with certificates made at test time. The idle
/// limit is long: on a loaded machine a new connection may wait seconds for its request (the whole suite runs at once).
@Suite struct TransportTLSTests {
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared() }

    static func request(_ url: String, caFile: String?, timeout: Duration = .seconds(5), stream: Bool = false,
                        limits: AttemptLimits = .init()) -> UpstreamRequest {
        UpstreamRequest(url: url, body: ByteBuffer(string: "{}"), timeout: timeout, limits: limits, streamResponse: stream, caFile: caFile)
    }

    /// The error a request ends with, if it does.
    static func failure(_ transport: NIOHTTPTransport, _ request: UpstreamRequest) async -> UpstreamError? {
        do {
            let r = try await transport.execute(request)
            _ = try await r.body.collect(upTo: 1 << 20)
            return nil
        } catch let error as UpstreamError {
            return error
        } catch {
            return UpstreamError(.other)
        }
    }

    /// Trusting the CA from `ca_file`, two requests share one TLS connection; a bundle of several CAs works too.
    @Test func verifiedAndKeptAlive() async throws {
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
            for caFile in [pki.ca, pki.ca, pki.bundle] {
                let r = try await transport.execute(Self.request("https://127.0.0.1:\(server.port)/json", caFile: caFile))
                #expect(r.status == 200)
                #expect(String(buffer: try await r.body.collect(upTo: 1 << 20)) == Wire.chatCompletion())
            }
            // One connection for the two requests trusting `ca`, another for the bundle (a pool of its own).
            #expect(server.accepted == 2 && server.requests.value == 3)
            await transport.shutdown()
        }
    }

    /// A host name (SNI and the certificate's DNS name) rather than an IP address.
    @Test func byHostName() async throws {
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
            let r = try await transport.execute(Self.request("https://localhost:\(server.port)/json", caFile: pki.ca))
            #expect(r.status == 200)
            await transport.shutdown()
        }
    }

    /// The system's trust roots do not know the test CA, another CA is not the one that signed, and a certificate
    /// for another name fails even from the right CA: all `connectFailed`, and nothing reaches the server.
    @Test func untrustedCertificatesFail() async throws {
        let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let url = "https://127.0.0.1:\(server.port)/json"
            #expect(await Self.failure(transport, Self.request(url, caFile: nil)) == UpstreamError(.connectFailed))
            #expect(await Self.failure(transport, Self.request(url, caFile: pki.otherCA)) == UpstreamError(.connectFailed))
            #expect(server.requests.value == 0)
        }
        try await TLSTestServer.run(cert: pki.wrongName.cert, key: pki.wrongName.key) { server in
            for host in ["127.0.0.1", "localhost"] {
                let url = "https://\(host):\(server.port)/json"
                #expect(await Self.failure(transport, Self.request(url, caFile: pki.ca)) == UpstreamError(.connectFailed))
            }
            #expect(server.requests.value == 0)
        }
        // A CA file that cannot be read fails the same way.
        #expect(await Self.failure(transport, Self.request("https://127.0.0.1:1/json", caFile: pki.dir + "/missing.pem")) == UpstreamError(.connectFailed))
        await transport.shutdown()
    }

    /// A CA file replaced on disk (a rotated CA) is read again for the next new connection.
    @Test func caFileIsReadAgainWhenItChanges() async throws {
        let file = pki.dir + "/rotating-\(UUID().uuidString).pem"
        try FileManager.default.copyItem(atPath: pki.otherCA, toPath: file)
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
            let url = "https://127.0.0.1:\(server.port)/json"
            #expect(await Self.failure(transport, Self.request(url, caFile: file)) == UpstreamError(.connectFailed))
            try FileManager.default.removeItem(atPath: file)
            try FileManager.default.copyItem(atPath: pki.ca, toPath: file)
            #expect(await Self.failure(transport, Self.request(url, caFile: file)) == nil)
            await transport.shutdown()
        }
    }

    @Test func streamedResponse() async throws {
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
            let r = try await transport.execute(Self.request("https://127.0.0.1:\(server.port)/stream", caFile: pki.ca, stream: true))
            #expect(r.status == 200 && r.header("content-type") == "text/event-stream")
            var text = ""
            for try await part in r.body { text += String(buffer: part) }
            #expect(text == (0..<5).map { "data: {\"n\":\($0)}\n\n" }.joined())
            // The connection went back to the pool.
            _ = try await transport.execute(Self.request("https://127.0.0.1:\(server.port)/json", caFile: pki.ca)).body.collect(upTo: 1 << 20)
            #expect(server.accepted == 1)
            await transport.shutdown()
        }
    }

    /// The head deadline and the connect limit (which includes the handshake) hold on TLS too: without the head
    /// deadline the answer would come at 2 s (no error), without the connect limit the request would last 30 s (the
    /// transport's connect timeout). The bounds on the time taken leave room for a loaded machine: in the full suite
    /// a test's task may wait seconds for a thread (8 s once in CI).
    @Test func timeouts() async throws {
        let transport = NIOHTTPTransport(connectTimeout: .seconds(30), idleTimeout: .seconds(60))
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let clock = ContinuousClock()
            let start = clock.now
            let error = await Self.failure(transport, Self.request("https://127.0.0.1:\(server.port)/slow", caFile: pki.ca, timeout: .milliseconds(300)))
            #expect(error == UpstreamError(.timeout))
            #expect(clock.now - start < .seconds(15))
        }
        // A server that accepts the TCP connection but never answers the handshake.
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key, tls: false) { server in
            let clock = ContinuousClock()
            let start = clock.now
            let request = Self.request("https://127.0.0.1:\(server.port)/json", caFile: pki.ca, limits: AttemptLimits(connect: .milliseconds(300)))
            #expect(await Self.failure(transport, request) == UpstreamError(.connectFailed))
            #expect(clock.now - start < .seconds(15))
            #expect(server.accepted == 1)
        }
        await transport.shutdown()
    }

    /// A server that drops a keep-alive connection (here without close_notify) costs nothing: the next request
    /// goes on a new connection. An answer whose end is the connection's end, without close_notify, is complete.
    @Test func serverClosesConnections() async throws {
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(30))
            for path in ["/close", "/close", "/eof", "/eof", "/json"] {
                let r = try await transport.execute(Self.request("https://127.0.0.1:\(server.port)\(path)", caFile: pki.ca))
                #expect(r.status == 200)
                #expect(String(buffer: try await r.body.collect(upTo: 1 << 20)) == Wire.chatCompletion(), "\(path)")
            }
            #expect(server.accepted == 5 && server.requests.value == 5)
            await transport.shutdown()
        }
    }

    /// A provider's `ca_file` reaches the transport: the gateway answers from an upstream its CA vouches for, and
    /// without it the upstream is unreachable.
    @Test func providerCAFile() async throws {
        try await TLSTestServer.run(cert: pki.server.cert, key: pki.server.key) { server in
            func yaml(_ caFile: String?) -> String {
                """
                auth: { keys: [ { name: t, key: "\(GatewayHarness.key)" } ] }
                routing: { retries: 0 }
                providers:
                  - { name: up, kind: openai, base_url: "https://localhost:\(server.port)/v1"\(caFile.map { ", ca_file: \"\($0)\"" } ?? "") }
                models: [ { name: demo, deployments: [ { provider: up, model: m } ] } ]
                """
            }
            try await withGateway(yaml(pki.ca)) { h in
                let r = try await h.post("/v1/chat/completions", chatBody)
                #expect(r.status == .ok)
                #expect(((try r.json())["choices"] as? [Any])?.count == 1)
            }
            try await withGateway(yaml(nil)) { h in
                let r = try await h.post("/v1/chat/completions", chatBody)
                #expect(r.status == .badGateway)
                #expect(r.errorObject?["code"] as? String == "upstream_unreachable")
            }
            #expect(server.requests.value == 1)
        }
    }

    /// `check` reports a `ca_file` that cannot be read or holds no PEM certificate; the report shows the path.
    @Test func caFileChecks() throws {
        let notPEM = pki.dir + "/not.pem"
        try "not a certificate".write(toFile: notPEM, atomically: true, encoding: .utf8)
        func problems(_ caFile: String, kind: String = "openai") -> [String] {
            let yaml = """
            providers: [ { name: up, kind: \(kind), base_url: "https://h/v1", ca_file: "\(caFile)" } ]
            models: [ { name: demo, deployments: [ { provider: up, model: m } ] } ]
            """
            do {
                _ = try ConfigLoader.load(yaml: yaml, environment: [:])
                return []
            } catch {
                return error.problems.map(\.description)
            }
        }
        #expect(problems(pki.ca) == [])
        #expect(problems(pki.bundle, kind: "anthropic") == [])
        #expect(problems(pki.dir + "/missing.pem") == ["providers[0].ca_file: cannot read the file \"\(pki.dir)/missing.pem\""])
        #expect(problems(notPEM).first?.hasPrefix("providers[0].ca_file: no PEM certificate in") == true)
        let config = try ConfigLoader.load(yaml: """
            providers: [ { name: up, kind: gemini, ca_file: "\(pki.ca)" } ]
            models: [ { name: demo, deployments: [ { provider: up, model: m } ] } ]
            """, environment: [:])
        #expect(config.providers[0].caFile == pki.ca)
        guard case .object(let report) = ConfigReport.json(config, source: ConfigReport.inCodeSource),
              case .array(let providers) = report["providers"], case .object(let provider) = providers.first else {
            Issue.record("no providers in the report")
            return
        }
        #expect(provider["ca_file"] == .string(pki.ca))
    }
}
