import SwitchboardCore
import SwitchboardRouting
import Testing

/// Routing rules, pure: the `router:` section as `check` reads it, each condition of a rule, the language guess, and
/// how a rule's target becomes a model (tiers, cheapest capable).
@Suite struct RouterRulesTests {
    static let base = """
        providers:
          - { name: p0, kind: mock }
          - { name: p1, kind: mock }
        models:
          - name: small
            deployments: [{ provider: p0, model: s, price: { input: 0.1, output: 0.4 }, capabilities: { tools: false, context_window: 8000 } }]
          - name: medium
            deployments: [{ provider: p0, model: m, price: { input: 1, output: 4 } }]
          - name: large
            deployments: [{ provider: p1, model: l, price: { input: 5, output: 15 }, capabilities: { vision: true } }]
        """

    static func load(_ router: String) throws -> GatewayConfig {
        try ConfigLoader.load(yaml: base + "\n" + router, environment: [:])
    }

    static func problems(_ router: String) -> [String] {
        do throws(ConfigError) {
            _ = try ConfigLoader.load(yaml: base + "\n" + router, environment: [:])
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func readsRulesWithEveryKindOfRoute() throws {
        let config = try Self.load("""
            router:
              models: [auto]
              region_header: X-Client-Region
              rules:
                - name: code
                  when: { model: auto, content: { regex: ["```", "(?i)\\\\bstack trace\\\\b"], keywords: [refactor] } }
                  route: { model: large }
                - name: tiered
                  when: { model: auto, prompt_tokens: { max: 2000 }, tools: false }
                  route: { tiers: [small, medium, large] }
                - name: rest
                  route: { cheapest: [medium, large] }
            """)
        let r = config.router
        #expect(r.virtualModels == ["auto"] && r.regionHeader == "x-client-region")
        #expect(r.rules.map(\.name) == ["code", "tiered", "rest"])
        #expect(r.rules.map(\.route) == [.model("large"), .tiers(["small", "medium", "large"]), .cheapest(["medium", "large"])])
        #expect(r.rules[0].when.content?.patterns.count == 2 && r.rules[0].when.content?.keywords == ["refactor"])
        #expect(r.rules[1].when.promptTokens == 0...2000 && r.rules[1].when.tools == false)
        #expect(r.rules[2].when.isCatchAll && r.needsText)
    }

    @Test func checkReportsEveryMistakeWithItsPath() {
        let found = Self.problems("""
            router:
              models: [auto, medium]
              rules:
                - name: a
                  when: { model: auto, content: { regex: ["(unclosed"] }, headers: { x-app: "[" }, difficulty: { min: 0.8, max: 0.2 } }
                  route: { model: larg }
                - name: b
                  route: { tiers: [small, auto] }
                - name: a
                  when: { tools: true }
                  route: { model: small, tiers: [large] }
                - name: d
                  when: { langauge: en }
                  route: { cheapest: [] }
                - name: e
                  when: { model: auto }
                  route: { model: small, escalate: { invalid_json: true } }
                - name: f
                  when: { model: auto }
                  route: { tiers: [review, small], escalate: { unless_match: "(", uncertain: { min: 0.7, max: 0.3 } } }
            """)
        let expected = [
            "router.models[1]: \"medium\" is already a model of `models:`",
            "router.rules[0].when.content.regex[0]: invalid regular expression \"(unclosed\"",
            "router.rules[0].when.headers.x-app: invalid regular expression \"[\"",
            "router.rules[0].when.difficulty: min (0.8) is above max (0.2)",
            "router.rules[0].route.model: unknown model \"larg\"; did you mean \"large\"?",
            "router.rules[1].route.tiers[1]: \"auto\" is a virtual model",
            "router.rules[2].route: give only one of model, tiers or cheapest",
            "router.rules[3].when.langauge: unknown key \"langauge\"; did you mean \"language\"?",
            "router.rules[3].route.cheapest: expected a list of at least one model",
            "router.rules[4].route.escalate: only a tier list escalates",
            "router.rules[5].route.escalate.unless_match: invalid regular expression",
            "router.rules[5].route.escalate.uncertain: min (0.7) is above max (0.3)",
            "router.rules[5].route.tiers[0]: review (a person) can only be the last tier",
        ]
        for e in expected { #expect(found.contains { $0.hasPrefix(e) }, "missing: \(e)\nfound: \(found.joined(separator: "\n"))") }
    }

    @Test func aRuleAfterACatchAllIsUnreachableAndAVirtualModelNeedsARule() {
        let found = Self.problems("""
            router:
              models: [auto, cheap]
              rules:
                - { name: everything, route: { model: small } }
                - { name: never, when: { model: auto }, route: { model: large } }
            """)
        #expect(found.contains { $0.hasPrefix("router.rules[1]: unreachable: rule \"everything\" (router.rules[0]) has no conditions") })
        #expect(!found.contains { $0.hasPrefix("router.models") }, "\(found)")
        let unrouted = Self.problems("""
            router:
              models: [auto]
              rules:
                - { name: only-gpt, when: { model: "gpt-*" }, route: { model: small } }
            """)
        #expect(unrouted.contains { $0.hasPrefix("router.models[0]: no rule can match the virtual model \"auto\"") })
    }

    func first(_ yaml: String, _ facts: RuleFacts, scorer: (any DifficultyScoring)? = nil) throws -> String? {
        let config = try Self.load(yaml)
        var f = facts
        let book = RuleBook(rules: config.router.rules, scorer: scorer)
        return book.first(&f).index.map { book.rules[$0].name }
    }

    struct FixedScore: DifficultyScoring {
        let value: Double
        func difficulty(of text: String) -> Double { value }
        func threshold(forQuality quality: Double) -> Double { quality - 0.2 }
    }

    @Test func eachConditionDecidesAMatch() throws {
        let rules = """
            router:
              models: [auto]
              rules:
                - { name: by-key, when: { key: "ci-*" }, route: { model: small } }
                - { name: by-team, when: { team: research }, route: { model: large } }
                - { name: by-metadata, when: { metadata: { tier: gold } }, route: { model: large } }
                - { name: by-request-metadata, when: { request_metadata: { app: mobile } }, route: { model: small } }
                - { name: by-tag, when: { tags: [nightly] }, route: { model: small } }
                - { name: by-header, when: { headers: { x-app: "^beta-" } }, route: { model: medium } }
                - { name: by-size, when: { prompt_tokens: { min: 5000 } }, route: { model: large } }
                - { name: by-images, when: { images: true }, route: { model: large } }
                - { name: by-json, when: { json: true, stream: false }, route: { model: medium } }
                - { name: by-keyword, when: { content: { keywords: ["unit test"] } }, route: { model: medium } }
                - { name: by-system, when: { content: { regex: ["(?i)pirate"], in: all } }, route: { model: small } }
                - { name: by-language, when: { language: [de, fr] }, route: { model: medium } }
                - { name: by-difficulty, when: { difficulty: { min: 0.7 } }, route: { model: large } }
                - { name: by-region, when: { region: "eu-*" }, route: { model: medium } }
                - { name: fallback, when: { model: auto }, route: { model: small } }
            """
        func facts(_ change: (inout RuleFacts) -> Void) -> RuleFacts {
            var f = RuleFacts(model: "auto", keyName: "app", text: RequestText(lastUser: "hello there", all: "be nice\nhello there"))
            change(&f)
            return f
        }
        #expect(try first(rules, facts { _ in }) == "fallback")
        #expect(try first(rules, facts { $0.model = "small" }) == nil)
        #expect(try first(rules, facts { $0.keyName = "ci-nightly" }) == "by-key")
        #expect(try first(rules, facts { $0.team = "research" }) == "by-team")
        #expect(try first(rules, facts { $0.keyMetadata = ["tier": "gold"] }) == "by-metadata")
        #expect(try first(rules, facts { $0.requestMetadata = ["app": "mobile"] }) == "by-request-metadata")
        #expect(try first(rules, facts { $0.tags = ["x", "nightly"] }) == "by-tag")
        #expect(try first(rules, facts { $0.headers = ["x-app": "beta-3"] }) == "by-header")
        #expect(try first(rules, facts { $0.headers = ["x-app": "stable-beta-3"] }) == "fallback")
        #expect(try first(rules, facts { $0.needs.estimatedPromptTokens = 6000 }) == "by-size")
        #expect(try first(rules, facts { $0.needs.vision = true }) == "by-images")
        #expect(try first(rules, facts { $0.needs.jsonMode = true }) == "by-json")
        #expect(try first(rules, facts { $0.needs.jsonMode = true; $0.needs.streaming = true }) == "fallback")
        #expect(try first(rules, facts { $0.text = RequestText(lastUser: "Write a Unit Test for this", all: "") }) == "by-keyword")
        #expect(try first(rules, facts { $0.text = RequestText(lastUser: "write unittests", all: "") }) == "fallback")
        #expect(try first(rules, facts { $0.text = RequestText(lastUser: "hi", all: "You are a PIRATE\nhi") }) == "by-system")
        #expect(try first(rules, facts { $0.text = RequestText(lastUser: "Wie kann ich das Problem mit der Datenbank lösen?", all: "") }) == "by-language")
        #expect(try first(rules, facts { _ in }, scorer: FixedScore(value: 0.9)) == "by-difficulty")
        #expect(try first(rules, facts { _ in }, scorer: FixedScore(value: 0.5)) == "fallback")
        #expect(try first(rules, facts { $0.region = "eu-west" }) == "by-region")
    }

    @Test func theLanguageGuess() {
        #expect(LanguageGuess.detect("What is the capital of France, and how big is it?") == "en")
        #expect(LanguageGuess.detect("Quelle est la capitale de la France et comment est-elle?") == "fr")
        #expect(LanguageGuess.detect("¿Cuál es la capital de España y por qué es importante para el país?") == "es")
        #expect(LanguageGuess.detect("Kannst du mir bitte sagen, wie das Wetter ist?") == "de")
        #expect(LanguageGuess.detect("東京の天気はどうですか") == "ja")
        #expect(LanguageGuess.detect("北京今天天气怎么样") == "zh")
        #expect(LanguageGuess.detect("Как дела у тебя сегодня?") == "ru")
        #expect(LanguageGuess.detect("오늘 날씨 어때요") == "ko")
        #expect(LanguageGuess.detect("xyz 123") == nil)
    }

    @Test func aTierListTakesTheFirstCapableTierAndEscalatesThroughTheRest() throws {
        let config = try Self.load("")
        let table = RoutingTable(config: config, seed: 1, now: { 0 })
        let plain = table.choose(.tiers(["small", "medium", "large"]), needs: RequestNeeds(estimatedPromptTokens: 100), expectedOutputTokens: 100,
                                 allows: { _ in true }).choice
        #expect(plain?.model == "small" && plain?.tier == 1 && plain?.escalation == ["medium", "large"])
        // small has no tools: the second tier serves, the third is its escalation.
        let tools = table.choose(.tiers(["small", "medium", "large"]), needs: RequestNeeds(tools: true), expectedOutputTokens: 100, allows: { _ in true })
        #expect(tools.choice?.model == "medium" && tools.choice?.tier == 2 && tools.choice?.escalation == ["large"])
        #expect(tools.candidates.first?.excluded == "lacks_tools")
        // A model the key may not use is neither chosen nor escalated to.
        let limited = table.choose(.tiers(["small", "medium", "large"]), needs: RequestNeeds(), expectedOutputTokens: 100, allows: { $0 != "medium" })
        #expect(limited.choice?.escalation == ["large"])
        #expect(table.choose(.tiers(["small"]), needs: RequestNeeds(tools: true), expectedOutputTokens: 1, allows: { _ in true }).choice == nil)
    }

    @Test func cheapestCapableComparesExpectedCost() throws {
        let config = try Self.load("")
        let table = RoutingTable(config: config, seed: 1, now: { 0 })
        // 1,000 prompt + 500 output tokens: small $0.0003, medium $0.003, large $0.0125.
        let r = table.choose(.cheapest(["large", "medium", "small"]), needs: RequestNeeds(maxOutputTokens: 500, estimatedPromptTokens: 1000),
                             expectedOutputTokens: 256, allows: { _ in true })
        #expect(r.choice?.model == "small" && r.choice?.escalation == ["medium", "large"])
        let costs = Dictionary(uniqueKeysWithValues: r.candidates.map { ($0.model, $0.expectedCostUSD ?? -1) })
        #expect(abs(costs["small"]! - 0.0003) < 1e-12 && abs(costs["medium"]! - 0.003) < 1e-12 && abs(costs["large"]! - 0.0125) < 1e-12)
        // Over small's context window: medium is the cheapest that can take it.
        let long = table.choose(.cheapest(["large", "medium", "small"]), needs: RequestNeeds(estimatedPromptTokens: 9000),
                                expectedOutputTokens: 256, allows: { _ in true })
        #expect(long.choice?.model == "medium" && long.candidates.last?.excluded == "lacks_context_window")
        // A deployment its health probe finds down is not a candidate now.
        table.health.setActivelyDown(0, true)
        table.health.setActivelyDown(1, true)
        let ejected = table.choose(.cheapest(["small", "medium", "large"]), needs: RequestNeeds(), expectedOutputTokens: 256, allows: { _ in true })
        #expect(ejected.choice?.model == "large" && ejected.candidates[0].excluded == "unavailable" && ejected.candidates[1].excluded == "unavailable")
    }
}
