import Foundation
import Testing
@testable import SwitchboardRouting

/// The built-in task-difficulty classifier: parity with the training script, sanity on prompts outside its data.
@Suite struct DifficultyClassifierTests {
    static let classifier = DifficultyClassifier()

    struct ParityCase: Decodable, CustomTestStringConvertible {
        let prompt: String
        let score: Double
        var testDescription: String { String(prompt.prefix(40)) }
    }

    /// Prompts and the scores `scripts/router/train_classifier.py` computed for them with the model it embedded.
    static let parityCases: [ParityCase] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("difficulty/parity.jsonl")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(ParityCase.self, from: Data($0.utf8)) }
    }()

    @Test func parityFixtureIsThere() {
        #expect(Self.parityCases.count >= 40)
    }

    @Test(arguments: parityCases)
    func swiftScoresEqualPythonScores(_ c: ParityCase) {
        #expect(abs(Self.classifier.score(c.prompt) - c.score) < 1e-4)
    }

    @Test func embeddedModelFileMatchesTheShippedFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/router/difficulty.sbdc")
        let bytes = [UInt8](try Data(contentsOf: url))
        let model = try DifficultyModel(bytes: bytes)
        #expect(model.hashed == DifficultyModel.embedded.hashed)
        #expect(model.bias == DifficultyModel.embedded.bias)
        #expect(model.bits == 16)
    }

    @Test func badModelFilesAreRefusedWithAReason() {
        #expect(throws: DifficultyModelError.self) { try DifficultyModel(bytes: Array("nope".utf8)) }
        #expect(throws: DifficultyModelError.self) { try DifficultyModel(bytes: Array("SBDC".utf8) + [1, 0, 0, 0]) }
        var truncated = [UInt8]("SBDC".utf8) + [1, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0]
        truncated += [UInt8](repeating: 0, count: 4 * 7 + 4)
        #expect(throws: DifficultyModelError.self) { try DifficultyModel(bytes: truncated) }
    }

    @Test func aHardMultiStepMathsPromptScoresAboveSmallTalk() {
        let hard = """
            Prove that for every integer n >= 1 the sum 1^3 + 2^3 + ... + n^3 equals (n(n+1)/2)^2, then use it to \
            compute how many hours a machine running 3 shifts of 7.5 hours needs to process 12,840 parts if it \
            makes 4 parts per minute in the first shift and 15% fewer in each following shift.
            """
        #expect(Self.classifier.score(hard) > Self.classifier.score("hi, how are you"))
    }

    /// "Sensibly" on open-ended prompts, which are not in the training data, means three things here:
    /// 1. every score is finite and inside the range the model gives its training prompts (about -0.3...0.6), so a
    ///    threshold set on benchmark data never sends an open-ended prompt somewhere absurd;
    /// 2. demanding tasks (an algorithm to implement and analyse, a multi-step argument, an essay with constraints)
    ///    score above small talk and one-line lookups, on average;
    /// 3. a greeting is never routed to the strong model at the 95%-quality threshold.
    static let easy = [
        "hi, how are you",
        "Thanks!",
        "What is the capital of France?",
        "Translate 'good morning' into Spanish.",
    ]
    static let demanding = [
        "Implement a lock-free multi-producer multi-consumer queue in C++ with std::atomic, explain the memory "
            + "orderings you chose, and prove that enqueue and dequeue are linearizable.",
        "Write a 1,500-word essay comparing the economic policies of the Meiji restoration with those of post-war "
            + "West Germany, with a thesis, three arguments, counter-arguments and a conclusion.",
        "A train leaves at 9:40 at 84 km/h; a second leaves the same station 25 minutes later at 112 km/h on a "
            + "parallel track. After how many kilometres does the second overtake the first? Reason step by step.",
        "Given a weighted directed graph with negative edges but no negative cycles, design an algorithm for all-pairs "
            + "shortest paths faster than Floyd-Warshall on sparse graphs, and analyse its complexity.",
    ]

    @Test(arguments: easy + demanding)
    func openEndedScoresAreFiniteAndInRange(_ prompt: String) {
        let s = Self.classifier.score(prompt)
        #expect(s.isFinite)
        #expect((-0.3...0.6).contains(s))
    }

    @Test func demandingOpenEndedPromptsScoreAboveEasyOnes() {
        let mean = { (ps: [String]) in ps.map(Self.classifier.score).reduce(0, +) / Double(ps.count) }
        #expect(mean(Self.demanding) > mean(Self.easy))
    }

    @Test func aGreetingStaysOnTheWeakModelAtTheQualityTarget() {
        let threshold = DifficultyModel.embedded.threshold(forQuality: 0.95)
        #expect(threshold.isFinite)
        #expect(Self.classifier.score("hi, how are you") < threshold)
    }

    @Test func thresholdsRiseWithTheQualityTarget() {
        let model = DifficultyModel.embedded
        #expect(model.threshold(forQuality: 0.90) >= model.threshold(forQuality: 0.99))
        #expect(model.threshold(forQuality: 1.5) == -.infinity)
    }

    @Test func cueListsMatchTheModelLayout() {
        #expect(DifficultyCues.wordGroups.count == DifficultyCues.wordGroupCount)
        #expect(DifficultyModel.embedded.denseWeights.count == DifficultyModel.denseCount)
        let table = DifficultyCues.table
        #expect(table.masks.filter { $0 != 0 }.count == Set((DifficultyCues.wordGroups + DifficultyCues.chainMarkers).joined()).count)
    }

    @Test func emptyAndWhitespacePromptsScore() {
        #expect(Self.classifier.score("").isFinite)
        #expect(Self.classifier.score(" \n\t ").isFinite)
    }
}

/// The quality–cost arithmetic behind `switchboard router eval`.
@Suite struct RouterEvaluationTests {
    // Four prompts: only strong right, both right, only weak right, neither.
    let eval = RouterEvaluation(weak: [false, true, true, false], strong: [true, true, false, false])

    @Test func curveFollowsTheScoreOrder() {
        #expect(eval.curve(scores: [4, 3, 2, 1]) == [0.5, 0.75, 0.75, 0.5, 0.5])
        #expect(eval.curve(scores: [1, 2, 3, 4]) == [0.5, 0.5, 0.25, 0.25, 0.5])
    }

    @Test func tiedScoresTakeTheExpectedValue() {
        #expect(eval.curve(scores: [0, 0, 0, 0]) == [0.5, 0.5, 0.5, 0.5, 0.5])
        let q = eval.curve(scores: [1, 1, 0, 0])
        #expect(q[1] == 0.625 && q[2] == 0.75)
    }

    @Test func headlinesOfOracleAndRandom() {
        #expect(eval.headline(scores: eval.oracleScores) == 0)  // weak-only already reaches 95% of 0.5
        let gsm = RouterEvaluation(weak: [false, false, true, true], strong: [true, true, true, true])
        #expect(gsm.headline(scores: gsm.oracleScores) == 0.5)
        #expect(gsm.randomHeadline() == 1.0)  // 4 * (0.95 - 0.5) / 0.5 = 3.6 prompts, rounded up to 4
        #expect(gsm.randomQuality(share: 0.5) == 0.75)
    }
}
