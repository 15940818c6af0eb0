import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTesting
import Synchronization
import Testing
@testable import SwitchboardServer

/// A gate the fake upstream waits on until the test opens it.
final class UpstreamLatch: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { c in
            let go = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if go { c.resume() }
        }
    }
    func open() {
        for c in state.withLock({ s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }) { c.resume() }
    }
}

extension BatchTests {
    static func upstreamYAML(_ base: String, server: String = "") -> String {
        """
        \(server)
        auth: { master_key: "sk-master", keys: [ { name: tester, key: "sk-test" } ] }
        providers:
          - { name: up, kind: openai, base_url: "\(base)", api_key: "sk-provider" }
        models:
          - { name: demo, deployments: [ { provider: up, model: up-model } ] }
        routing: { retries: 0, timeout_s: 10, connect_timeout_s: 1 }
        """
    }

    /// Polls (yielding) until `condition` holds, for at most 10 s.
    static func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            await Task.yield()
        }
    }

    /// With `server.max_in_flight: 1` taken and an interactive request waiting, the runner takes no line; once
    /// interactive traffic is served, the batch runs.
    @Test func batchWorkYieldsToInteractiveTraffic() async throws {
        let latch = UpstreamLatch()
        try await FakeUpstream.run({ r in
            if r.text.contains("interactive") { await latch.wait() }
            return jsonReply(Wire.chatCompletion(content: "ok"))
        }) { fake in
            try await withGateway(Self.upstreamYAML(fake.baseURL, server: "server: { max_in_flight: 1, queue_depth: 8 }")) { h in
                defer { latch.open() }
                let id = try await Self.submit(h, [Self.line("b0"), Self.line("b1")])
                let runner = Self.runner(h)
                try await runner.upkeep()
                // Two interactive requests straight into the engine: one takes the only place, one waits for it.
                let body = ByteBuffer(string: #"{"model":"demo","messages":[{"role":"user","content":"interactive"}]}"#)
                let interactive = { @Sendable (n: Int) async throws -> BatchRunner.LineResult in
                    let response = await h.services.live.gateway.serve(OpenAIAPI.self, try OpenAIRequest.chat(body), identity: Identity(name: "tester"),
                                                                       requestID: "req_i\(n)", logger: Logger(label: "t"))
                    return try await BatchRunner.result(of: response, requestID: "req_i\(n)")
                }
                async let first = interactive(1)
                async let second = interactive(2)
                let gate = try #require(h.services.gatewayGate)
                try await Self.eventually("one in flight, one queued") { gate.snapshot.inFlight == 1 && gate.snapshot.queued == 1 }
                #expect(try await runner.claim(4).isEmpty)
                latch.open()
                guard case .answered(200, _, _) = try await first, case .answered(200, _, _) = try await second else {
                    Issue.record("an interactive request failed")
                    return
                }
                try await runner.drain()
                #expect(Self.counts(try await Self.batch(h, id)) == [2, 2, 0])
                // The interactive requests reached the upstream before any batch line.
                #expect(fake.requests.prefix(2).allSatisfy { $0.text.contains("interactive") } && fake.requests.count == 4)
            }
        }
    }

    /// A stop in the middle, over the same SQLite file: the lines done before it are not run again, a line held by a
    /// runner that died is taken again once its lease passes, and every line reaches the upstream once.
    @Test func aRestartDoesNotRunFinishedLinesAgain() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-batch-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let wall = WallClock()
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion(content: "ok")) }) { fake in
            let yaml = Self.upstreamYAML(fake.baseURL)
            let first = try await SQLiteStorage.open(path: path)
            try await first.migrate()
            let id = try await withGateway(yaml, mode: .live, wall: wall, storage: first) { h in
                let id = try await Self.submit(h, (0..<6).map { Self.line("s\($0)") })
                let runner = Self.runner(h)
                try await runner.upkeep()
                for line in try await runner.claim(3) { await runner.serve(line) }
                // A runner that took a line and died before answering it.
                #expect(try await h.storage.claimBatchLines(owner: "dead", nowMs: Int64(wall.now * 1000), leaseMs: 60_000, limit: 1).count == 1)
                return id
            }
            try await first.close()
            #expect(fake.requests.count == 3)

            let second = try await SQLiteStorage.open(path: path)
            try await second.migrate()
            try await withGateway(yaml, mode: .live, wall: wall, storage: second) { h in
                let runner = Self.runner(h)
                try await runner.drain()
                var b = try await Self.batch(h, id)
                #expect(b["status"] as? String == "in_progress" && Self.counts(b) == [6, 5, 0], "\(b)")
                wall.advance(61)
                try await runner.drain()
                b = try await Self.batch(h, id)
                #expect(b["status"] as? String == "completed" && Self.counts(b) == [6, 6, 0], "\(b)")
                let output = try await Self.lines(h, file: b["output_file_id"] as? String)
                #expect(Set(output.compactMap { $0["custom_id"] as? String }) == Set((0..<6).map { "s\($0)" }) && output.count == 6)
            }
            try await second.close()
            #expect(fake.requests.count == 6)
        }
    }
}
