import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import SwitchboardServer

/// `GatewayResponder`: the busiest client routes found by their exact path, without the router, answered exactly as
/// through it.
@Suite struct GatewayResponderTests {
    static let yaml = """
        server: { max_body_bytes: 4096 }
        auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
        providers: [ { name: sim, kind: mock, seed: 1 } ]
        models: [ { name: demo, deployments: [ { provider: sim, model: m, price: { input: 1, output: 2 } } ] } ]
        waf:
          trust_forwarded_for: true
          allow: [10.0.0.0/8]
          auth_failures: { max: 50, window_s: 60, block_s: 600 }
        """

    /// The table holds the three routes, and answers them alone: behind a router that knows no route, they are still
    /// served (with the provider's headers and the request's id), while any other spelling of their paths is left to
    /// the router (which, in the gateway's responder, still has them).
    @Test func theBusiestRoutesAreAnsweredWithoutTheRouter() async throws {
        try await withGateway(Self.yaml) { h in
            let full = buildResponder(h.services)
            #expect(Set(full.direct.keys) == ["/v1/chat/completions", "/v1/embeddings", "/v1/messages"])
            let tableOnly = GatewayResponder(router: Router(context: GatewayRequestContext.self).buildResponder(), direct: full.direct)
            let chat = #"{"model":"demo","messages":[{"role":"user","content":"Hello"}]}"#
            try await Application(responder: tableOnly).test(.router) { client in
                for (path, body) in [("/v1/chat/completions", chat), ("/v1/messages", #"{"model":"demo","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}"#),
                                     ("/v1/embeddings", #"{"model":"demo","input":"hi"}"#)] {
                    let r = try await client.execute(uri: path, method: .post, headers: Self.headers(id: "id-\(path.count)"), body: ByteBuffer(string: body))
                    #expect(r.status == .ok, "\(path): \(r.text)")
                    #expect(r.header("x-switchboard-provider") == "sim" && r.header("x-request-id") == "id-\(path.count)")
                }
                let slash = try await client.execute(uri: "/v1/chat/completions/", method: .post, headers: Self.headers(), body: ByteBuffer(string: chat))
                #expect(slash.status == .notFound)
            }
            let slash = try await h.client.execute(uri: "/v1/chat/completions/", method: .post, headers: Self.headers(), body: ByteBuffer(string: chat))
            #expect(slash.status == .ok)
        }
    }

    /// Every answer of the direct routes, refusals included, is the router's: status, body (for the errors: every
    /// byte) and header fields, through the same middleware (the web firewall's among them).
    @Test func directAndRoutedAnswersAreTheSame() async throws {
        try await withGateway(Self.yaml) { h in
            let created = try await h.client.execute(uri: "/admin/keys", method: .post, headers: Self.headers(key: "sk-master"),
                                                     body: ByteBuffer(string: #"{"name":"rev","roles":["reviewer"]}"#))
            let reviewer = try #require(try created.json()["key"] as? String)
            let chat = #"{"model":"demo","messages":[{"role":"user","content":"Hello"}]}"#
            let messages = #"{"model":"demo","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}"#
            let cases: [(String, String, String?, String)] = [
                ("/v1/chat/completions", chat, GatewayHarness.key, "10.1.2.3"),
                ("/v1/chat/completions", chat, nil, "10.1.2.3"),
                ("/v1/chat/completions", chat, "sk-wrong", "10.1.2.3"),
                ("/v1/chat/completions", chat, GatewayHarness.key, "192.0.2.7"),     // outside waf.allow
                ("/v1/chat/completions", chat, reviewer, "10.1.2.3"),                // no user role
                ("/v1/chat/completions", "{", GatewayHarness.key, "10.1.2.3"),
                ("/v1/chat/completions", #"{"model":"nope","messages":[{"role":"user","content":"Hi"}]}"#, GatewayHarness.key, "10.1.2.3"),
                ("/v1/chat/completions", String(repeating: " ", count: 5000) + chat, GatewayHarness.key, "10.1.2.3"),
                ("/v1/messages", messages, GatewayHarness.key, "10.1.2.3"),
                ("/v1/messages", messages, nil, "10.1.2.3"),
                ("/v1/messages", #"{"model":"demo"}"#, GatewayHarness.key, "10.1.2.3"),
                ("/v1/embeddings", #"{"model":"demo","input":"hi"}"#, GatewayHarness.key, "10.1.2.3"),
                ("/v1/embeddings", #"{"input":"hi"}"#, GatewayHarness.key, "10.1.2.3"),
            ]
            var answers: [TestResponse] = []
            for (i, (path, body, key, from)) in cases.enumerated() {
                answers.append(try await h.client.execute(uri: path, method: .post, headers: Self.headers(id: "r\(i)", key: key, from: from),
                                                         body: ByteBuffer(string: body)))
            }
            let direct = answers
            try await Application(router: buildRouter(h.services)).test(.router) { client in
                for (i, (path, body, key, from)) in cases.enumerated() {
                    let routed = try await client.execute(uri: path, method: .post, headers: Self.headers(id: "r\(i)", key: key, from: from),
                                                          body: ByteBuffer(string: body))
                    let mine = direct[i]
                    #expect(mine.status == routed.status, "case \(i) \(path)")
                    #expect(Set(mine.headers.map(\.name)) == Set(routed.headers.map(\.name)), "case \(i) \(path)")
                    for name in ["x-request-id", "content-type", "x-switchboard-provider", "x-switchboard-model", "allow", "retry-after"] {
                        #expect(mine.header(name) == routed.header(name), "case \(i) \(path) \(name)")
                    }
                    if mine.status != .ok { #expect(mine.text == routed.text, "case \(i) \(path)") }
                }
            }
            #expect(direct.map(\.status.code) == [200, 401, 401, 403, 403, 400, 404, 413, 200, 401, 400, 200, 400])
        }
    }

    static func headers(id: String = "t", key: String? = GatewayHarness.key, from: String = "10.1.2.3") -> HTTPFields {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        headers[.contentType] = "application/json"
        headers[HTTPField.Name("x-request-id")!] = id
        headers[HTTPField.Name("x-forwarded-for")!] = from
        return headers
    }
}
