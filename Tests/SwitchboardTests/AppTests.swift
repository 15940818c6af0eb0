import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import Testing
@testable import SwitchboardServer

/// The app in process (`.router`): routing, auth, validation, errors, headers, recording — with mock providers.
@Suite struct AppTests {
    @Test func chatThroughMockProvidersRoundRobinsAndCosts() async throws {
        try await withGateway(mockYAML) { h in
            let first = try await h.post("/v1/chat/completions", chatBody)
            let second = try await h.post("/v1/chat/completions", chatBody)
            #expect(first.status == .ok && second.status == .ok)
            #expect(Set([first.header("x-switchboard-provider"), second.header("x-switchboard-provider")]) == ["sim-a", "sim-b"])
            #expect(first.header("x-switchboard-model") == "demo")
            #expect(first.header("x-switchboard-attempts") == "1")
            let usage = try #require(try first.json()["usage"] as? [String: Any])
            let prompt = usage["prompt_tokens"] as! Int, completion = usage["completion_tokens"] as! Int
            // sim-a: 0.1 USD per token in, 0.2 out; sim-b: 1e-6 per token.
            let cost = try #require(Double(first.header("x-switchboard-cost-usd") ?? ""))
            let expected = first.header("x-switchboard-provider") == "sim-a" ? Double(prompt + 2 * completion) / 10 : Double(prompt + completion) / 1e6
            #expect(abs(cost - expected) < 1e-9)
            let records = try await h.records()
            #expect(records.count == 2)
            #expect(records.allSatisfy { $0.keyName == "tester" && $0.status == 200 && $0.model == "demo" && $0.attempts == 1 })
            #expect(records.contains { $0.id == first.header("x-request-id") && abs($0.costUSD - cost) < 1e-9 && $0.usage.completionTokens == completion })
        }
    }

    @Test func requestIDIsEchoedOrGenerated() async throws {
        try await withGateway(mockYAML) { h in
            var headers = HTTPFields()
            headers[HTTPField.Name("x-request-id")!] = "my-trace-123"
            let echoed = try await h.post("/v1/chat/completions", chatBody, headers: headers)
            #expect(echoed.header("x-request-id") == "my-trace-123")
            let generated = try await h.get("/healthz", key: nil)
            #expect(generated.header("x-request-id")?.hasPrefix("req_") == true)
            let id = generated.header("x-request-id") ?? ""
            #expect(id.count == 28 && id.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(id)")
            let failed = try await h.post("/v1/chat/completions", "{", key: nil)
            #expect(failed.header("x-request-id")?.hasPrefix("req_") == true)
        }
    }

