import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardStore
import SwitchboardTesting
import Synchronization
import Testing

/// A storage that counts the batches it is given, and can hold writes until a gate opens.
final class CountingStorage: Sendable {
    let base = MemoryStorage(capacity: 100_000)
    let batches = Mutex<[Int]>([])
    let hold: Gate?
    /// Yields once each time a write starts.
    let entered: AsyncStream<Void>
    private let enteredContinuation: AsyncStream<Void>.Continuation

    init(hold: Gate? = nil) {
        self.hold = hold
        (entered, enteredContinuation) = AsyncStream.makeStream()
    }

    func insert(_ records: [RequestRecord]) async throws {
        enteredContinuation.yield()
        if let hold { await hold.wait() }
        batches.withLock { $0.append(records.count) }
        try await base.insert(records)
    }
}

/// `Storage` over a `CountingStorage` (only the request log is used here).
struct CountingStorageAdapter: WrappingStorage {
    let inner: CountingStorage
    var wrapped: any Storage { inner.base }
    func migrate() async throws {}
    func ping() async throws {}
    func insert(_ records: [RequestRecord]) async throws { try await inner.insert(records) }
    func requests(_ query: LogQuery) async throws -> [RequestRecord] { try await inner.base.requests(query) }
    func request(id: String) async throws -> RequestRecord? { try await inner.base.request(id: id) }
    func deleteRequests(before: Double) async throws -> Int { try await inner.base.deleteRequests(before: before) }
    func insertKey(_ key: KeyRecord) async throws { try await inner.base.insertKey(key) }
    func updateKey(_ key: KeyRecord) async throws { try await inner.base.updateKey(key) }
    func key(id: String) async throws -> KeyRecord? { try await inner.base.key(id: id) }
    func keys() async throws -> [KeyRecord] { try await inner.base.keys() }
    func insertTeam(_ team: TeamRecord) async throws { try await inner.base.insertTeam(team) }
    func updateTeam(_ team: TeamRecord) async throws { try await inner.base.updateTeam(team) }
    func team(name: String) async throws -> TeamRecord? { try await inner.base.team(name: name) }
    func teams() async throws -> [TeamRecord] { try await inner.base.teams() }
    func deleteTeam(name: String) async throws -> Bool { try await inner.base.deleteTeam(name: name) }
    func setCredential(provider: String, sealed: String, updatedAt: Double) async throws {
        try await inner.base.setCredential(provider: provider, sealed: sealed, updatedAt: updatedAt)
    }
    func credentials() async throws -> [StoredCredential] { try await inner.base.credentials() }
    func deleteCredential(provider: String) async throws -> Bool { try await inner.base.deleteCredential(provider: provider) }
    func spend(scope: String, fromDay: Int) async throws -> SpendLedger { try await inner.base.spend(scope: scope, fromDay: fromDay) }
    func insertAudit(_ entries: [AuditEntry]) async throws { try await inner.base.insertAudit(entries) }
    func audit(_ query: AuditQuery) async throws -> [AuditEntry] { try await inner.base.audit(query) }
    func deleteAudit(beforeMs: Int64) async throws -> Int { try await inner.base.deleteAudit(beforeMs: beforeMs) }
    func insertReview(_ ticket: ReviewTicket) async throws { try await inner.base.insertReview(ticket) }
    func review(id: String) async throws -> ReviewTicket? { try await inner.base.review(id: id) }
    func reviews(status: ReviewTicket.Status?, limit: Int) async throws -> [ReviewTicket] { try await inner.base.reviews(status: status, limit: limit) }
    func decideReview(id: String, from: ReviewTicket.Status, _ decision: ReviewDecision) async throws -> Bool {
        try await inner.base.decideReview(id: id, from: from, decision)
    }
    func close() async throws {}
}

func record(_ i: Int, request: String? = nil, response: String? = nil) -> RequestRecord {
    var r = RequestRecord(id: "r\(i)", startedAt: 1_800_000_000 + Double(i) / 1000, keyName: "k", endpoint: "chat.completions",
                          model: "demo", status: 200)
    r.requestBody = request
    r.responseBody = response
    return r
}

@Suite struct RequestLogTests {
    static let logger = Logger(label: "test")

