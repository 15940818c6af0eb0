import Foundation
import HTTPTypes
import NIOCore
import SwitchboardCore
@testable import SwitchboardServer
import Testing

/// Routing rules in the running gateway (in process, mock providers): a virtual model routed by content, headers and
/// key; tiers escalating when a tier fails; cheapest capable; the explanation in `x-switchboard-route` and the
/// record; virtual models listed and refused when nothing routes them.
@Suite struct RouterStageTests {
    static let yaml = """
        auth:
          master_key: "sk-master"
          keys:
            - { name: tester, key: "\(GatewayHarness.key)" }
            - { name: no-large, key: "sk-no-large", models: [auto, small, medium] }
        providers:
          - { name: sim-a, kind: mock, seed: 1 }
          - { name: broken, kind: mock, seed: 2, error_rate: 1 }
        models:
          - name: small
            deployments: [{ provider: sim-a, model: s, price: { input: 0.1, output: 0.4 }, capabilities: { tools: false } }]
          - name: flaky-small
            retries: 0
            deployments: [{ provider: broken, model: s, price: { input: 0.1, output: 0.4 } }]
          - name: medium
            deployments: [{ provider: sim-a, model: m, price: { input: 1, output: 4 } }]
          - name: large
            deployments: [{ provider: sim-a, model: l, price: { input: 5, output: 15 } }]
        router:
          models: [auto]
          rules:
            - name: code
              when: { model: auto, content: { regex: ["```"], keywords: [stack trace] } }
              route: { model: large }
            - name: beta-app
              when: { model: auto, headers: { x-app: "^beta" } }
              route: { tiers: [flaky-small, medium, large] }
            - name: cheap-first
              when: { model: auto, tools: false }
              route: { cheapest: [large, medium, small] }
            - name: tools
              when: { model: auto }
              route: { tiers: [small, large, medium] }
        """

    static func chat(_ text: String, model: String = "auto", extra: String = "") -> String {
        #"{"model":"\#(model)","messages":[{"role":"system","content":"be brief"},{"role":"user","content":\#(JSONString.quote(text))}]\#(extra)}"#
    }

