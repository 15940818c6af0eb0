import SwitchboardCore

/// Scores how hard a prompt is, 0 (easy) to 1 (hard), from its text alone.
public protocol DifficultyScoring: Sendable {
    func difficulty(of text: String) -> Double
    /// The score at and above which the strong model is needed to keep `quality` of strong-only quality.
    func threshold(forQuality quality: Double) -> Double
}

/// What routing rules can know about a request. Language and difficulty are worked out on first use, so a request
/// that no rule asks about never pays for them.
public struct RuleFacts: Sendable {
    public var model: String
    public var keyName: String
    public var team: String?
    /// The key's and its team's metadata (the key's wins).
    public var keyMetadata: [String: String] = [:]
    /// The body's `metadata` object (string values).
    public var requestMetadata: [String: String] = [:]
    public var tags: [String] = []
    /// Request headers by lower-case name.
    public var headers: [String: String] = [:]
    public var needs: RequestNeeds
    public var region: String?
    /// The request's text (nil: none, or no rule reads it).
    public var text: RequestText?
    public private(set) var language: String??
    public private(set) var difficulty: Double??

    public init(model: String, keyName: String, team: String? = nil, needs: RequestNeeds = .init(), text: RequestText? = nil) {
        self.model = model
        self.keyName = keyName
        self.team = team
        self.needs = needs
        self.text = text
    }

    public mutating func detectedLanguage() -> String? {
        if let known = language { return known }
        let found = text.flatMap { LanguageGuess.detect($0.lastUser) }
        language = .some(found)
        return found
    }

    public mutating func score(_ scorer: (any DifficultyScoring)?) -> Double? {
        if let known = difficulty { return known }
        let found = scorer.flatMap { s in text.map { s.difficulty(of: $0.lastUser) } }
        difficulty = .some(found)
        return found
    }
}

/// `router.rules` in order, and how a request is matched against them.
public struct RuleBook: Sendable {
    public let rules: [RouteRule]
    public let scorer: (any DifficultyScoring)?

    public init(rules: [RouteRule], scorer: (any DifficultyScoring)?) {
        self.rules = rules
        self.scorer = scorer
    }

    /// One rule tried: nil `failed` when it matched, else the first condition that did not hold.
    public struct Trial: Sendable, Equatable {
        public var rule: String
        public var failed: String?
    }

    /// The index of the first rule from `start` whose conditions all hold (nil: none), with every rule tried.
    public func first(_ facts: inout RuleFacts, from start: Int = 0) -> (index: Int?, trials: [Trial]) {
        var trials: [Trial] = []
        for i in rules.indices where i >= start {
            let failed = firstFailure(rules[i].when, &facts)
            trials.append(Trial(rule: rules[i].name, failed: failed))
            if failed == nil { return (i, trials) }
        }
        return (nil, trials)
    }

    /// The first condition of `c` that `facts` do not meet, in words; nil when all hold.
    func firstFailure(_ c: RuleConditions, _ facts: inout RuleFacts) -> String? {
        func anyGlob(_ patterns: [String]?, _ value: String?) -> Bool {
            guard let patterns else { return true }
            guard let value else { return false }
            return patterns.contains { globMatch($0, value) }
        }
        if !anyGlob(c.models, facts.model) { return "model" }
        if !anyGlob(c.keys, facts.keyName) { return "key" }
        if !anyGlob(c.teams, facts.team) { return "team" }
        if let wanted = c.metadata, !wanted.allSatisfy({ facts.keyMetadata[$0.key] == $0.value }) { return "metadata" }
        if let wanted = c.requestMetadata, !wanted.allSatisfy({ facts.requestMetadata[$0.key] == $0.value }) { return "request_metadata" }
        if let tags = c.tags, !tags.contains(where: facts.tags.contains) { return "tags" }
        if let headers = c.headers {
            for (name, pattern) in headers {
                guard let value = facts.headers[name], pattern.matches(value) else { return "headers.\(name)" }
            }
        }
        if let range = c.promptTokens, !range.contains(facts.needs.estimatedPromptTokens) { return "prompt_tokens" }
        if let v = c.tools, v != facts.needs.tools { return "tools" }
        if let v = c.images, v != facts.needs.vision { return "images" }
        if let v = c.json, v != facts.needs.jsonMode { return "json" }
        if let v = c.stream, v != facts.needs.streaming { return "stream" }
        if let regions = c.regions, !anyGlob(regions, facts.region) { return "region" }
        if let content = c.content, !Self.matches(content, facts.text) { return "content" }
        if let languages = c.languages {
            guard let found = facts.detectedLanguage(), languages.contains(found) else { return "language" }
        }
        if let range = c.difficulty {
            guard let score = facts.score(scorer), range.contains(score) else { return "difficulty" }
        }
        if let quality = c.difficultyQuality {
            guard let scorer, let score = facts.score(scorer), score >= scorer.threshold(forQuality: quality) else { return "difficulty" }
        }
        return nil
    }

    static func matches(_ c: ContentCondition, _ text: RequestText?) -> Bool {
        guard let text else { return false }
        let haystack = c.scope == .all ? text.all : text.lastUser
        if c.patterns.contains(where: { $0.matches(haystack) }) { return true }
        guard !c.keywords.isEmpty else { return false }
        let lowered = haystack.lowercased()
        return c.keywords.contains { containsWord(lowered, $0) }
    }

    /// Whether `phrase` occurs in `text` with no letter or digit right before or after it.
    static func containsWord(_ text: String, _ phrase: String) -> Bool {
        var searchFrom = text.startIndex
        while let found = text.range(of: phrase, range: searchFrom..<text.endIndex) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !(before?.isLetter ?? false || before?.isNumber ?? false) && !(after?.isLetter ?? false || after?.isNumber ?? false) { return true }
            searchFrom = text.index(after: found.lowerBound)
        }
        return false
    }
}