    /// 8 tasks record 5,000 records while the writer runs: every one is written, in batches no larger than the
    /// batch size, and none is dropped.
    @Test func nothingIsLostWhenTheQueueIsNotFull() async throws {
        let storage = CountingStorage()
        let log = RequestLogService(storage: CountingStorageAdapter(inner: storage), capacity: 10_000, batchSize: 500, logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [log], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await withTaskGroup(of: Void.self) { writers in
                for w in 0..<8 {
                    writers.addTask { for i in 0..<625 { log.record(record(w * 625 + i)) } }
                }
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let counts = log.counts
        #expect(counts.written == 5000)
        #expect(counts.dropped == 0)
        #expect(counts.pending == 0)
        let batches = storage.batches.withLock { $0 }
        #expect(batches.reduce(0, +) == 5000)
        #expect(batches.allSatisfy { $0 <= 500 })
        let stored = try await storage.base.recentRequests(limit: 10_000)
        #expect(Set(stored.map(\.id)).count == 5000)
    }

    /// Only a record that finds the buffer empty wakes the writer (a wake is a hop to another thread, on the core
    /// that serves requests): 100 records in a row wake it once; once it has taken them, the next one wakes it again.
    /// And a writer that runs still writes every record.
    @Test func recordsWakeTheWriterOncePerBatch() async throws {
        let storage = CountingStorage()
        let log = RequestLogService(storage: CountingStorageAdapter(inner: storage), capacity: 1_000, batchSize: 500, logger: Self.logger)
        for i in 0..<100 { log.record(record(i)) }
        #expect(log.wakes == 1)
        await log.flush()
        log.record(record(100))
        #expect(log.wakes == 2)
        let group = ServiceGroup(configuration: .init(services: [log], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for i in 101..<300 { log.record(record(i)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(log.counts.written == 300)
        #expect(log.wakes < 300)
        #expect(Set(try await storage.base.recentRequests(limit: 1000).map(\.id)).count == 300)
    }

    /// The storage is stuck: `record` still returns at once, the queue fills to its capacity and every further
    /// record is dropped and counted; once storage answers, everything queued is written.
    @Test func aFullQueueDropsAndCountsWithoutBlocking() async throws {
        let gate = Gate()
        let storage = CountingStorage(hold: gate)
        let log = RequestLogService(storage: CountingStorageAdapter(inner: storage), capacity: 100, batchSize: 50, logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [log], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            log.record(record(0))
            var entered = storage.entered.makeAsyncIterator()
            _ = await entered.next()               // the writer holds record 0 and waits on storage
            for i in 1...130 { log.record(record(i)) }
            #expect(log.counts.pending == 100)
            #expect(log.counts.dropped == 30)
            gate.open()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(log.counts.written == 101)
        #expect(log.counts.dropped == 30)
        let ids = Set(try await storage.base.recentRequests(limit: 1000).map(\.id))
        #expect(ids == Set((0...100).map { "r\($0)" }))
    }

    /// A reader flushes before it reads: it must see every record recorded before it asked — also one another flush
    /// already took and is still writing (the console's parallel analytics calls did not, now and then).
    @Test func aFlushWaitsForTheBatchAnotherFlushIsWriting() async throws {
        let gate = Gate()
        let storage = CountingStorage(hold: gate)
        let log = RequestLogService(storage: CountingStorageAdapter(inner: storage), capacity: 100, batchSize: 50, logger: Self.logger)
        log.record(record(0))
        var entered = storage.entered.makeAsyncIterator()
        let first = Task { await log.flush() }
        _ = await entered.next()                   // the first flush holds record 0 and waits on storage
        let done = Mutex(false)
        let second = Task {
            await log.flush()
            done.withLock { $0 = true }
            return try await storage.base.recentRequests(limit: 10).map(\.id)
        }
        // Until the second flush either returns (wrong: record 0 is not written yet) or waits for the first one's batch.
        while !done.withLock({ $0 }) && log.waitingFlushes == 0 { await Task.yield() }
        #expect(!done.withLock { $0 }, "the second flush returned before record 0 was written")
        gate.open()
        #expect(try await second.value == ["r0"])
        await first.value
        #expect(log.waitingFlushes == 0 && log.counts.written == 1)
    }

    /// Bodies are redacted by the writer, and past the bytes allowed to wait, records are kept without them.
    @Test func bodiesAreRedactedAndBounded() async throws {
        let storage = MemoryStorage()
        let log = RequestLogService(storage: storage, capacity: 100, maxBodyBytes: 200,
                                    redactor: Redactor(kinds: [.email, .secret]), logger: Self.logger)
        log.record(record(1, request: #"{"content":"mail ada@example.com, key sk-abcdef0123456789abcdef"}"#, response: "ok"))
        log.record(record(2, request: String(repeating: "x", count: 300)))
        await log.flush()
        let first = try await storage.request(id: "r1")
        #expect(first?.requestBody == #"{"content":"mail [REDACTED:email], key [REDACTED:secret]"}"#)
        #expect(first?.responseBody == "ok")
        let second = try await storage.request(id: "r2")
        #expect(second != nil)
        #expect(second?.requestBody == nil)
        #expect(log.counts.bodiesDropped == 1)
    }
}

@Suite struct RedactionTests {
    let all = Redactor(kinds: RedactionKind.allCases)

    @Test func everyKindIsReplaced() {
        let text = """
        Mail jane.doe+x@mail.example.co.uk or call +44 20 7946 0958 / (555) 123-4567. Card 4111 1111 1111 1111, \
        SSN 123-45-6789, host 192.168.10.20. Keys: sk-proj-AbCdEf0123456789XyZ, AKIAIOSFODNN7EXAMPLE, \
        Authorization: Bearer abcdef.ghijkl.mnopqr, token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlX2hlcmU
        """
        let out = all.redact(text)
        for leaked in ["jane.doe", "7946", "123-4567", "4111", "123-45-6789", "192.168", "AbCdEf0123456789", "AKIAIOSFODNN7EXAMPLE",
                       "abcdef.ghijkl", "eyJhbGci"] {
            #expect(!out.contains(leaked), "\(leaked) survived: \(out)")
        }
        for kind in RedactionKind.allCases { #expect(out.contains("[REDACTED:\(kind.rawValue)]"), "no \(kind): \(out)") }
    }

    @Test func ordinaryTextIsLeftAlone() {
        let text = #"{"model":"demo","messages":[{"role":"user","content":"In 2024 the task-management framework had 1234567 users; v1.2.3 costs 42."}],"max_tokens":100}"#
        #expect(all.redact(text) == text)
    }

    /// Bodies a client makes up to be slow to scan finish: all six take ~2 s in a debug build, ~30 s with unbounded
    /// repetitions (quadratic backtracking); the guard fails the test rather than letting it run on.
    @Test func adversarialBodiesFinish() async throws {
        let n = 16 << 10
        for text in [String(repeating: "a", count: n), String(repeating: "sk-", count: n / 3), String(repeating: "a.", count: n / 2),
                     String(repeating: "eyJ", count: n / 3), String(repeating: "+1 ", count: n / 3), String(repeating: "1", count: n)] {
            let out = try await within(15) { Redactor(kinds: RedactionKind.allCases).redact(text) }
            #expect(out.count <= text.count + 64)
        }
    }

    @Test func onlyLuhnValidCardNumbersAreCards() {
        #expect(all.redact("card 4111111111111111") == "card [REDACTED:card]")
        #expect(all.redact("order 4111111111111112") == "order 4111111111111112")
    }

    @Test func chosenKindsAndOwnPatterns() {
        let r = Redactor(kinds: [.email], patterns: ["ACME-[0-9]{6}"])
        #expect(r.redact("ada@example.com ACME-123456 +44 20 7946 0958") == "[REDACTED:email] [REDACTED] +44 20 7946 0958")
        #expect(Redactor(kinds: []).isEmpty)
    }

    @Test func configIsChecked() throws {
        let base = """
        providers: [ { name: p, kind: mock } ]
        models: [ { name: m, deployments: [ { provider: p, model: x } ] } ]
        """
        let ok = try ConfigLoader.load(yaml: base + "\nlogging: { bodies: { enabled: true, max_bytes: 1000, redact: [email], patterns: [\"X-[0-9]+\"] } }",
                                       environment: [:])
        #expect(ok.logging.bodies == {
            var b = BodyLogConfig()
            b.enabled = true
            b.maxBytes = 1000
            b.redact = [.email]
            b.patterns = ["X-[0-9]+"]
            return b
        }())
        do {
            _ = try ConfigLoader.load(yaml: base + "\nlogging: { bodies: { redact: [emails], patterns: [\"(\", \"a*\"], max_bytes: 0 } }", environment: [:])
            Issue.record("expected problems")
        } catch {
            let text = error.problems.map(\.description).joined(separator: "\n")
            #expect(text.contains("logging.bodies.redact[0]"))
            #expect(text.contains("logging.bodies.patterns[0]"))
            #expect(text.contains("logging.bodies.patterns[1]") && text.contains("empty string"))
            #expect(text.contains("logging.bodies.max_bytes"))
        }
    }
}

@Suite struct RequestBodiesAppTests {
    /// With `logging.bodies` on, `/admin/logs/{id}` shows the request and the answer as the client saw them,
    /// redacted and cut at `max_bytes`; with it off (the default), no bodies are kept.
    @Test func bodiesAreKeptRedactedWhenEnabled() async throws {
        let yaml = mockYAML + "\nlogging: { bodies: { enabled: true, max_bytes: 120 } }"
        try await withGateway(yaml) { h in
            let body = #"{"model":"demo","messages":[{"role":"user","content":"I am ada@example.com, card 4111 1111 1111 1111"}]}"#
            let r = try await h.post("/v1/chat/completions", body)
            #expect(r.status == .ok)
            let id = try #require(r.header("x-request-id"))
            let detail = try await h.get("/admin/logs/\(id)", key: "sk-master")
            #expect(detail.status == .ok)
            let json = try detail.json()
            let request = try #require(json["request_body"] as? String)
            #expect(request.contains("[REDACTED:email]") && request.contains("[REDACTED:card]"))
            #expect(!request.contains("ada@example.com") && !request.contains("4111"))
            let response = try #require(json["response_body"] as? String)
            #expect(response.hasPrefix(#"{"object":"chat.completion""#))
            #expect(response.contains("…[truncated, \(r.body.readableBytes) bytes in all]"))
            #expect(json["status"] as? Int == 200)

            let stream = try await h.post("/v1/chat/completions", #"{"model":"demo","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            let streamed = try await h.get("/admin/logs/\(try #require(stream.header("x-request-id")))", key: "sk-master").json()
            #expect((streamed["response_body"] as? String)?.hasPrefix("data: ") == true)

            let missing = try await h.get("/admin/logs/no-such-id", key: "sk-master")
            #expect(missing.status == .notFound)
            #expect(missing.errorObject?["code"] as? String == "not_found")
            #expect(try await h.get("/admin/logs/\(id)").status == .forbidden)
        }
        try await withGateway(mockYAML) { h in
            let r = try await h.post("/v1/chat/completions", chatBody)
            let json = try await h.get("/admin/logs/\(try #require(r.header("x-request-id")))", key: "sk-master").json()
            #expect(json["request_body"] is NSNull)
            #expect(json["response_body"] is NSNull)
        }
    }
}

@Suite struct RedactionEdgeTests {
    let all = Redactor(kinds: RedactionKind.allCases)

    /// Reviewer's cases: a card followed by its CVV or expiry; values right after a JSON escape in a raw body.
    @Test func cardWithCVVAndValuesAfterJSONEscapes() {
        #expect(all.redact("card 4111 1111 1111 1111 123 ok") == "card [REDACTED:card] ok")
        #expect(all.redact("card 4111-1111-1111-1111 12 25") == "card [REDACTED:card]")
        let raw = #"{"content":"SSN:\n123-45-6789\tcard\n4111111111111111\nmail\nada@example.com\nip\t10.1.2.3"}"#
        let out = all.redact(raw)
        #expect(out == #"{"content":"SSN:\n[REDACTED:ssn]\tcard\n[REDACTED:card]\nmail\n[REDACTED:email]\nip\t[REDACTED:ip]"}"#)
    }

    /// The writer redacts first and cuts after: a key across `max_bytes` is not left half in clear.
    @Test func bodiesAreCutAfterRedaction() {
        let key = "sk-proj-AbCdEf0123456789XyZ"
        let body = String(repeating: "x", count: 90) + key + String(repeating: "y", count: 200)
        var r = record(1, request: body + "…[truncated, 5000 bytes in all]")
        r.responseBody = "short"
        let out = RequestLogService.prepareBodies([r], redactor: all, limit: 100)[0]
        #expect(out.requestBody == String(repeating: "x", count: 90) + "[REDACTED:…[truncated, 5000 bytes in all]")
        #expect(out.responseBody == "short")
        #expect(RequestLogService.prepareBodies([record(2, request: "a\u{0}b")], redactor: Redactor(kinds: []), limit: 100)[0].requestBody == "ab")
    }

    @Test func emptyMatchingPatternsAreRejected() {
        #expect(Redactor.invalidPattern(#"\b"#) != nil)
        #expect(Redactor.invalidPattern("(?=x)") != nil)
        #expect(Redactor.invalidPattern("ACME-[0-9]+") == nil)
    }
}

@Suite struct TraceHeaderTests {
    @Test func onlyWellFormedTraceparentsAreTaken() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        for (value, ok) in [(good, true), (good.uppercased(), false), ("00-" + String(repeating: "0", count: 32) + "-00f067aa0ba902b7-01", false),
                            ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false), (good + "-x", false), ("garbage", false)] {
            var h = HTTPFields()
            h[HTTPField.Name("traceparent")!] = value
            h[HTTPField.Name("tracestate")!] = "a=b"
            let t = TraceHeaders(h)
            #expect((t.traceparent != nil) == ok, "\(value)")
            #expect((t.tracestate != nil) == ok)
        }
        var onlyState = HTTPFields()
        onlyState[HTTPField.Name("tracestate")!] = "a=b"
        #expect(TraceHeaders(onlyState).passthrough.isEmpty)
    }
}