    @Test func aVirtualModelIsRoutedByItsRulesAndSaysWhy() async throws {
        try await withGateway(Self.yaml) { h in
            let code = try await h.post("/v1/chat/completions", Self.chat("Why does this fail? ```let x = 1```"))
            #expect(code.status == .ok && code.header("x-switchboard-model") == "large")
            #expect(code.header("x-switchboard-route") == "primary; rule=code")
            let words = try await h.post("/v1/chat/completions", Self.chat("I got a Stack Trace here"))
            #expect(words.header("x-switchboard-model") == "large")

            // Cheapest capable: small ($0.1/M in) serves plain prompts.
            let plain = try await h.post("/v1/chat/completions", Self.chat("hello"))
            #expect(plain.status == .ok && plain.header("x-switchboard-model") == "small" && plain.header("x-switchboard-route") == "primary; rule=cheap-first")
            // The record keeps what the client asked for and what served it.
            let records = try await h.records()
            #expect(records.map(\.model) == ["auto", "auto", "auto"])
            #expect(Set(records.map(\.servedModel)) == ["large", "small"] && records.map(\.routeRule).sorted { ($0 ?? "") < ($1 ?? "") } == ["cheap-first", "code", "code"])

            // Tools: small lacks them, so the second tier serves.
            let tools = try await h.post("/v1/chat/completions", Self.chat("weather?", extra: #","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]"#))
            #expect(tools.status == .ok && tools.header("x-switchboard-model") == "large" && tools.header("x-switchboard-route") == "primary; rule=tools; tier=2")
        }
    }

    @Test func aTierThatFailsEscalatesToTheNextTier() async throws {
        try await withGateway(Self.yaml) { h in
            var headers = HTTPFields()
            headers[HTTPField.Name("x-app")!] = "beta-7"
            let r = try await h.post("/v1/chat/completions", Self.chat("hello"), headers: headers)
            #expect(r.status == .ok && r.header("x-switchboard-model") == "medium")
            #expect(r.header("x-switchboard-route") == "fallback; rule=beta-app; tier=2")
            let record = try #require(try await h.records().first)
            #expect(record.attempts == 2 && record.servedModel == "medium")
        }
    }

    @Test func aRuleWhoseModelsTheKeyMayNotUseGivesWay() async throws {
        try await withGateway(Self.yaml) { h in
            // The key may not use large: the code rule gives way to the next that matches, cheapest of what it may use.
            let r = try await h.post("/v1/chat/completions", Self.chat("```code```"), key: "sk-no-large")
            #expect(r.status == .ok && r.header("x-switchboard-model") == "small" && r.header("x-switchboard-route") == "primary; rule=cheap-first")
        }
    }

    @Test func virtualModelsAreListedAndAnsweredInEveryAPI() async throws {
        try await withGateway(Self.yaml) { h in
            let models = try await h.get("/v1/models")
            let ids = (try models.json()["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids.contains("auto") && ids.contains("small"))
            let anthropic = try await h.post("/v1/messages", #"{"model":"auto","max_tokens":20,"messages":[{"role":"user","content":"```x```"}]}"#)
            #expect(anthropic.status == .ok && anthropic.header("x-switchboard-model") == "large")
            // Counting tokens for a virtual model is estimated (no deployment of its own).
            let count = try await h.post("/v1/messages/count_tokens", #"{"model":"auto","messages":[{"role":"user","content":"hello there"}]}"#)
            #expect(count.status == .ok && count.header("x-switchboard-token-count") == "estimate")
            // A model that is not virtual and that no rule names goes on as asked.
            let direct = try await h.post("/v1/chat/completions", Self.chat("```x```", model: "medium"))
            #expect(direct.status == .ok && direct.header("x-switchboard-model") == "medium" && direct.header("x-switchboard-route") == "primary")
        }
    }

    @Test func aVirtualModelNoRuleRoutesIsRefusedClearly() async throws {
        // Without the last rule (the only one a request with tools matches).
        let yaml = Self.yaml.components(separatedBy: "- name: tools")[0]
        try await withGateway(yaml) { h in
            let r = try await h.post("/v1/chat/completions", Self.chat("weather?", extra: #","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]"#))
            #expect(r.status == .badRequest)
            let message = (try r.json()["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("virtual model 'auto'") && message.contains("cheap-first (tools)") && message.contains("code (content)"))
        }
        // With a default fallback, the fallback serves it.
        try await withGateway(yaml + "\nrouting: { default_fallback: medium }") { h in
            let r = try await h.post("/v1/chat/completions", Self.chat("weather?", extra: #","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]"#))
            #expect(r.status == .ok && r.header("x-switchboard-model") == "medium" && r.header("x-switchboard-route") == "primary; rule=default_fallback")
        }
    }

    @Test func explainSaysWhichRulesWereTriedAndWhatWasWeighed() async throws {
        try await withGateway(Self.yaml) { h in
            let body = Self.chat("weather?", extra: #","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]"#)
            let r = try await h.post("/admin/route/explain?key=no-large", body, key: "sk-master")
            #expect(r.status == .ok)
            let e = try r.json()
            let rules = (e["rules"] as? [[String: Any]] ?? []).map { "\($0["rule"] ?? "")=\($0["failed_on"] as? String ?? "matched")" }
            #expect(rules == ["code=content", "beta-app=headers.x-app", "cheap-first=tools", "tools=matched"])
            let decision = e["decision"] as? [String: Any] ?? [:]
            // small lacks tools and large is not allowed for this key: medium, the third tier.
            #expect(decision["model"] as? String == "medium" && decision["rule"] as? String == "tools" && decision["tier"] as? Int == 3)
            let weighed = ((e["weighed"] as? [[String: Any]])?.first?["candidates"] as? [[String: Any]] ?? [])
                .map { "\($0["model"] ?? "")=\($0["excluded"] as? String ?? "ok")" }
            #expect(weighed == ["small=lacks_tools", "large=not_allowed", "medium=ok"])
            // Headers of the explain request are the ones rules see; a bad api is a 400; only admins may ask.
            var headers = HTTPFields()
            headers[HTTPField.Name("x-app")!] = "beta-1"
            let beta = try await h.post("/admin/route/explain", Self.chat("hi"), key: "sk-master", headers: headers)
            #expect((try beta.json()["decision"] as? [String: Any])?["rule"] as? String == "beta-app")
            #expect(try await h.post("/admin/route/explain?api=nope", body, key: "sk-master").status == .badRequest)
            #expect(try await h.post("/admin/route/explain", body).status == .forbidden)
            // Nothing was sent.
            #expect(try await h.records().isEmpty)
        }
    }

    static let escalating = """
        auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
        providers:
          - { name: terse, kind: mock, seed: 1, completion_tokens: 3 }
          - { name: wordy, kind: mock, seed: 2, completion_tokens: 24 }
        models:
          - { name: small, deployments: [{ provider: terse, model: s, price: { input: 1, output: 1000 } }] }
          - { name: large, deployments: [{ provider: wordy, model: l, price: { input: 2, output: 2 } }] }
        router:
          models: [auto, auto-review]
          rules:
            - name: tiers
              when: { model: auto }
              route: { tiers: [small, large], escalate: { unless_match: "(\\\\w+\\\\W+){10}" } }
            - name: to-a-person
              when: { model: auto-review }
              route: { tiers: [small, review] }
        """

    @Test func anAnswerThatFailsTheOutputCheckEscalatesAndIsStillCharged() async throws {
        try await withGateway(Self.escalating) { h in
            let r = try await h.post("/v1/chat/completions", Self.chat("hello"))
            #expect(r.status == .ok && r.header("x-switchboard-model") == "large" && r.header("x-switchboard-route") == "fallback; rule=tiers; tier=2")
            let words = (((try r.json()["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String ?? "")
                .split(whereSeparator: \.isWhitespace).count
            #expect(words >= 10)
            let record = try #require(try await h.records().first)
            // Both answers were paid for: small's 3 completion tokens at $1000/M besides large's.
            #expect(record.attempts == 2 && record.usage.completionTokens == 27 && record.costUSD > 0.003, "\(record.usage) \(record.costUSD)")
            // A stream is not checked (it reaches the client as it comes): the first tier serves it.
            let stream = try await h.post("/v1/chat/completions", Self.chat("hello", extra: #","stream":true"#))
            #expect(stream.status == .ok && stream.header("x-switchboard-model") == "small")
        }
    }

    @Test func theLastTierKeepsItsAnswerAndTheReviewTierHoldsTheRequest() async throws {
        // Only one tier left to check against: its answer is the answer, whatever the check says.
        let yaml = Self.escalating.replacingOccurrences(of: "tiers: [small, large], escalate", with: "tiers: [small], escalate")
        try await withGateway(yaml) { h in
            let r = try await h.post("/v1/chat/completions", Self.chat("hello"))
            #expect(r.status == .ok && r.header("x-switchboard-model") == "small")
        }
        try await withGateway(Self.escalating + "\nreview: { wait_s: 1 }\n") { h in
            // small serves; when it cannot, the request is held for a person (nobody decides here: it times out).
            let ok = try await h.post("/v1/chat/completions", Self.chat("hello", model: "auto-review"))
            #expect(ok.status == .ok && ok.header("x-switchboard-model") == "small")
            let held = try await h.post("/v1/chat/completions", Self.chat("hi", model: "auto-review", extra: #","provider":{"only":["nowhere"]}"#))
            #expect(held.status == .requestTimeout && held.errorObject?["code"] as? String == "review_timeout")
        }
    }

    @Test func theOutputCheckReadsBothAPIsAnswers() {
        var e = Escalation()
        e.invalidJSON = true
        let check = OutputCheck(escalation: e, wantsJSON: true)
        #expect(check.rejects(ByteBuffer(string: #"{"choices":[{"message":{"content":"{\"a\":1}"}}]}"#)) == nil)
        #expect(check.rejects(ByteBuffer(string: #"{"choices":[{"message":{"content":"Sure! {\"a\":1}"}}]}"#)) != nil)
        #expect(check.rejects(ByteBuffer(string: #"{"content":[{"type":"text","text":"[1,2]"}]}"#)) == nil)
        #expect(check.rejects(ByteBuffer(string: #"{"content":[{"type":"text","text":"nope"}]}"#)) != nil)
        // JSON not asked for: nothing to check.
        #expect(OutputCheck(escalation: e, wantsJSON: false).rejects(ByteBuffer(string: #"{"choices":[{"message":{"content":"x"}}]}"#)) == nil)
    }

    @Test func anAnswerThatIsNotTheJSONAskedForEscalates() async throws {
        let yaml = Self.escalating.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard let at = line.range(of: "escalate: {") else { return String(line) }
            return line[..<at.lowerBound] + "escalate: { invalid_json: true } }"
        }.joined(separator: "\n")
        #expect(yaml.contains("invalid_json"))
        try await withGateway(yaml) { h in
            // The simulated providers answer in words, never JSON: the first tier's answer is dropped, the last tier's kept.
            let json = try await h.post("/v1/chat/completions", Self.chat("give me JSON", extra: #","response_format":{"type":"json_object"}"#))
            #expect(json.status == .ok && json.header("x-switchboard-model") == "large" && json.header("x-switchboard-route") == "fallback; rule=tiers; tier=2")
            // Without JSON asked for, the first tier's words are the answer.
            let text = try await h.post("/v1/chat/completions", Self.chat("hello"))
            #expect(text.status == .ok && text.header("x-switchboard-model") == "small")
        }
    }

    @Test func theBuiltInClassifierRoutesHardPromptsToTheStrongModel() async throws {
        let yaml = """
            auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
            providers: [ { name: sim, kind: mock, seed: 1 } ]
            models:
              - { name: weak, deployments: [ { provider: sim, model: w } ] }
              - { name: strong, deployments: [ { provider: sim, model: s } ] }
            router:
              models: [auto]
              rules:
                - { name: hard, when: { model: auto, difficulty: { quality: 0.95 } }, route: { model: strong } }
                - { name: easy, when: { model: auto }, route: { model: weak } }
            """
        try await withGateway(yaml) { h in
            let easy = try await h.post("/v1/chat/completions", Self.chat("hi, how are you?"))
            #expect(easy.header("x-switchboard-model") == "weak" && easy.header("x-switchboard-route") == "primary; rule=easy")
            let hard = try await h.post("/v1/chat/completions", Self.chat(
                "Janet has 3 boxes with 12 apples each. She gives away 40% of the apples and then buys 7 more boxes of 9 apples. How many apples does she have now? Show each step."))
            #expect(hard.header("x-switchboard-model") == "strong" && hard.header("x-switchboard-route") == "primary; rule=hard")
            // The explanation shows the score it decided on.
            let e = try await h.post("/admin/route/explain", Self.chat("hi, how are you?"), key: "sk-master")
            #expect(((try e.json()["request"] as? [String: Any])?["difficulty"] as? Double ?? 1) < 0.113)
        }
    }
}
