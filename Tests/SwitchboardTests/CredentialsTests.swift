import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTesting
import Testing
@testable import SwitchboardServer

/// Provider keys stored through the admin API: sealed at rest, used upstream, never shown.
@Suite struct CredentialsTests {
    static let key = Array(repeating: UInt8(7), count: 32)

    @Test func sealingRoundTripsAndBindsTheProvider() throws {
        let sealed = try Sealer.seal("sk-live-123", provider: "openai", key: Self.key)
        #expect(!sealed.contains("sk-live") && Data(base64Encoded: sealed) != nil)
        #expect(try Sealer.open(sealed, provider: "openai", key: Self.key) == "sk-live-123")
        #expect(throws: (any Error).self) { try Sealer.open(sealed, provider: "other", key: Self.key) }
        #expect(throws: (any Error).self) { try Sealer.open(sealed, provider: "openai", key: Array(repeating: 8, count: 32)) }
        // A fresh nonce every time.
        #expect(try Sealer.seal("sk-live-123", provider: "openai", key: Self.key) != sealed)
    }

    @Test func storedKeysReplaceConfiguredOnesUpstreamAndAreNeverShown() async throws {
        try await FakeUpstream.run({ _ in jsonReply(Wire.chatCompletion(content: "ok")) }) { fake in
            let yaml = liveYAML(fake.baseURL).replacingOccurrences(
                of: "auth: { keys: [ { name: tester, key: \"sk-test\" } ] }",
                with: "auth: { master_key: \"sk-master\", encryption_key: \"\(Data(Self.key).base64EncodedString())\", keys: [ { name: tester, key: \"sk-test\" } ] }")
            try await withGateway(yaml, mode: .live) { h in
                let body = #"{"model":"single","messages":[{"role":"user","content":"x"}]}"#
                #expect(try await h.post("/v1/chat/completions", body, key: "sk-test").status == .ok)
                #expect(fake.requests.last?.headers[.authorization] == "Bearer sk-provider-1")

                let put = try await h.send(.put, "/admin/credentials/up1", #"{"api_key":"sk-stored-9"}"#, key: "sk-master")
                #expect(put.status == .ok && !put.text.contains("sk-stored-9") && put.text.contains(#""source":"admin""#))
                #expect(try await h.post("/v1/chat/completions", body, key: "sk-test").status == .ok)
                #expect(fake.requests.last?.headers[.authorization] == "Bearer sk-stored-9")

                // At rest: sealed, opened only with the key; a new process finds it.
                let stored = try await h.storage.credentials()
                #expect(stored.map(\.provider) == ["up1"] && !stored[0].sealed.contains("sk-stored-9"))
                let other = CredentialOverrides()
                try await other.reload(from: h.storage, key: Self.key, providers: ["up1"], logger: Logger(label: "t"))
                #expect(other.key(for: "up1") == "sk-stored-9")

                let list = try await h.get("/admin/credentials", key: "sk-master")
                #expect(list.status == .ok && !list.text.contains("sk-stored-9") && !list.text.contains("sk-provider-1"))
                #expect(try await h.send(.put, "/admin/credentials/nope", #"{"api_key":"x"}"#, key: "sk-master").status == .notFound)
                #expect(try await h.send(.put, "/admin/credentials/up1", #"{"api_key":""}"#, key: "sk-master").status == .badRequest)
                #expect(try await h.send(.put, "/admin/credentials/up1", #"{"api_key":"x"}"#, key: "sk-test").status == .forbidden)

                #expect(try await h.send(.delete, "/admin/credentials/up1", key: "sk-master").status == .ok)
                #expect(try await h.post("/v1/chat/completions", body, key: "sk-test").status == .ok)
                #expect(fake.requests.last?.headers[.authorization] == "Bearer sk-provider-1")
                #expect(try await h.send(.delete, "/admin/credentials/up1", key: "sk-master").status == .notFound)
            }
        }
    }

    @Test func withoutAnEncryptionKeyNothingIsStored() async throws {
        try await withGateway(liveYAML("http://127.0.0.1:9/v1").replacingOccurrences(of: "auth: {", with: "auth: { master_key: \"sk-master\",")) { h in
            let r = try await h.send(.put, "/admin/credentials/up1", #"{"api_key":"sk-x"}"#, key: "sk-master")
            #expect(r.status == .badRequest && r.errorObject?["code"] as? String == "encryption_key_missing")
            #expect(try await h.storage.credentials().isEmpty)
        }
    }
}
