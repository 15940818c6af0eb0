import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTesting
import Testing
@testable import SwitchboardServer

/// Coming from another gateway: managed keys whose text the operator supplies, and the configuration's keys under
/// the same limits as managed ones.
@Suite struct ImportedKeysTests {
    static let master = "sk-master"
    static let litellmKey = "sk-litellm-3fA9xQ2mZ7pLw0vB"

    @Test func aSuppliedKeyAuthenticatesIsStoredHashedAndNeverEchoed() async throws {
        try await withGateway(mockYAML) { h in
            let r = try await h.send(.post, "/admin/keys", #"{"name":"from-litellm","key":"\#(Self.litellmKey)","limits":{"rpm":10}}"#, key: Self.master)
            #expect(r.status == .created, "\(r.text)")
            let json = try r.json()
            let id = try #require(json["id"] as? String)
            // Not echoed: the caller has it.
            #expect(json["key"] == nil && !r.text.contains(Self.litellmKey) && json["key_hint"] as? String == "(supplied)")
            #expect(json["supplied"] as? Bool == true && KeyText.isValidID(id))
            let stored = try #require(try await h.storage.key(id: id))
            #expect(stored.secretHash.count == 64 && !stored.secretHash.contains(Self.litellmKey) && !stored.salt.contains(Self.litellmKey))
            // It works, with its limits, and so does a header of Anthropic's shape.
            let chat = try await h.post("/v1/chat/completions", chatBody, key: Self.litellmKey)
            #expect(chat.status == .ok && chat.header("x-ratelimit-limit-requests") == "10")
            #expect(try await h.post("/v1/chat/completions", chatBody, key: Self.litellmKey + "x").status == .unauthorized)
            #expect(try await h.records().contains { $0.keyID == id && $0.keyName == "from-litellm" })
            // Listed and shown without its text; audited as a creation, the text nowhere in the entry.
            let listed = try await h.get("/admin/keys", key: Self.master)
            #expect(listed.text.contains(id) && !listed.text.contains(Self.litellmKey))
            let audit = try await h.get("/admin/audit", key: Self.master)
            #expect(audit.text.contains("key.create") && audit.text.contains(id) && !audit.text.contains(Self.litellmKey), "\(audit.text)")
            // Revoked, it stops at once; rotated before that, it would become an ordinary `sk-sb-` key.
            #expect(try await h.send(.post, "/admin/keys/\(id)/revoke", key: Self.master).status == .ok)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: Self.litellmKey).status == .unauthorized)
        }
    }

    @Test func rotatingASuppliedKeyGivesAnOrdinaryOne() async throws {
        try await withGateway(mockYAML) { h in
            let created = try await h.send(.post, "/admin/keys", #"{"name":"x","key":"\#(Self.litellmKey)"}"#, key: Self.master)
            let id = try #require(try created.json()["id"] as? String)
            let rotated = try await h.send(.post, "/admin/keys/\(id)/rotate", key: Self.master)
            let text = try #require(try rotated.json()["key"] as? String)
            let rotatedJSON = try rotated.json()
            #expect(text.hasPrefix("sk-sb-\(id)_") && rotatedJSON["supplied"] == nil)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: text).status == .ok)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: Self.litellmKey).status == .unauthorized)
        }
    }

    @Test func duplicatesAreConflictsAndBadTextsAre400sNamingKey() async throws {
        try await withGateway(mockYAML) { h in
            #expect(try await h.send(.post, "/admin/keys", #"{"name":"a","key":"\#(Self.litellmKey)"}"#, key: Self.master).status == .created)
            // The same text again, under another name: the hash exists.
            let again = try await h.send(.post, "/admin/keys", #"{"name":"b","key":"\#(Self.litellmKey)"}"#, key: Self.master)
            #expect(again.status == .conflict && again.errorObject?["param"] as? String == "key" && again.errorObject?["code"] as? String == "conflict")
            #expect(!again.text.contains(Self.litellmKey))
            // A configuration key or the master key (long enough to pass the length rule).
            try await withGateway(Self.staticYAML) { s in
                for text in ["sk-static-rpm-0123456789", "sk-master-0123456789abc"] {
                    let r = try await s.send(.post, "/admin/keys", #"{"name":"c","key":"\#(text)"}"#, key: "sk-master-0123456789abc")
                    #expect(r.status == .conflict && r.errorObject?["param"] as? String == "key" && !r.text.contains(text), "\(text)")
                }
            }
            // A managed key's own text (sk-sb-…) is taken too.
            let managed = try await KeysAppTests.createKey(h, #"{"name":"m"}"#)
            let dup = try await h.send(.post, "/admin/keys", #"{"name":"d","key":"\#(managed.key)"}"#, key: Self.master)
            #expect(dup.status == .conflict && !dup.text.contains(managed.key))
            for body in [#"{"name":"e","key":"sk-short"}"#, #"{"name":"e","key":"sk-has a space in it 123"}"#, #"{"name":"e","key":42}"#,
                         #"{"name":"e","key":"\#(String(repeating: "k", count: 257))"}"#, #"{"name":"e","key":"sk-tab\there-0123456789"}"#] {
                let r = try await h.send(.post, "/admin/keys", body, key: Self.master)
                #expect(r.status == .badRequest && r.errorObject?["param"] as? String == "key", "\(body): \(r.text)")
            }
            // The other fields are still checked, each naming itself.
            let bad = try await h.send(.post, "/admin/keys", #"{"name":"f","key":"\#(Self.litellmKey)-2","limits":{"rpm":0}}"#, key: Self.master)
            #expect(bad.status == .badRequest && bad.errorObject?["param"] as? String == "limits.rpm")
            #expect(try await h.send(.post, "/admin/keys", #"{"key":"\#(Self.litellmKey)-3"}"#, key: Self.master).errorObject?["param"] as? String == "name")
            // Only a creation takes a key.
            let patch = try await h.send(.patch, "/admin/keys/\(managed.id)", #"{"key":"\#(Self.litellmKey)-4"}"#, key: Self.master)
            #expect(patch.status == .badRequest)
        }
    }

    @Test func aKeyFromAnotherSwitchboardKeepsItsID() async throws {
        let text = KeyText.make(id: "abcdefghij12", secret: String(repeating: "Z", count: KeyText.secretLength))
        try await withGateway(mockYAML) { h in
            let r = try await h.send(.post, "/admin/keys", #"{"name":"moved","key":"\#(text)"}"#, key: Self.master)
            let json = try r.json()
            #expect(r.status == .created && json["id"] as? String == "abcdefghij12" && json["key_hint"] as? String == "sk-sb-abcdefghij12_…")
            #expect(try await h.post("/v1/chat/completions", chatBody, key: text).status == .ok)
        }
    }

    static let staticYAML = """
        auth:
          master_key: "sk-master-0123456789abc"
          keys:
            - { name: rpm2, key: "sk-static-rpm-0123456789", limits: { rpm: 2 } }
            - { name: one-at-a-time, key: "sk-static-conc", limits: { max_concurrent: 1 } }
            - { name: budget, key: "sk-static-budget", limits: { budgets: [ { period: day, usd: 0.5 } ] } }
            - { name: lifetime, key: "sk-static-lifetime", limits: { budgets: [ { period: total, usd: 0.5 } ] } }
            - { name: per-model, key: "sk-static-model", limits: { models: { demo: { rpm: 1 } } } }
            - { name: free, key: "sk-static-free" }
        providers:
          - { name: sim-a, kind: mock, seed: 1 }
        models:
          - name: demo
            deployments: [ { provider: sim-a, model: a-1, price: { input: 100000, output: 200000 } } ]
          - name: other
            deployments: [ { provider: sim-a, model: a-2 } ]
        """

    @Test func aStaticKeyWithRPM2GetsA429OnTheThirdRequestInAMinute() async throws {
        let wall = WallClock()
        try await withGateway(Self.staticYAML, wall: wall) { h in
            for i in 0..<2 {
                let ok = try await h.post("/v1/chat/completions", chatBody, key: "sk-static-rpm-0123456789")
                #expect(ok.status == .ok && ok.header("x-ratelimit-remaining-requests") == String(1 - i))
            }
            let limited = try await h.post("/v1/chat/completions", chatBody, key: "sk-static-rpm-0123456789")
            #expect(limited.status == .tooManyRequests && limited.errorObject?["code"] as? String == "rate_limit_exceeded")
            #expect((limited.errorObject?["message"] as? String)?.contains("key 'rpm2'") == true && limited.header("retry-after") != nil)
            // Another static key is not touched; per-model limits apply as a managed key's do.
            for _ in 0..<3 { #expect(try await h.post("/v1/chat/completions", chatBody, key: "sk-static-free").status == .ok) }
            #expect(try await h.post("/v1/chat/completions", chatBody, key: "sk-static-model").status == .ok)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: "sk-static-model").status == .tooManyRequests)
            #expect(try await h.post("/v1/chat/completions", #"{"model":"other","messages":[{"role":"user","content":"x"}]}"#, key: "sk-static-model").status == .ok)
            wall.advance(61)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: "sk-static-rpm-0123456789").status == .ok)
        }
    }

    @Test func aStaticKeysBudgetRefusesOnceSpentAndIsKeptInStorage() async throws {
        let wall = WallClock()
        let storage = MemoryStorage()
        try await withGateway(Self.staticYAML, wall: wall, storage: storage) { h in
            let body = #"{"model":"demo","max_tokens":4,"messages":[{"role":"user","content":"Hello"}]}"#
            #expect(try await h.post("/v1/chat/completions", body, key: "sk-static-budget").status == .ok)
            let refused = try await h.post("/v1/chat/completions", body, key: "sk-static-budget")
            #expect(refused.status == .tooManyRequests && refused.errorObject?["code"] as? String == "budget_exceeded")
            _ = try await h.records()
            // Spent under the key's stable scope, so a restart (or another replica) counts it.
            #expect(try await storage.spend(scope: "static:budget", fromDay: 0).spent(.total, today: 0) > 0.5)
            wall.advance(12 * 3600 + 1)
            #expect(try await h.post("/v1/chat/completions", body, key: "sk-static-budget").status == .ok)
            #expect(try await h.post("/v1/chat/completions", body, key: "sk-static-lifetime").status == .ok)
            _ = try await h.records()
        }
        // A new gateway on the same storage reads the spend back: the total budget is still spent. (Records are
        // dated by the real clock, budget periods by the test's: a total budget is the one both agree on.)
        try await withGateway(Self.staticYAML, wall: wall, storage: storage) { h in
            let body = #"{"model":"demo","max_tokens":4,"messages":[{"role":"user","content":"Hello"}]}"#
            let again = try await h.post("/v1/chat/completions", body, key: "sk-static-lifetime")
            #expect(again.status == .tooManyRequests && again.errorObject?["code"] as? String == "budget_exceeded")
        }
    }

    @Test func aStaticKeysMaxConcurrentHoldsWhileARequestIsInFlight() async throws {
        let release = Gate()
        try await FakeUpstream.run({ _ in
            await release.wait()
            return jsonReply(Wire.chatCompletion(content: "ok"))
        }) { fake in
            let yaml = """
                auth: { master_key: "sk-master", keys: [ { name: one, key: "sk-static-conc", limits: { max_concurrent: 1 } } ] }
                providers: [ { name: up, kind: openai, base_url: "\(fake.baseURL)" } ]
                models: [ { name: demo, deployments: [ { provider: up, model: s } ] } ]
                """
            try await withGateway(yaml) { h in
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    group.addTask { try await h.post("/v1/chat/completions", chatBody, key: "sk-static-conc").status }
                    let deadline = ContinuousClock.now + .seconds(20)
                    while fake.requests.isEmpty {
                        guard ContinuousClock.now < deadline else { Issue.record("the first request never reached the upstream"); break }
                        await Task.yield()
                    }
                    let second = try await h.post("/v1/chat/completions", chatBody, key: "sk-static-conc")
                    #expect(second.status == .tooManyRequests && (second.errorObject?["message"] as? String)?.contains("concurrent") == true)
                    release.open()
                    for try await status in group { #expect(status == .ok) }
                }
                #expect(try await h.post("/v1/chat/completions", chatBody, key: "sk-static-conc").status == .ok)
            }
        }
    }

    @Test func staticKeyLimitsAreCheckedWithKeyPaths() throws {
        let yaml = """
            auth:
              keys:
                - { name: a, key: "sk-a", limits: { rpm: 0, budgets: [ { period: fortnight, usd: 5 } ], burst: 3 } }
                - { name: b, key: "sk-b", limits: { models: { demo: { tpm: -1 } } } }
            providers: [ { name: sim, kind: mock } ]
            models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
            """
        var problems: [String] = []
        do { _ = try ConfigLoader.load(yaml: yaml, environment: [:]) } catch { problems = error.problems.map(\.path) }
        #expect(problems.contains("auth.keys[0].limits.rpm"), "\(problems)")
        #expect(problems.contains("auth.keys[0].limits.budgets[0].period"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("auth.keys[0].limits") && $0.contains("burst") } || problems.contains("auth.keys[0].limits"), "\(problems)")
        #expect(problems.contains("auth.keys[1].limits.models.demo.tpm"), "\(problems)")
        let ok = try ConfigLoader.load(yaml: Self.staticYAML, environment: [:])
        #expect(ok.auth.keys.first?.limits.rates.rpm == 2 && ok.auth.keys[2].limits.budgets.first?.limitUSD == 0.5)
    }
}
