import Hummingbird
import NIOCore
import NIOPosix
import Synchronization
import SwitchboardTesting
import Testing
@testable import SwitchboardProviders

/// With tasks on the event loops (`server.tasks_on_event_loops`), a request reuses a pooled upstream connection on its
/// own event loop, so the exchange stays on one thread.
@Suite struct TransportLoopTests {
    @Test func removeLastPrefersWithinItsWindow() {
        var a = [1, 2, 3, 4, 5]
        #expect(a.removeLast(preferringWithin: 16) { $0 % 2 == 0 } == 4)
        #expect(a == [1, 2, 3, 5])
        #expect(a.removeLast(preferringWithin: 2) { $0 == 1 } == 5)   // 1 is outside the window: the last one
        #expect(a.removeLast(preferringWithin: 16) { $0 == 1 } == 1)
        #expect(a == [2, 3])
        var empty: [Int] = []
        #expect(empty.removeLast(preferringWithin: 16) { _ in true } == nil)
    }

    @Test func aPooledConnectionOnTheCallersLoopIsPreferred() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let arrived = Mutex(0)
        let bothOpen = Gate()
        try await FakeUpstream.run({ _ in
            // The first request waits for the second, so the two need two connections.
            if arrived.withLock({ $0 += 1; return $0 }) == 2 { bothOpen.open() } else { await bothOpen.wait() }
            return jsonReply(Wire.chatCompletion())
        }) { fake in
            let transport = NIOHTTPTransport(connectTimeout: .seconds(2), idleTimeout: .seconds(5), eventLoopGroup: group)
            let url = fake.baseURL + "/chat/completions"
            @Sendable func call(on loop: any EventLoop) async throws {
                try await withTaskExecutorPreference(LoopExecutor(loop)) {
                    let r = try await transport.execute(UpstreamRequest(url: url, body: ByteBuffer(string: "{}"), timeout: .seconds(5)))
                    #expect(r.status == 200)
                    _ = try await r.body.collect(upTo: 1 << 20)
                }
            }
            async let first: Void = call(on: loops[0])
            async let second: Void = call(on: loops[1])
            _ = try await (first, second)
            let key = try #require(UpstreamTarget(url)).key
            func pooledLoops() -> [any EventLoop] { transport.idle.withLock { ($0[key] ?? []).map(\.eventLoop) } }
            // Each connection was made on its caller's loop; the pool holds both.
            try #require(pooledLoops().count == 2)
            #expect(Set(pooledLoops().map { ObjectIdentifier($0) }) == Set(loops.map { ObjectIdentifier($0) }))
            // A caller on the loop of the older idle connection takes that one (not simply the newest), so it comes
            // back to the pool last.
            for _ in 0..<3 {
                let older = pooledLoops()[0]
                try await call(on: older)
                #expect(pooledLoops().count == 2)
                #expect(pooledLoops().last === older)
            }
            #expect(fake.requests.count == 5)
            await transport.shutdown()
        }
        try await group.shutdownGracefully()
    }
}

/// Runs a task's jobs on one event loop (what installing NIO as the global executor does for every task).
private final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop
    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
