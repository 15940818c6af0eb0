import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTesting
import Synchronization
import Testing
@testable import SwitchboardServer

/// Managed keys and teams through the admin API, roles, rate limits and budgets — the app in process.
@Suite struct KeysAppTests {
    static let master = "sk-master"

    @Test func keyHashIsSaltedSHA256InLowerCaseHex() {
        #expect(KeyHash.hex([0x00, 0x0F, 0xAB, 0xFF]) == "000fabff")
        // SHA-256("abc"): the salt comes first, then the secret, so stored hashes keep matching.
        #expect(KeyHash.hash(secret: "bc", salt: "a") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(KeyHash.newSalt().count == 32 && KeyHash.newSalt().allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    /// Creates a key through the admin API; returns its id and text.
    static func createKey(_ h: GatewayHarness, _ body: String) async throws -> (id: String, key: String) {
        let r = try await h.send(.post, "/admin/keys", body, key: master)
        #expect(r.status == .created, "\(r.text)")
        let json = try r.json()
        return (json["id"] as! String, json["key"] as! String)
    }

    @Test func keysAreCreatedShownOnceStoredHashedUpdatedRotatedAndRevoked() async throws {
        try await withGateway(mockYAML) { h in
            let team = try await h.send(.post, "/admin/teams", #"{"name":"research","models":["demo*"]}"#, key: Self.master)
            #expect(team.status == .created)
            let (id, key) = try await Self.createKey(h, #"{"name":"ci","team":"research","metadata":{"owner":"ana"}}"#)
            #expect(key.hasPrefix("sk-sb-\(id)_"))
            // Stored as a salted hash: the text is nowhere in storage or in later answers.
            let stored = try #require(try await h.storage.key(id: id))
            #expect(stored.secretHash.count == 64 && stored.salt.count == 32 && !stored.secretHash.contains(key.suffix(40)))
            let shown = try await h.get("/admin/keys/\(id)", key: Self.master)
            let shownJSON = try shown.json()
            #expect(shown.status == .ok && !shown.text.contains(key.suffix(40)) && shownJSON["key"] == nil)
            #expect(shownJSON["team"] as? String == "research" && (shownJSON["spend"] as? [String: Any])?["month_usd"] as? Double == 0)
            let listed = try await h.get("/admin/keys", key: Self.master)
            let listedIDs = (try listed.json()["data"] as? [[String: Any]])?.map { $0["id"] as? String }
            #expect(listedIDs == [id])

            // The key works, within its team's model list.
            #expect(try await h.post("/v1/chat/completions", chatBody, key: key).status == .ok)
            let models = try await h.get("/v1/models", key: key)
            #expect(!models.text.contains(#""id":"other""#) || models.text.contains("demo"))

            // Update: a new name and a limit; unknown fields and teams are 400s naming the field.
            let patched = try await h.send(.patch, "/admin/keys/\(id)", #"{"name":"ci-2","limits":{"rpm":5}}"#, key: Self.master)
            let patchedName = try patched.json()["name"] as? String
            #expect(patched.status == .ok && patchedName == "ci-2")
            let bad = try await h.send(.patch, "/admin/keys/\(id)", #"{"team":"nope","limitz":1}"#, key: Self.master)
            #expect(bad.status == .badRequest && (bad.errorObject?["message"] as? String)?.contains("limitz") == true)
            let noTeam = try await h.send(.patch, "/admin/keys/\(id)", #"{"team":"nope"}"#, key: Self.master)
            #expect(noTeam.status == .badRequest && noTeam.errorObject?["param"] as? String == "team")

            // Rotate: a new text, the old one stops at once.
            let rotated = try await h.send(.post, "/admin/keys/\(id)/rotate", key: Self.master)
            let newKey = try #require(try rotated.json()["key"] as? String)
            #expect(newKey != key && newKey.hasPrefix("sk-sb-\(id)_"))
            #expect(try await h.post("/v1/chat/completions", chatBody, key: key).status == .unauthorized)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: newKey).status == .ok)

            // A team with active keys cannot be deleted; revoke, then it can.
            #expect(try await h.send(.delete, "/admin/teams/research", key: Self.master).status == .conflict)
            let revoked = try await h.send(.delete, "/admin/keys/\(id)", key: Self.master)
            let revokedStatus = try revoked.json()["status"] as? String
            #expect(revokedStatus == "revoked")
            let refused = try await h.post("/v1/chat/completions", chatBody, key: newKey)
            #expect(refused.status == .unauthorized && (refused.errorObject?["message"] as? String)?.contains("revoked") == true)
            #expect(try await h.send(.delete, "/admin/teams/research", key: Self.master).status == .ok)
            #expect(try await h.get("/admin/keys/\(id)", key: Self.master).status == .ok)
            #expect(try await h.get("/admin/keys/zzzzzzzzzzzz", key: Self.master).status == .notFound)
            #expect(try await h.send(.put, "/admin/keys/\(id)", "{}", key: Self.master).status == .methodNotAllowed)

            // Records carry the key's id and team, never the key.
            let records = try await h.records()
            #expect(records.contains { $0.keyID == id && $0.team == "research" && $0.keyName == "ci" })
        }
    }

    @Test func expiredKeysAreRefused() async throws {
        let wall = WallClock()
        try await withGateway(mockYAML, wall: wall) { h in
            let (_, key) = try await Self.createKey(h, #"{"name":"short","duration":"1h"}"#)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: key).status == .ok)
            wall.advance(3601)
            let r = try await h.post("/v1/chat/completions", chatBody, key: key)
            #expect(r.status == .unauthorized && (r.errorObject?["message"] as? String)?.contains("expired") == true)
            let past = try await h.send(.post, "/admin/keys", #"{"name":"old","expires_at":"2020-01-01T00:00:00Z"}"#, key: Self.master)
            #expect(past.status == .badRequest)
        }
    }

    /// Each role reaches exactly what it should; every other admin or model call is a 403 (401 without a key).
    @Test func roleMatrix() async throws {
        try await withGateway(mockYAML) { h in
            let admin = try await Self.createKey(h, #"{"name":"adm","roles":["admin"]}"#).key
            let user = try await Self.createKey(h, #"{"name":"usr","roles":["user"]}"#).key
            let reviewer = try await Self.createKey(h, #"{"name":"rev","roles":["reviewer"]}"#).key
            let callers: [(String, String?)] = [("master", Self.master), ("admin", admin), ("user", user), ("reviewer", reviewer),
                                                ("static", GatewayHarness.key), ("none", nil)]
            let calls: [(String, HTTPRequest.Method, String, String?)] = [
                ("chat", .post, "/v1/chat/completions", chatBody), ("models", .get, "/v1/models", nil),
                ("list keys", .get, "/admin/keys", nil), ("create key", .post, "/admin/keys", #"{"name":"x"}"#),
                ("teams", .get, "/admin/teams", nil), ("health", .get, "/admin/health", nil),
            ]
            let allowed: [String: Set<String>] = [
                "master": ["chat", "models", "list keys", "create key", "teams", "health"],
                "admin": ["chat", "models", "list keys", "create key", "teams", "health"],
                "user": ["chat", "models"], "static": ["chat", "models"], "reviewer": [], "none": [],
            ]
            var n = 0
            for (who, key) in callers {
                for (name, method, path, body) in calls {
                    n += 1
                    let b = name == "create key" ? #"{"name":"x\#(n)"}"# : body
                    let r = try await h.send(method, path, b, key: key)
                    let expected: HTTPResponse.Status = allowed[who]!.contains(name) ? (name == "create key" ? .created : .ok) : key == nil ? .unauthorized : .forbidden
                    #expect(r.status == expected, "\(who) \(name): \(r.status) \(r.text)")
                }
            }
        }
    }

    @Test func rateLimitedRequestsGet429WithHeadersAndNeverReachUpstream() async throws {
        let wall = WallClock()
        try await withGateway(mockYAML, wall: wall) { h in
            let (_, key) = try await Self.createKey(h, #"{"name":"lim","limits":{"rpm":3,"tpm":100000}}"#)
            for i in 0..<3 {
                let ok = try await h.post("/v1/chat/completions", chatBody, key: key)
                #expect(ok.status == .ok)
                #expect(ok.header("x-ratelimit-limit-requests") == "3" && ok.header("x-ratelimit-remaining-requests") == String(2 - i))
                #expect(ok.header("x-ratelimit-limit-tokens") == "100000")
            }
            let limited = try await h.post("/v1/chat/completions", chatBody, key: key)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorObject?["code"] as? String == "rate_limit_exceeded")
            #expect(Int(limited.header("retry-after") ?? "") ?? 0 >= 1 && limited.header("x-ratelimit-remaining-requests") == "0")
            let records = try await h.records()
            #expect(records.filter { $0.status == 429 }.allSatisfy { $0.provider == nil && $0.attempts == 0 })
            // Anthropic's shape on /v1/messages.
            let messages = try await h.post("/v1/messages", #"{"model":"demo","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#, key: key)
            #expect(messages.status == .tooManyRequests && messages.text.contains(#""type":"rate_limit_error""#))
            wall.advance(61)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: key).status == .ok)
        }
    }

    /// `max_tokens` feeds token estimates and reservations: out-of-range values are a 400, never an overflow or a
    /// negative charge.
    @Test func outOfRangeMaxTokensIsRefusedBeforeAdmission() async throws {
        try await withGateway(mockYAML) { h in
            let (_, key) = try await Self.createKey(h, #"{"name":"tok","limits":{"tpm":1000,"budgets":[{"period":"day","usd":5}]}}"#)
            for value in ["9223372036854775807", "-100000000", "0", "1.5", "\"many\""] {
                let r = try await h.post("/v1/chat/completions", #"{"model":"demo","max_tokens":\#(value),"messages":[{"role":"user","content":"x"}]}"#, key: key)
                #expect(r.status == .badRequest && r.errorObject?["param"] as? String == "max_tokens", "\(value): \(r.status)")
            }
            let anthropic = try await h.post("/v1/messages", #"{"model":"demo","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"x"}]}"#, key: key)
            #expect(anthropic.status == .badRequest)
            #expect(try await h.post("/v1/chat/completions", #"{"model":"demo","max_tokens":16,"messages":[{"role":"user","content":"x"}]}"#, key: key).status == .ok)
        }
    }

    @Test func teamLimitsAndPerModelLimitsApplyToEveryKeyOfTheTeam() async throws {
        try await withGateway(mockYAML) { h in
            _ = try await h.send(.post, "/admin/teams", #"{"name":"t","limits":{"rpm":3}}"#, key: Self.master)
            let a = try await Self.createKey(h, #"{"name":"a","team":"t","limits":{"models":{"demo":{"rpm":1}}}}"#).key
            let b = try await Self.createKey(h, #"{"name":"b","team":"t"}"#).key
            #expect(try await h.post("/v1/chat/completions", chatBody, key: a).status == .ok)
            let second = try await h.post("/v1/chat/completions", chatBody, key: a)
            #expect(second.status == .tooManyRequests && (second.errorObject?["message"] as? String)?.contains("on model 'demo'") == true)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: b).status == .ok)
            #expect(try await h.post("/v1/chat/completions", chatBody, key: b).status == .ok)
            let teamFull = try await h.post("/v1/chat/completions", chatBody, key: b)
            #expect(teamFull.status == .tooManyRequests && (teamFull.errorObject?["message"] as? String)?.contains("team 't'") == true)
        }
    }

    @Test func budgetsRefuseOnceSpentAndCountFromStoredSpend() async throws {
        let wall = WallClock()
        let storage = MemoryStorage()
        // sim-a costs 0.1 USD per prompt token: one request costs well over 0.5 USD.
        try await withGateway(mockYAML, wall: wall, storage: storage) { h in
            let (id, key) = try await Self.createKey(h, #"{"name":"b","limits":{"budgets":[{"period":"day","usd":0.5}]}}"#)
            let body = #"{"model":"demo","max_tokens":4,"messages":[{"role":"user","content":"Hello"}]}"#
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<4 { statuses.append(try await h.post("/v1/chat/completions", body, key: key).status) }
            // Once sim-a (dear) has answered, the budget is spent and everything after is refused.
            #expect(statuses.first == .ok && statuses.last == .tooManyRequests && statuses.filter { $0 == .ok }.count <= 2)
            let refused = try await h.post("/v1/chat/completions", body, key: key)
            #expect(refused.errorObject?["code"] as? String == "budget_exceeded" && refused.header("retry-after") == String(12 * 3600))
            _ = try await h.records()
            let spent = try await storage.spend(scope: "key:" + id, fromDay: 0).spent(.total, today: 0)
            #expect(spent > 0.5)
            // The next day the day budget is fresh.
            wall.advance(12 * 3600 + 1)
            #expect(try await h.post("/v1/chat/completions", body, key: key).status == .ok)
        }
    }
}

/// The gateway saturated: requests queue by priority class, batch is shed first, critical is never starved. The
/// upstream holds every answer until the test has set the scene, so the order does not depend on timing.
@Suite struct SaturationTests {
    /// Saturated either as a whole (`server.max_in_flight`) or at the model's deployments (`max_concurrent`).
    static func yaml(_ base: String, deploymentCap: Bool) -> String {
        """
        server: { \(deploymentCap ? "" : "max_in_flight: 1, ")queue_depth: 3, queue_timeout_s: 30 }
        auth: { master_key: "sk-master" }
        providers: [ { name: up, kind: openai, base_url: "\(base)" } ]
        models: [ { name: demo, deployments: [ { provider: up, model: s\(deploymentCap ? ", max_concurrent: 1" : "") } ] } ]
        """
    }

    @Test(arguments: [false, true])
    func criticalIsServedFirstAndBatchIsShedFirst(deploymentCap: Bool) async throws {
        let release = Gate()
        try await FakeUpstream.run({ _ in
            await release.wait()
            return jsonReply(Wire.chatCompletion(content: "ok"))
        }) { fake in
            try await withGateway(Self.yaml(fake.baseURL, deploymentCap: deploymentCap), mode: .live) { h in
                let batch = try await KeysAppTests.createKey(h, #"{"name":"batch","priority":"batch"}"#).key
                let critical = try await KeysAppTests.createKey(h, #"{"name":"critical","priority":"critical"}"#).key
                let gate = try #require(deploymentCap ? h.services.modelGate("demo") : h.services.gatewayGate)
                #expect((deploymentCap ? h.services.gatewayGate : h.services.modelGate("demo")) == nil)
                let finished = Finished(), shedCount = Counter(), shedMessages = Finished()
                // Its own client: requests in parallel, each on its own connection.
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                defer { _ = client.shutdown() }
                let port = h.client.port!
                let send: @Sendable (String, String) async throws -> (String, HTTPResponse.Status, String?) = { key, label in
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "authorization", value: "Bearer \(key)")
                    request.headers.add(name: "x-request-id", value: label)
                    request.body = .bytes(ByteBuffer(string: chatBody))
                    let r = try await client.execute(request, timeout: .seconds(30))
                    if r.status == .ok { finished.add(label) }
                    if r.status.code == 503 { _ = shedCount.next() }
                    let body = try await r.body.collect(upTo: 1 << 20)
                    if r.status.code == 503 { shedMessages.add(String(buffer: body)) }
                    return (label, HTTPResponse.Status(code: Int(r.status.code)), r.headers.first(name: "retry-after"))
                }
                func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
                    let deadline = ContinuousClock.now + .seconds(20)
                    while !condition() {
                        guard ContinuousClock.now < deadline else { throw StorageError.corrupt("\(what) never happened: \(gate.snapshot)") }
                        await Task.yield()
                    }
                }
                let results = try await withThrowingTaskGroup(of: (String, HTTPResponse.Status, String?).self) { group in
                    // Four batch requests: one takes the place (held by the upstream), three fill the queue.
                    for i in 0..<4 { group.addTask { try await send(batch, "b\(i)") } }
                    try await waitUntil("three batch requests queued") { gate.snapshot.queued == 3 && gate.snapshot.inFlight == 1 }
                    // Two critical ones push the two newest batch waiters out (503 at once)...
                    for i in 0..<2 { group.addTask { try await send(critical, "c\(i)") } }
                    try await waitUntil("two batch requests shed") { shedCount.peek == 2 && gate.snapshot.queued == 3 }
                    // ...and, once the upstream answers, run before the oldest batch waiter.
                    release.open()
                    var out: [(String, HTTPResponse.Status, String?)] = []
                    for try await r in group { out.append(r) }
                    return out
                }
                let ok = results.filter { $0.1 == .ok }.map(\.0), shed = results.filter { $0.1 == .serviceUnavailable }
                #expect(ok.filter { $0.hasPrefix("c") }.count == 2, "\(results)")
                #expect(ok.filter { $0.hasPrefix("b") }.count == 2 && shed.count == 2 && shed.allSatisfy { $0.0.hasPrefix("b") && $0.2 == "1" })
                // One at a time: the batch request in flight, then both critical ones, then the oldest batch waiter —
                // in the order they reached the upstream (the order their answers reach this client is a race: a
                // place is given back when a request's record is made, just before its answer is written).
                let order = fake.requests.compactMap { $0.headers[HTTPField.Name("x-request-id")!]?.first }
                #expect(order == ["b", "c", "c", "b"], "\(fake.requests.map { $0.headers[HTTPField.Name("x-request-id")!] ?? "" })")
                #expect(finished.labels.count == 4)
                let records = try await h.records()
                #expect(records.filter { $0.errorCode == "overloaded" }.count == 2)
                // Pushed out by a higher class, not timed out.
                #expect(shedMessages.labels.count == 2 && shedMessages.labels.allSatisfy { $0.contains("the queue is full") }, "\(shedMessages.labels)")
            }
        }
    }

    /// A queued request that finds no place within `queue_timeout_s` is shed; the wait is on the engine's clock.
    @Test func aQueuedRequestIsShedWhenItsWaitRunsOut() async throws {
        let release = Gate()
        try await FakeUpstream.run({ _ in
            await release.wait()
            return jsonReply(Wire.chatCompletion(content: "ok"))
        }) { fake in
            let clock = ManualClock()
            try await withGateway(Self.yaml(fake.baseURL, deploymentCap: false), mode: .live, clock: clock) { h in
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                defer { _ = client.shutdown() }
                let port = h.client.port!
                let send: @Sendable () async throws -> (HTTPResponse.Status, String) = {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "authorization", value: "Bearer sk-master")
                    request.body = .bytes(ByteBuffer(string: chatBody))
                    let r = try await client.execute(request, timeout: .seconds(30))
                    return (HTTPResponse.Status(code: Int(r.status.code)), String(buffer: try await r.body.collect(upTo: 1 << 20)))
                }
                let first = Task { try await send() }
                while fake.requests.isEmpty { await Task.yield() }          // the first holds the only place
                let second = Task { try await send() }
                await clock.sleepers(atLeast: 1)                             // the second waits in the queue, on the clock
                #expect(clock.sleepsAsked == [30_000])
                clock.advance(29_999)
                #expect(clock.sleeping == 1)
                clock.advance(1)
                let (status, body) = try await second.value
                #expect(status == .serviceUnavailable && body.contains("no place within 30 s"))
                release.open()
                #expect(try await first.value.0 == .ok)
                #expect(fake.requests.count == 1)
            }
        }
    }
}

final class Finished: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ label: String) { list.withLock { $0.append(label) } }
    var labels: [String] { list.withLock { $0 } }
}
