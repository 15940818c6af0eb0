import SwitchboardCore
import SwitchboardRouting
import Testing

/// Expected costs with cached-input discounts: each deployment's observed cached share of prompt tokens, learnt
/// from the usage its answers report, prices that much of an expected prompt at its cached-input price.
@Suite struct CachedShareTests {
    static let yaml = """
        providers:
          - { name: p0, kind: mock }
          - { name: p1, kind: mock }
        models:
          - name: plain
            deployments: [{ provider: p0, model: a, price: { input: 1, output: 4 } }]
          - name: cached
            deployments: [{ provider: p1, model: b, price: { input: 1.5, output: 4, cached_input: 0.15 } }]
        """

    @Test func theShareIsAnExponentiallyWeightedAverageOfAnswers() {
        let book = CachedShareBook(count: 2)
        #expect(book.share(0) == 0)
        book.observe(0, usage: Usage(promptTokens: 1000, cachedTokens: 800))
        #expect(abs(book.share(0) - 0.08) < 1e-12)
        for _ in 0..<200 { book.observe(0, usage: Usage(promptTokens: 1000, cachedTokens: 800)) }
        #expect(abs(book.share(0) - 0.8) < 1e-6)
        // No prompt tokens: nothing learnt; absurd counts are clamped to 0...1; other slots untouched.
        book.observe(0, usage: Usage(completionTokens: 5))
        book.observe(1, usage: Usage(promptTokens: 10, cachedTokens: 50))
        #expect(abs(book.share(0) - 0.8) < 1e-6 && abs(book.share(1) - 0.1) < 1e-12 && book.share(7) == 0)
        #expect(book.expectedUsage(0, usage: Usage(promptTokens: 1000, completionTokens: 3)).cachedTokens == 800)
    }

    @Test func aDeploymentWhoseCacheHitsWinsOverANominallyCheaperOne() throws {
        let table = RoutingTable(config: try ConfigLoader.load(yaml: Self.yaml, environment: [:]), seed: 1, now: { 0 })
        let needs = RequestNeeds(maxOutputTokens: 100, estimatedPromptTokens: 10_000)
        // Nothing observed: plain ($0.0104) is cheaper than cached ($0.0154).
        let before = table.choose(.cheapest(["cached", "plain"]), needs: needs, expectedOutputTokens: 256, allows: { _ in true })
        #expect(before.choice?.model == "plain" && before.candidates.allSatisfy { $0.cachedShare == nil })
        // cached's answers report 90% of their prompts cached: 1,000 × 1.5 + 9,000 × 0.15 + 100 × 4 = $0.00325.
        let slot = table.models["cached"]!.deployments[0].slot
        for _ in 0..<300 { table.cachedShares.observe(slot, usage: Usage(promptTokens: 2000, completionTokens: 50, cachedTokens: 1800)) }
        let after = table.choose(.cheapest(["plain", "cached"]), needs: needs, expectedOutputTokens: 256, allows: { _ in true })
        #expect(after.choice?.model == "cached" && after.choice?.escalation == ["plain"])
        let cached = after.candidates.first { $0.model == "cached" }!
        #expect(abs(cached.expectedCostUSD! - 0.00325) < 1e-9)
        #expect(abs(cached.cachedShare! - 0.9) < 1e-6)
        #expect(after.candidates.first { $0.model == "plain" }?.cachedShare == nil)
    }
}
