import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import Testing
@testable import SwitchboardServer
@testable import SwitchboardStore

/// The audit log: the storage contract (memory, SQLite; PostgreSQL in `PostgresAuditTests`), and the admin API that
/// writes and reads it.
@Suite struct AuditTests {
    static func entry(_ id: String, at: Int64, actor: String = "ops", keyID: String? = "opsid0000001", action: AuditAction = .keyCreate,
                      target: String = "aaaaaaaaaaa1", name: String? = "ci", address: String? = "10.0.0.1",
                      detail: JSONValue = .object(["fields": .object(["rpm": .int(5)])])) -> AuditEntry {
        AuditEntry(id: id, atMs: at, actor: actor, actorKeyID: keyID, action: action.rawValue, targetKind: action.targetKind, targetID: target,
                   targetName: name, address: address, detail: detail)
    }

    /// The same contract for every storage: round trip (optionals and detail), newest first by time then id, every
    /// filter, paging by cursor through entries of one millisecond, and deletion by age.
    static func storeContract(_ s: any Storage) async throws {
        let entries = [
            entry("0000000001aaaaaa", at: 1_000),
            entry("0000000002aaaaaa", at: 2_000, action: .keyUpdate, detail: .object(["changed": .object(["limits": .object(["from": .null, "to": .int(1)])])])),
            entry("0000000003aaaaaa", at: 2_000, action: .keyRotate),
            entry("0000000004aaaaaa", at: 2_000, actor: "master", keyID: nil, action: .teamCreate, target: "research", name: nil, address: nil),
            entry("0000000005aaaaaa", at: 3_000, actor: "cli", keyID: nil, action: .keyRevoke, address: nil, detail: .object([:])),
            entry("0000000006aaaaaa", at: 4_000, action: .credentialSet, target: "openai", name: nil),
            entry("0000000007aaaaaa", at: 4_000, action: .reviewApprove, target: "rev_1", name: nil),
        ]
        try await s.insertAudit(Array(entries.prefix(3)))
        try await s.insertAudit(Array(entries.dropFirst(3)))
        try await s.insertAudit([])
        let newestFirst = entries.sorted(by: AuditEntry.newerFirst)
        #expect(try await s.audit(AuditQuery(limit: 100)) == newestFirst)
        #expect(try await s.audit(AuditQuery(limit: 2)) == Array(newestFirst.prefix(2)))

        func ids(_ q: AuditQuery) async throws -> [String] { try await s.audit(q).map { String($0.id.prefix(10).suffix(1)) } }
        #expect(try await ids(AuditQuery(sinceMs: 2_000, untilMs: 4_000)) == ["5", "4", "3", "2"])
        #expect(try await ids(AuditQuery(action: "key.rotate")) == ["3"])
        #expect(try await ids(AuditQuery(action: "key.", actionPrefix: true)) == ["5", "3", "2", "1"])
        #expect(try await ids(AuditQuery(action: "key", actionPrefix: false)).isEmpty)
        #expect(try await ids(AuditQuery(action: "review.", actionPrefix: true)) == ["7"])
        #expect(try await ids(AuditQuery(actor: "master")) == ["4"])
        #expect(try await ids(AuditQuery(actor: "opsid0000001")) == ["7", "6", "3", "2", "1"])
        #expect(try await ids(AuditQuery(target: "ci")) == ["5", "3", "2", "1"])
        #expect(try await ids(AuditQuery(target: "aaaaaaaaaaa1")) == ["5", "3", "2", "1"])
        #expect(try await ids(AuditQuery(target: "research", targetKind: "team")) == ["4"])
        #expect(try await ids(AuditQuery(targetKind: "credential")) == ["6"])
        #expect(try await ids(AuditQuery(before: AuditCursor(atMs: 2_000))) == ["1"])

        // Paging two at a time: three entries share 2,000 ms, and a page ends between them.
        var seen: [AuditEntry] = []
        var cursor: AuditCursor?
        while true {
            let page = try await s.audit(AuditQuery(before: cursor, limit: 2))
            seen += page
            guard page.count == 2, let last = page.last else { break }
            cursor = AuditCursor(text: AuditCursor(atMs: last.atMs, id: last.id).text)
        }
        #expect(seen == newestFirst)

        #expect(try await s.deleteAudit(beforeMs: 2_000) == 1)
        #expect(try await s.deleteAudit(beforeMs: 2_000) == 0)
        #expect(try await s.audit(AuditQuery(limit: 100)).count == entries.count - 1)
    }

