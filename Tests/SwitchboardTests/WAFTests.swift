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

    // MARK: Limits on headers and bodies

    static let limitsYAML = """
        auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
        providers: [ { name: sim, kind: mock, seed: 1 } ]
        models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
        waf: { max_headers: 12, max_header_bytes: 2048, max_json_depth: 8, max_messages: 3, max_content_bytes: 600 }
        """

    static func chat(_ messages: Int, text: String = "hi", extra: String = "") -> String {
        let m = Array(repeating: #"{"role":"user","content":"\#(text)"}"#, count: messages).joined(separator: ",")
        return #"{"model":"demo","max_tokens":5,"messages":[\#(m)]\#(extra)}"#
    }

    @Test func theScanCountsTopLevelArraysAndStopsAtTheDepthAsked() throws {
        let body = #"{"a":[1,[2,3],{"b":[]}],"e":[],"s":"x"}"#
        let found = try Array(body.utf8).withUnsafeBytes { try JSONPeek.topLevel($0, keys: [Array("a".utf8), Array("e".utf8), Array("s".utf8)]) }
        #expect(found.map { $0?.count } == [3, 0, 0])
        let deep = #"{"a":[[[1]]]}"#   // the object is level 1, the innermost array level 4
        #expect(throws: Never.self) { try Array(deep.utf8).withUnsafeBytes { _ = try JSONPeek.topLevel($0, keys: [], maxDepth: 4) } }
        do {
            _ = try Array(deep.utf8).withUnsafeBytes { try JSONPeek.topLevel($0, keys: [], maxDepth: 3) }
            Issue.record("accepted")
        } catch {
            let syntax = error as? JSONPeek.SyntaxError
            #expect(syntax?.tooDeep == true && syntax?.reason == "nesting deeper than 3 levels")
        }
        func refusal(_ parse: () throws -> Void) -> GatewayError? {
            do { try parse() } catch { return error as? GatewayError }
            return nil
        }
        // Without a limit of its own, a body past the parser's bound stays `invalid_json`; with one, `json_too_deep`.
        let nested = ByteBuffer(string: #"{"model":"demo","messages":[{"role":"user","content":"hi"}],"x":\#(String(repeating: "[", count: 600))\#(String(repeating: "]", count: 600))}"#)
        #expect(refusal { _ = try OpenAIRequest.chat(nested) }?.code == .invalidJSON)
        let tooDeep = refusal { _ = try OpenAIRequest.chat(nested, limits: RequestLimits(maxJSONDepth: 100)) }
        #expect(tooDeep?.code == .jsonTooDeep && tooDeep?.status == 400)
        let embeddings = ByteBuffer(string: #"{"model":"e","input":["a","b","c"]}"#)
        let many = refusal { _ = try OpenAIRequest.embeddings(embeddings, limits: RequestLimits(maxMessages: 2)) }
        #expect(many?.code == .tooManyMessages && many?.param == "input")
        #expect(refusal { _ = try OpenAIRequest.embeddings(embeddings, limits: RequestLimits(maxMessages: 3, maxContentBytes: 13)) } == nil)
        let large = refusal { _ = try OpenAIRequest.embeddings(embeddings, limits: RequestLimits(maxContentBytes: 12)) }
        #expect(large?.code == .contentTooLarge && large?.status == 413)
        // A single string input is one entry.
        #expect(refusal { _ = try OpenAIRequest.embeddings(ByteBuffer(string: #"{"model":"e","input":"abc"}"#), limits: RequestLimits(maxMessages: 1)) } == nil)
    }

    @Test func headersAndBodiesPastTheLimitsAreRefusedInEachAPIsShapeAndCounted() async throws {
        try await withGateway(Self.limitsYAML) { (h: GatewayHarness) async throws in
            #expect(try await h.post("/v1/chat/completions", Self.chat(3)).status == .ok)
            #expect(try await h.post("/v1/messages", Self.chat(3)).status == .ok)

            // Headers: too many fields, then too many bytes (on every route, before the key is looked at).
            var many = HTTPFields()
            for i in 0..<12 { many[HTTPField.Name("x-extra-\(i)")!] = "v" }
            let counted = try await h.post("/v1/chat/completions", Self.chat(1), headers: many)
            #expect(counted.status.code == 431 && counted.text.contains(#""code":"headers_too_large""#) && counted.text.contains(#""type":"invalid_request_error""#))
            var big = HTTPFields()
            big[HTTPField.Name("x-padding")!] = String(repeating: "p", count: 2100)
            let sized = try await h.post("/v1/messages", Self.chat(1), headers: big)
            #expect(sized.status.code == 431 && sized.text.hasPrefix(#"{"type":"error","error":{"type":"invalid_request_error""#), "\(sized.text)")
            #expect(try await h.post("/v1/chat/completions", Self.chat(1), key: nil, headers: big).status.code == 431)

            // Bodies: nesting, message count, content size, on each route that takes a conversation.
            let deep = try await h.post("/v1/chat/completions", Self.chat(1, extra: #","tools":[[[[[[[[1]]]]]]]]"#))
            #expect(deep.status == .badRequest && deep.text.contains(#""code":"json_too_deep""#), "\(deep.text)")
            let deepMessages = try await h.post("/v1/messages", Self.chat(1, extra: #","metadata":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}"#))
            #expect(deepMessages.status == .badRequest && deepMessages.text.contains(#""type":"invalid_request_error""#)
                    && deepMessages.text.contains("deeper than 8 levels"))
            let four = try await h.post("/v1/chat/completions", Self.chat(4))
            #expect(four.status == .badRequest && four.text.contains(#""code":"too_many_messages""#) && four.text.contains(#""param":"messages""#))
            #expect(try await h.post("/v1/messages", Self.chat(4)).status == .badRequest)
            #expect(try await h.post("/v1/messages/count_tokens", Self.chat(4)).status == .badRequest)
            let inputs = try await h.post("/v1/embeddings", #"{"model":"demo","input":["a","b","c","d"]}"#)
            #expect(inputs.status == .badRequest && inputs.text.contains("too_many_messages") && inputs.text.contains(#""param":"input""#))
            let long = try await h.post("/v1/chat/completions", Self.chat(1, text: String(repeating: "w", count: 600)))
            #expect(long.status.code == 413 && long.text.contains(#""code":"content_too_large""#))
            let longMessages = try await h.post("/v1/messages", Self.chat(1, text: String(repeating: "w", count: 600)))
            #expect(longMessages.status.code == 413 && longMessages.text.contains(#""type":"request_too_large""#))
            // The system prompt is part of an Anthropic conversation.
            let system = #","system":"\#(String(repeating: "s", count: 600))""#
            #expect(try await h.post("/v1/messages", Self.chat(1, extra: system)).status.code == 413)

            let metrics = String(buffer: try await h.client.execute(uri: "/metrics", method: .get).body)
            for (reason, n) in [("headers_too_large", 3), ("json_too_deep", 2), ("too_many_messages", 4), ("content_too_large", 3)] {
                #expect(metrics.contains(#"switchboard_refused_total{reason="\#(reason)"} \#(n)"#), "\(reason): \(metrics.split(separator: "\n").filter { $0.contains("refused") })")
            }
        }
    }

    @Test func withoutLimitsTodaysBoundsHold() async throws {
        try await withGateway(Self.yaml.replacingOccurrences(of: "  allow: [10.0.0.0/8, 2001:db8::/32]\n", with: "")) { (h: GatewayHarness) async throws in
            var headers = HTTPFields()
            headers[HTTPField.Name("x-forwarded-for")!] = "10.1.1.1"
            for i in 0..<40 { headers[HTTPField.Name("x-extra-\(i)")!] = String(repeating: "v", count: 200) }
            let body = Self.chat(50, text: String(repeating: "w", count: 100), extra: #","x":[[[[[[[[[[[[1]]]]]]]]]]]]"#)
            #expect(try await h.post("/v1/chat/completions", body, headers: headers).status == .ok)
        }
    }

    @Test func checkNamesLimitsOutOfRange() {
        let yaml = Self.limitsYAML.replacingOccurrences(of: "max_json_depth: 8", with: "max_json_depth: 1000")
            .replacingOccurrences(of: "max_header_bytes: 2048", with: "max_header_bytes: 100000")
            .replacingOccurrences(of: "max_headers: 12", with: "max_headers: 0, client_timeout_s: -1")
        do throws(ConfigError) {
            _ = try ConfigLoader.load(yaml: yaml, environment: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("waf.max_json_depth: must be between 2 and 512, found 1000"))
            #expect(error.description.contains("waf.max_header_bytes: must be between 256 and 81920, found 100000"))
            #expect(error.description.contains("waf.max_headers: must be between 1 and 1000, found 0"))
            #expect(error.description.contains("waf.client_timeout_s: must be between 0.001 and 3600, found -1"))
        }
        let config = try? ConfigLoader.load(yaml: Self.limitsYAML, environment: [:])
        #expect(config?.waf.body == RequestLimits(maxJSONDepth: 8, maxMessages: 3, maxContentBytes: 600) && config?.waf.maxHeaders == 12)
        #expect(config?.waf.clientTimeoutSeconds == nil && config?.waf.isActive == true)
    }
}
