import Foundation
import Synchronization
import SwitchboardCore
import SwitchboardStore
import Testing
@testable import SwitchboardServer

/// The managed keys' cache: a secret that matched once is compared as it is after that; any other secret is still
/// hashed and refused, and an expired key is refused whichever way its secret was checked.
@Suite struct KeyDirectoryTests {
    final class Clock: Sendable {
        let t = Mutex<Double>(1_800_000_000)
        func now() -> Double { t.withLock { $0 } }
        func advance(_ s: Double) { t.withLock { $0 += s } }
    }

    static func resolve(_ directory: KeyDirectory, _ text: String) async throws -> (KeyResolution, fetched: Bool) {
        switch directory.lookup(text) {
        case .decided(let r): return (r, false)
        case .fetch(let id, let secret, let at): return (try await directory.fetch(id: id, secret: secret, at: at), true)
        }
    }

    static func name(_ r: KeyResolution) -> String {
        switch r {
        case .identity(let i): "identity:\(i.name)"
        case .refused: "refused"
        case .unknown: "unknown"
        }
    }

    @Test func aVerifiedSecretIsComparedAsItIsAndAnyOtherIsStillRefused() async throws {
        let storage = MemoryStorage()
        let clock = Clock()
        let id = "abcdefghjkmn", secret = String(repeating: "s", count: KeyText.secretLength)
        let salt = KeyHash.newSalt()
        try await storage.insertKey(KeyRecord(id: id, name: "ci", expiresAt: clock.now() + 8, createdAt: clock.now(),
                                              secretHash: KeyHash.hash(secret: secret, salt: salt), salt: salt))
        let directory = KeyDirectory(auth: AuthConfig(), storage: storage, ttl: 5, now: { clock.now() })
        let right = KeyText.make(id: id, secret: secret)
        let wrong = KeyText.make(id: id, secret: String(repeating: "t", count: KeyText.secretLength))
        let almost = KeyText.make(id: id, secret: String(repeating: "s", count: KeyText.secretLength - 1) + "t")

        // A wrong secret first: the key is fetched and cached, nothing is verified.
        let first = try await Self.resolve(directory, wrong)
        #expect(Self.name(first.0) == "unknown" && first.fetched)
        // The right one, from the cache (hashed), then again (as verified): both the key's identity.
        for _ in 0..<3 {
            let r = try await Self.resolve(directory, right)
            #expect(Self.name(r.0) == "identity:ci" && !r.fetched)
        }
        // Other secrets of the same id are still refused, however close.
        for text in [wrong, almost] {
            let r = try await Self.resolve(directory, text)
            #expect(Self.name(r.0) == "unknown")
        }
        // Past the cache's life the key is read again; the right secret still works, verified anew at the fetch.
        clock.advance(6)
        let refetched = try await Self.resolve(directory, right)
        #expect(Self.name(refetched.0) == "identity:ci" && refetched.fetched)
        let cached = try await Self.resolve(directory, right)
        #expect(Self.name(cached.0) == "identity:ci" && !cached.fetched)
        let wrongAgain = try await Self.resolve(directory, almost)
        #expect(Self.name(wrongAgain.0) == "unknown")
        // Expired while cached, with its secret verified: refused, from the cache.
        clock.advance(4)
        let expired = try await Self.resolve(directory, right)
        #expect(Self.name(expired.0) == "refused" && !expired.fetched)
    }

    @Test func textsAreTheSameOnlyWhenEveryByteIs() {
        #expect(KeyDirectory.same("abc", "abc"))
        #expect(!KeyDirectory.same("abc", "abd"))
        #expect(!KeyDirectory.same("abc", "abcd"))
        #expect(!KeyDirectory.same("", "a"))
        #expect(KeyDirectory.same("", ""))
    }
}