    @Test func memoryKeepsTheAuditLog() async throws {
        try await Self.storeContract(MemoryStorage())
        // Bounded: the oldest entries go first.
        let small = MemoryStorage(auditCapacity: 3)
        try await small.insertAudit((1...5).map { Self.entry(String(format: "%010dabcdef", $0), at: Int64($0)) })
        #expect(try await small.audit(AuditQuery()).map(\.atMs) == [5, 4, 3])
    }

    @Test func sqliteKeepsTheAuditLog() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let s = try await SQLiteStorage.open(path: path)
        try await s.migrate()
        try await Self.storeContract(s)
        try await s.close()
    }

    @Test func cursorsAndIDs() {
        #expect(AuditCursor(text: "1700000000123:0000000001abcdef") == AuditCursor(atMs: 1_700_000_000_123, id: "0000000001abcdef"))
        for bad in ["", "12", ":x", "12:", "x:abc", "-1:abc", "12:AB", "12:a b"] { #expect(AuditCursor(text: bad) == nil, "\(bad)") }
        // Ids of one process sort in the order they were made.
        let made = (0..<50).map { _ in AuditEntry.newID() }
        #expect(made == made.sorted() && Set(made).count == 50 && made.allSatisfy { $0.count == 16 })
    }

    @Test func changesNameOnlyTheFieldsThatDiffer() {
        let old: JSONValue = .object(["name": "ci", "limits": .object(["rpm": .int(1)]), "updated_at": "a", "metadata": .object([:])])
        let new: JSONValue = .object(["name": "ci", "limits": .object(["rpm": .int(5)]), "updated_at": "b", "metadata": .object([:]), "region": "eu"])
        #expect(Auditor.changes(from: old, to: new) == .object([
            "limits": .object(["from": .object(["rpm": .int(1)]), "to": .object(["rpm": .int(5)])]),
            "region": .object(["from": .null, "to": "eu"]),
        ]))
    }

    static let encryptionKey = Data(repeating: 7, count: 32).base64EncodedString()
    static let yaml = """
        auth:
          master_key: "sk-master"
          encryption_key: "\(encryptionKey)"
          keys: [ { name: tester, key: "\(GatewayHarness.key)" } ]
        providers:
          - { name: sim, kind: mock, seed: 1 }
          - { name: up1, kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: "sk-provider-configured-1" }
        models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
        waf: { trust_forwarded_for: true }
        """

    /// Keys, teams and a provider key changed through the admin API (and the CLI) are read back from /admin/audit:
    /// newest first, with actor, target, address and what changed; filtered, paged; never a secret; admin role only.
    @Test func adminActionsAreAuditedAndQueryable() async throws {
        try await withGateway(Self.yaml) { h in
            func call(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, key: String, from address: String = "10.1.2.3") async throws -> TestResponse {
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(key)"
                headers[HTTPField.Name("x-forwarded-for")!] = address
                if body != nil { headers[.contentType] = "application/json" }
                return try await h.client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            }
            func json(_ r: TestResponse) throws -> [String: Any] {
                #expect(r.status.code < 300, "\(r.text)")
                return try r.json()
            }
            // The master key makes a team and an admin key; the admin key does the rest.
            _ = try json(try await call(.post, "/admin/teams", #"{"name":"research","models":["demo*"]}"#, key: "sk-master"))
            let ops = try json(try await call(.post, "/admin/keys", #"{"name":"ops","roles":["admin"]}"#, key: "sk-master"))
            let opsID = try #require(ops["id"] as? String), opsKey = try #require(ops["key"] as? String)
            let ci = try json(try await call(.post, "/admin/keys", #"{"name":"ci","team":"research","limits":{"rpm":10}}"#, key: opsKey, from: "10.9.9.9"))
            let ciID = try #require(ci["id"] as? String), ciKey = try #require(ci["key"] as? String)
            _ = try json(try await call(.patch, "/admin/keys/\(ciID)", #"{"limits":{"rpm":5},"metadata":{"owner":"ana"}}"#, key: opsKey))
            let rotated = try json(try await call(.post, "/admin/keys/\(ciID)/rotate", key: opsKey))
            let ciKey2 = try #require(rotated["key"] as? String)
            _ = try json(try await call(.delete, "/admin/keys/\(ciID)", key: opsKey))
            _ = try json(try await call(.post, "/admin/keys/\(ciID)/revoke", key: opsKey))     // already revoked: nothing changes
            _ = try json(try await call(.patch, "/admin/teams/research", #"{"region":"eu"}"#, key: opsKey))
            _ = try json(try await call(.post, "/admin/teams", #"{"name":"tmp"}"#, key: opsKey))
            _ = try json(try await call(.delete, "/admin/teams/tmp", key: opsKey))
            _ = try json(try await call(.put, "/admin/credentials/up1", #"{"api_key":"sk-stored-provider-secret-9"}"#, key: opsKey))
            _ = try json(try await call(.delete, "/admin/credentials/up1", key: opsKey))
            // A failed action is not audited.
            #expect(try await call(.post, "/admin/keys", #"{"name":"x","team":"nope"}"#, key: opsKey).status == .badRequest)
            // The CLI goes through the same service.
            guard case .success(let cliKey) = await AdminCommand.createKey(.object(["name": "from-cli"])).run(storage: h.storage) else {
                Issue.record("the CLI could not create a key")
                return
            }

            let allResponse = try await call(.get, "/admin/audit", key: opsKey)
            let all = try json(allResponse)
            let rows = try #require(all["data"] as? [[String: Any]])
            #expect(rows.map { $0["action"] as? String } == [
                "key.create", "credential.delete", "credential.set", "team.delete", "team.create", "team.update", "key.revoke",
                "key.rotate", "key.update", "key.create", "key.create", "team.create",
            ])
            #expect(all["next_before"] is NSNull)
            // Who, from where, about what.
            let first = rows.last!, cli = rows.first!
            #expect(first["actor"] as? String == "master" && first["actor_key_id"] is NSNull && first["target_kind"] as? String == "team")
            #expect(first["target_id"] as? String == "research" && first["address"] as? String == "10.1.2.3")
            #expect(cli["actor"] as? String == "cli" && cli["address"] is NSNull && cli["target_name"] as? String == "from-cli")
            let create = rows[9]
            #expect(create["actor"] as? String == "ops" && create["actor_key_id"] as? String == opsID && create["address"] as? String == "10.9.9.9")
            #expect(create["target_kind"] as? String == "key" && create["target_id"] as? String == ciID && create["target_name"] as? String == "ci")
            let fields = (create["detail"] as? [String: Any])?["fields"] as? [String: Any]
            #expect(fields?["team"] as? String == "research" && (fields?["limits"] as? [String: Any])?["rpm"] as? Int == 10)
            let changed = try #require((rows[8]["detail"] as? [String: Any])?["changed"] as? [String: Any])
            #expect(Set(changed.keys) == ["limits", "metadata"])
            #expect(((changed["metadata"] as? [String: Any])?["to"] as? [String: Any])?["owner"] as? String == "ana")
            let credential = try #require(rows[2]["detail"] as? [String: Any])
            #expect(credential["provider"] as? String == "up1" && credential["kind"] as? String == "openai" && credential["replaced"] as? Bool == false)
            let at = try #require(first["at"] as? String), atMs = try #require(first["at_ms"] as? Int)
            #expect(at.hasSuffix(String(format: ".%03dZ", atMs % 1000)))

            // No secret anywhere: key texts, their secrets, hashes and salts, the provider key stored or configured.
            let keys = try await h.storage.keys()
            var secrets = [opsKey, ciKey, ciKey2, "sk-stored-provider-secret-9", "sk-provider-configured-1", "sk-master"]
            secrets += [opsKey, ciKey, ciKey2].map { String($0.suffix(KeyText.secretLength)) }
            secrets += keys.flatMap { [$0.secretHash, $0.salt] }
            if let text = cliKey.object?["key"]?.string { secrets.append(text) }
            let stored = try await h.storage.audit(AuditQuery(limit: 1000))
            let storedText = stored.map { "\($0)" }.joined()
            for secret in secrets {
                #expect(!allResponse.text.contains(secret) && !storedText.contains(secret), "a secret in the audit log")
            }

            // Filters.
            func actions(_ query: String) async throws -> [String] {
                try (json(try await call(.get, "/admin/audit?\(query)", key: opsKey))["data"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            }
            #expect(try await actions("action=key.rotate") == ["key.rotate"])
            #expect(try await actions("action=key.*") == ["key.create", "key.revoke", "key.rotate", "key.update", "key.create", "key.create"])
            #expect(try await actions("action=credential.*&actor=ops") == ["credential.delete", "credential.set"])
            #expect(try await actions("actor=master") == ["key.create", "team.create"])
            #expect(try await actions("actor=\(opsID)&action=team.*") == ["team.delete", "team.create", "team.update"])
            #expect(try await actions("target=\(ciID)") == ["key.revoke", "key.rotate", "key.update", "key.create"])
            #expect(try await actions("target=research&target_kind=team") == ["team.update", "team.create"])
            let firstMs = try #require(first["at_ms"] as? Int)
            #expect(try await actions("since=\(Double(firstMs + 86_400_000) / 1000)").isEmpty)
            #expect(try await actions("until=\(Double(firstMs) / 1000)").isEmpty)
            #expect(try await actions("since=2020-01-01T00:00:00Z&action=team.delete") == ["team.delete"])

            // Paging: five at a time, every entry once, in order.
            var paged: [String] = [], before: String?, pages = 0
            repeat {
                let page = try json(try await call(.get, "/admin/audit?limit=5" + (before.map { "&before=\($0)" } ?? ""), key: opsKey))
                paged += (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                before = page["next_before"] as? String
                pages += 1
            } while before != nil && pages < 10
            #expect(paged == rows.compactMap { $0["id"] as? String } && pages == 3)

            // Bad parameters are 400s naming them; only the admin role may read.
            for (query, param) in [("limit=0", "limit"), ("since=yesterday", "since"), ("before=nope", "before"), ("action=", "action"), ("actor=", "actor")] {
                let bad = try await call(.get, "/admin/audit?\(query)", key: opsKey)
                #expect(bad.status == .badRequest && bad.errorObject?["param"] as? String == param, "\(query): \(bad.text)")
            }
            let forbidden = try await call(.get, "/admin/audit", key: GatewayHarness.key)
            #expect(forbidden.status == .forbidden && forbidden.errorObject?["code"] as? String == "forbidden")
            #expect(try await h.get("/admin/audit", key: nil).status == .unauthorized)
            #expect(try await call(.post, "/admin/audit", "{}", key: opsKey).status == .methodNotAllowed)
        }
    }

    /// An audit write that fails does not fail the action (it has happened): it is logged at error level with the
    /// action, target and actor, and counted in `switchboard_audit_write_failures_total`.
    @Test func aFailedAuditWriteIsLoggedAndCountedAndTheActionStands() async throws {
        let capture = CapturingLogHandler()
        try await withGateway(mockYAML, storage: FailingAuditStorage(), logHandler: capture) { h in
            let made = try await h.send(.post, "/admin/teams", #"{"name":"research"}"#, key: "sk-master")
            #expect(made.status == .created)
            #expect(try await h.storage.team(name: "research") != nil)
            let metrics = try await h.get("/metrics", key: nil)
            #expect(metrics.text.contains("switchboard_audit_write_failures_total 1"), "\(metrics.text.split(separator: "\n").filter { $0.contains("audit") })")
        }
        let lines = capture.lines.withLock { $0 }.filter { $0.message.contains("Audit entry could not be written") }
        #expect(lines.count == 1)
        #expect(lines.first?.metadata["audit.action"] == "team.create" && lines.first?.metadata["audit.target"] == "team:research")
        #expect(lines.first?.metadata["audit.actor"] == "master")
    }
}

/// A memory storage whose audit writes fail.
struct FailingAuditStorage: WrappingStorage {
    struct Down: Error {}
    let base = MemoryStorage()
    var wrapped: any Storage { base }
    func migrate() async throws {}
    func ping() async throws {}
    func insert(_ records: [RequestRecord]) async throws { try await base.insert(records) }
    func requests(_ query: LogQuery) async throws -> [RequestRecord] { try await base.requests(query) }
    func request(id: String) async throws -> RequestRecord? { try await base.request(id: id) }
    func deleteRequests(before: Double) async throws -> Int { try await base.deleteRequests(before: before) }
    func insertKey(_ key: KeyRecord) async throws { try await base.insertKey(key) }
    func updateKey(_ key: KeyRecord) async throws { try await base.updateKey(key) }
    func key(id: String) async throws -> KeyRecord? { try await base.key(id: id) }
    func keys() async throws -> [KeyRecord] { try await base.keys() }
    func insertTeam(_ team: TeamRecord) async throws { try await base.insertTeam(team) }
    func updateTeam(_ team: TeamRecord) async throws { try await base.updateTeam(team) }
    func team(name: String) async throws -> TeamRecord? { try await base.team(name: name) }
    func teams() async throws -> [TeamRecord] { try await base.teams() }
    func deleteTeam(name: String) async throws -> Bool { try await base.deleteTeam(name: name) }
    func setCredential(provider: String, sealed: String, updatedAt: Double) async throws {
        try await base.setCredential(provider: provider, sealed: sealed, updatedAt: updatedAt)
    }
    func credentials() async throws -> [StoredCredential] { try await base.credentials() }
    func deleteCredential(provider: String) async throws -> Bool { try await base.deleteCredential(provider: provider) }
    func insertAudit(_ entries: [AuditEntry]) async throws { throw Down() }
    func audit(_ query: AuditQuery) async throws -> [AuditEntry] { [] }
    func deleteAudit(beforeMs: Int64) async throws -> Int { 0 }
    func insertReview(_ ticket: ReviewTicket) async throws { try await base.insertReview(ticket) }
    func review(id: String) async throws -> ReviewTicket? { try await base.review(id: id) }
    func reviews(status: ReviewTicket.Status?, limit: Int) async throws -> [ReviewTicket] { try await base.reviews(status: status, limit: limit) }
    func decideReview(id: String, from: ReviewTicket.Status, _ decision: ReviewDecision) async throws -> Bool {
        try await base.decideReview(id: id, from: from, decision)
    }
    func spend(scope: String, fromDay: Int) async throws -> SpendLedger { try await base.spend(scope: scope, fromDay: fromDay) }
    func close() async throws {}
}

/// The audit log's storage contract on PostgreSQL.
@Suite(.needsPostgres) struct PostgresAuditTests {
    @Test func postgresKeepsTheAuditLog() async throws {
        let s = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
        try await s.migrate()
        try await AuditTests.storeContract(s)
        try await s.close()
    }
}