    /// Generated ids: `req_` and 24 lower-case hex digits, never the same twice in a process.
    @Test func generatedRequestIDsAreDistinct() {
        let ids = (0..<50_000).map { _ in newRequestID() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 28 && $0.hasPrefix("req_") && $0.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase } })
    }

    @Test func authentication() async throws {
        try await withGateway(mockYAML) { h in
            let none = try await h.post("/v1/chat/completions", chatBody, key: nil)
            #expect(none.status == .unauthorized)
            #expect(none.errorObject?["code"] as? String == "missing_api_key")
            let wrong = try await h.post("/v1/chat/completions", chatBody, key: "sk-wrong")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.errorObject?["code"] as? String == "invalid_api_key")
            #expect(!wrong.text.contains("sk-wrong"))
            var headers = HTTPFields()
            headers[HTTPField.Name("x-api-key")!] = "sk-master"
            let viaHeader = try await h.post("/v1/chat/completions", chatBody, key: nil, headers: headers)
            #expect(viaHeader.status == .ok)
        }
    }

    @Test func keysSeeOnlyTheirModels() async throws {
        try await withGateway(mockYAML) { h in
            let all = try await h.get("/v1/models")
            let ids = (try all.json()["data"] as! [[String: Any]]).map { $0["id"] as! String }
            #expect(ids == ["demo", "demo-small"])
            let limited = try await h.get("/v1/models", key: "sk-limited")
            #expect((try limited.json()["data"] as! [[String: Any]]).map { $0["id"] as! String } == ["demo-small"])
            let refused = try await h.post("/v1/chat/completions", chatBody, key: "sk-limited")
            #expect(refused.status == .forbidden)
            #expect(refused.errorObject?["code"] as? String == "model_not_allowed")
        }
    }

    @Test(arguments: [
        ("{nope", 400, "invalid_json", nil),
        (#"{"messages":[{"role":"user","content":"x"}]}"#, 400, "missing_parameter", "model"),
        (#"{"model":["demo"],"messages":[{"role":"user","content":"x"}]}"#, 400, "invalid_parameter", "model"),
        (#"{"model":"demo","messages":{"role":"user"}}"#, 400, "invalid_parameter", "messages"),
        (#"{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}"#, 404, "model_not_found", "model"),
    ] as [(String, Int, String, String?)])
    func badChatInput(_ body: String, _ status: Int, _ code: String, _ param: String?) async throws {
        try await withGateway(mockYAML) { h in
            let r = try await h.post("/v1/chat/completions", body)
            #expect(r.status.code == status)
            #expect(r.header("content-type") == "application/json")
            let e = try #require(r.errorObject)
            #expect(e["code"] as? String == code)
            #expect((e["param"] as? String) == param)
            #expect(e["type"] as? String == "invalid_request_error")
            if code == "model_not_found" { #expect((e["message"] as? String)?.contains("gpt-9") == true) }
        }
    }

    @Test func unknownPathsAndMethodsAreJSON() async throws {
        try await withGateway(mockYAML) { h in
            let missing = try await h.get("/v1/nothing")
            #expect(missing.status == .notFound)
            #expect(missing.errorObject?["code"] as? String == "unknown_url")
            let wrongMethod = try await h.client.execute(uri: "/v1/chat/completions", method: .get)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.header("allow") == "POST")
            #expect(wrongMethod.errorObject?["code"] as? String == "method_not_allowed")
        }
    }

    /// What a new user gets wrong is answered with the likely fix: a base URL without `/v1`, a model name's typo
    /// (only among the models the key may use), the gateway's address opened as it is.
    @Test func likelyMistakesGetAHint() async throws {
        try await withGateway(mockYAML) { h in
            let noV1 = try await h.post("/chat/completions", chatBody)
            #expect(noV1.status == .notFound && (noV1.errorObject?["message"] as? String)?.contains("Did you mean /v1/chat/completions?") == true)
            let unrelated = try await h.get("/nothing")
            #expect((unrelated.errorObject?["message"] as? String) == "Unknown request URL: /nothing.")
            let typo = try await h.post("/v1/chat/completions", #"{"model":"demoo","messages":[{"role":"user","content":"x"}]}"#)
            #expect(typo.status == .notFound && (typo.errorObject?["message"] as? String)?.hasSuffix("Did you mean 'demo'?") == true)
            // The limited key may use demo-* only: `demo` is not suggested to it.
            let limited = try await h.post("/v1/chat/completions", #"{"model":"demoo","messages":[{"role":"user","content":"x"}]}"#, key: "sk-limited")
            #expect(limited.status == .notFound && (limited.errorObject?["message"] as? String)?.contains("Did you mean") == false)
            let anthropic = try await h.post("/v1/messages", #"{"model":"demo-smal","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#)
            #expect(anthropic.status == .notFound && anthropic.text.contains("Did you mean 'demo-small'?"))
            let root = try await h.get("/", key: nil)
            let index = try #require(JSONValue.parse(Data(buffer: root.body)))
            #expect(root.status == .ok && index["dashboard"] == "/ui" && index["openai_base_url"] == "/v1")
        }
    }

    @Test func oversizedBodiesAre413() async throws {
        let yaml = mockYAML.replacingOccurrences(of: "auth:", with: "server: { max_body_bytes: 1000 }\nauth:")
        try await withGateway(yaml) { h in
            let big = #"{"model":"demo","messages":[{"role":"user","content":""# + String(repeating: "x", count: 5000) + #""}]}"#
            let r = try await h.post("/v1/chat/completions", big)
            #expect(r.status == .contentTooLarge)
            #expect(r.errorObject?["code"] as? String == "request_too_large")
            let ok = try await h.post("/v1/chat/completions", chatBody)
            #expect(ok.status == .ok)
        }
    }

    @Test func embeddingsAndValidation() async throws {
        try await withGateway(mockYAML) { h in
            let r = try await h.post("/v1/embeddings", #"{"model":"demo","input":["a","b"],"dimensions":8,"encoding_format":"float"}"#)
            #expect(r.status == .ok)
            let data = try r.json()["data"] as! [[String: Any]]
            #expect(data.count == 2 && (data[0]["embedding"] as! [Double]).count == 8)
            #expect(r.header("x-switchboard-cost-usd") != nil)
            let bad = try await h.post("/v1/embeddings", #"{"model":"demo"}"#)
            #expect(bad.status == .badRequest && bad.errorObject?["param"] as? String == "input")
        }
    }

    @Test func healthAndReadiness() async throws {
        try await withGateway(mockYAML) { h in
            #expect(try await h.get("/healthz", key: nil).status == .ok)
            let ready = try await h.get("/readyz", key: nil)
            #expect(ready.status == .ok && ready.text.contains("ready"))
        }
    }
}

@Suite struct KeyParsingTests {
    @Test(arguments: [
        ("Bearer sk-1", "sk-1"), ("bearer sk-1", "sk-1"), ("BEARER   sk-1  ", "sk-1"), ("Bearer", nil), ("Bearer ", nil),
        ("Basic abc", nil), ("Bearersk-1", nil), ("Token sk-1", nil),
    ] as [(String, String?)])
    func bearerTokens(_ header: String, _ key: String?) {
        #expect(AuthMiddleware.bearerToken(header) == key)
    }
}
