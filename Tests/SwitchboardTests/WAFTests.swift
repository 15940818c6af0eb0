import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
@testable import SwitchboardServer
import Testing

/// The edge (`waf:`): client networks allowed and denied, and key guessing throttled per address — pure, then in the
/// running gateway (the client's address from a trusted X-Forwarded-For, as behind a proxy).
@Suite struct WAFTests {
    @Test func networksMatchAddressesOfBothFamilies() throws {
        let v4 = try #require(CIDR("10.0.0.0/8"))
        #expect(v4.contains("10.200.1.2") && !v4.contains("11.0.0.1") && !v4.contains("not an address"))
        #expect(v4.contains("::ffff:10.1.2.3"))                          // IPv4 seen on a dual-stack socket
        let host = try #require(CIDR("203.0.113.7"))
        #expect(host.contains("203.0.113.7") && !host.contains("203.0.113.8"))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains("2001:db8:1::5") && !v6.contains("2001:db9::1") && !v6.contains("10.0.0.1"))
        let odd = try #require(CIDR("192.168.0.0/23"))
        #expect(odd.contains("192.168.1.255") && !odd.contains("192.168.2.0"))
        for bad in ["10.0.0.0/33", "2001:db8::/129", "10.0.0", "host.example", "10.0.0.0/-1", ""] { #expect(CIDR(bad) == nil, "\(bad)") }
    }

    @Test func failedAuthenticationsBlockAnAddressForAWhile() {
        var limits = WAFConfig.AuthFailures()
        (limits.max, limits.windowSeconds, limits.blockSeconds) = (3, 60, 300)
        let book = AuthFailureBook(limits, capacity: 4)
        #expect(!book.failed("a", now: 0) && !book.failed("a", now: 1) && book.failed("a", now: 2))
        #expect(book.blocked("a", now: 3) == 299 && book.blocked("b", now: 3) == nil)
        #expect(book.blocked("a", now: 302) == nil)
        // Failures spread wider than the window never add up to a block.
        #expect(!book.failed("c", now: 0) && !book.failed("c", now: 61) && !book.failed("c", now: 122))
        // Bounded: a fifth address makes room (entries whose window and block are over go first).
        for (i, a) in ["d", "e", "f", "g"].enumerated() { book.failed(a, now: 400 + Double(i)) }
        #expect(book.tracked <= 4)
    }

    static let yaml = """
        auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
        providers: [ { name: sim, kind: mock, seed: 1 } ]
        models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
        waf:
          trust_forwarded_for: true
          allow: [10.0.0.0/8, 2001:db8::/32]
          deny: [10.66.0.0/16]
          auth_failures: { max: 5, window_s: 60, block_s: 600 }
        """

    @Test func theEdgeRefusesByAddressAndThrottlesKeyGuessing() async throws {
        try await withGateway(Self.yaml) { (h: GatewayHarness) async throws in
            func post(_ from: String?, key: String = GatewayHarness.key) async throws -> TestResponse {
                var headers = HTTPFields()
                if let from { headers[HTTPField.Name("x-forwarded-for")!] = "\(from), 192.0.2.1" }
                return try await h.post("/v1/chat/completions", #"{"model":"demo","messages":[{"role":"user","content":"hi"}]}"#, key: key, headers: headers)
            }
            #expect(try await post("10.1.2.3").status == .ok)
            #expect(try await post("2001:db8::9").status == .ok)
            let outside = try await post("8.8.8.8")
            #expect(outside.status == .forbidden && outside.text.contains(#""code":"ip_not_allowed""#))
            #expect(try await post("10.66.1.1").status == .forbidden)
            #expect(try await post(nil).status == .forbidden)          // an address it cannot tell is not allowed
            // 1,000 guessed keys from one address: after 5 it is refused with Retry-After, the right key included.
            var statuses: [Int] = []
            for i in 0..<1000 { statuses.append(Int(try await post("10.9.9.9", key: "sk-guess-\(i)").status.code)) }
            #expect(statuses.prefix(5).allSatisfy { $0 == 401 } && statuses.dropFirst(5).allSatisfy { $0 == 429 })
            let blocked = try await post("10.9.9.9")
            #expect(blocked.status == .tooManyRequests && blocked.text.contains("auth_throttled") && Int(blocked.header("retry-after") ?? "") ?? 0 > 500)
            // Another address is unaffected; the refusals are counted.
            #expect(try await post("10.9.9.10").status == .ok)
            // Every route is behind the edge: /metrics too, from an allowed address only.
            #expect(try await h.get("/metrics", key: nil).status == .forbidden)
            var allowed = HTTPFields()
            allowed[HTTPField.Name("x-forwarded-for")!] = "10.0.0.2"
            let metrics = String(buffer: try await h.client.execute(uri: "/metrics", method: .get, headers: allowed).body)
            #expect(metrics.contains(#"switchboard_refused_total{reason="ip_not_allowed"} 4"#), "\(metrics.split(separator: "\n").filter { $0.contains("refused") })")
            #expect(metrics.contains(#"switchboard_refused_total{reason="auth_throttled"} 996"#))
        }
    }

    @Test func aKeyHeldToNetworksWorksOnlyFromThem() async throws {
        try await withGateway(Self.yaml) { (h: GatewayHarness) async throws in
            func send(_ method: HTTPRequest.Method, _ path: String, _ body: String, key: String, from: String) async throws -> TestResponse {
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(key)"
                headers[.contentType] = "application/json"
                headers[HTTPField.Name("x-forwarded-for")!] = from
                return try await h.client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: body))
            }
            let made = try await send(.post, "/admin/keys", #"{"name":"office","allowed_ips":["10.5.0.0/16"]}"#, key: "sk-master", from: "10.0.0.1")
            #expect(made.status == .created)
            let key = try #require(try JSONSerialization.jsonObject(with: Data(buffer: made.body)) as? [String: Any])["key"] as? String ?? ""
            let chat = #"{"model":"demo","messages":[{"role":"user","content":"hi"}]}"#
            #expect(try await send(.post, "/v1/chat/completions", chat, key: key, from: "10.5.1.1").status == .ok)
            let elsewhere = try await send(.post, "/v1/chat/completions", chat, key: key, from: "10.1.1.1")
            #expect(elsewhere.status == .forbidden && String(buffer: elsewhere.body).contains("ip_not_allowed"))
            let bad = try await send(.post, "/admin/keys", #"{"name":"bad","allowed_ips":["10.5.0.0/40"]}"#, key: "sk-master", from: "10.0.0.1")
            #expect(bad.status == .badRequest && String(buffer: bad.body).contains("allowed_ips[0]"))
        }
    }

    @Test func checkNamesABadNetwork() {
        do throws(ConfigError) {
            _ = try ConfigLoader.load(yaml: Self.yaml.replacingOccurrences(of: "10.66.0.0/16", with: "10.66.0.0/99"), environment: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("waf.deny[0]: \"10.66.0.0/99\" is not an IP address or network"))
        }
    }
}
