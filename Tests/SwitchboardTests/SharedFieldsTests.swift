import SwitchboardCore
@testable import SwitchboardServer
import Testing

/// `RequestRecord` and `Identity` share their fields among their copies until one changes: they must still behave
/// as the plain structs they were.
@Suite struct SharedFieldsTests {
    /// A record is a value though its copies share their fields: a change to one copy (any field, on any thread)
    /// is never seen by another, and equality compares fields, shared or not.
    @Test func aRecordsCopiesAreIndependentValues() async {
        let original = RequestRecord(id: "req_1", startedAt: 100, keyName: "k", endpoint: "/v1/chat/completions", model: "m", status: 200,
                                     usage: Usage(promptTokens: 3, completionTokens: 4), costUSD: 0.5)
        var copy = original
        #expect(copy == original)
        copy.status = 503
        copy.usage.promptTokens = 30
        copy.chargedScopes.append("key:x")
        copy.requestBody = "body"
        #expect(original.status == 200 && original.usage.promptTokens == 3 && original.chargedScopes.isEmpty && original.requestBody == nil)
        #expect(copy.status == 503 && copy.usage.promptTokens == 30 && copy.chargedScopes == ["key:x"] && copy.hasBodies)
        #expect(copy != original)
        // Equal fields are equal records, whether or not they share them.
        var rebuilt = RequestRecord(id: "req_1", startedAt: 100, keyName: "k", endpoint: "/v1/chat/completions", model: "m", status: 200,
                                    usage: Usage(promptTokens: 3, completionTokens: 4), costUSD: 0.5)
        #expect(rebuilt == original)
        rebuilt.hedged = true
        #expect(rebuilt != original && !original.hedged)
        // Copies changed concurrently from many tasks: each sees only its own changes.
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                group.addTask {
                    var mine = original
                    for n in 0..<200 { mine.attempts = i * 1000 + n; mine.provider = "p\(i)" }
                    return mine.attempts == i * 1000 + 199 && mine.provider == "p\(i)" && mine.id == "req_1"
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
        #expect(original.attempts == 0 && original.provider == nil)
    }

    /// The same for an identity: a copy changed (its limits, metadata, roles) leaves the original as it was.
    @Test func anIdentitysCopiesAreIndependentValues() {
        let original = Identity(name: "svc", allowedModels: ["a*"], keyID: "k1", roles: [.user], team: "t", teamModels: ["a1"])
        var copy = original
        #expect(copy == original)
        copy.metadata["tier"] = "gold"
        copy.limits.rates.rpm = 5
        copy.roles.append(.admin)
        copy.maxPriceUSD = 0.25
        #expect(original.metadata.isEmpty && original.limits == Limits() && original.roles == [.user] && original.maxPriceUSD == nil)
        #expect(copy.metadata == ["tier": "gold"] && copy.limits.rates.rpm == 5 && copy.has(.admin) && !original.has(.admin))
        #expect(copy != original)
        #expect(Identity(name: "svc", allowedModels: ["a*"], keyID: "k1", roles: [.user], team: "t", teamModels: ["a1"]) == original)
    }
}
