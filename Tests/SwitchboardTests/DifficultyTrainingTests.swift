import SwitchboardCore
import Testing
@testable import SwitchboardRouting

/// Training the difficulty classifier in Swift (`switchboard router eval --folds K`): fold splits and a model that
/// learns what a small synthetic set teaches.
@Suite struct DifficultyTrainingTests {
    /// Prompts of filler words with a marker: "eigenvalue" ones only the strong model answers, "picnic" ones both do.
    static func synthetic(count: Int, seed: UInt64) -> [DifficultyTraining.Example] {
        let filler = ["please", "explain", "the", "idea", "of", "a", "short", "note", "about", "our", "plan", "for"]
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let hard = i % 2 == 0
            var words = (0..<8).map { _ in filler.randomElement(using: &generator)! }
            words.insert(hard ? "eigenvalue" : "picnic", at: Int(generator.next() % 8))
            return .init(prompt: words.joined(separator: " "), weakCorrect: !hard, strongCorrect: true)
        }
    }

    @Test func theFoldSplitIsDeterministicForASeedAndBalanced() {
        let a = DifficultyTraining.foldIDs(count: 103, folds: 5, seed: 7)
        #expect(a == DifficultyTraining.foldIDs(count: 103, folds: 5, seed: 7))
        #expect(a != DifficultyTraining.foldIDs(count: 103, folds: 5, seed: 8))
        let sizes = (0..<5).map { f in a.count { $0 == f } }
        #expect(sizes.allSatisfy { $0 == 20 || $0 == 21 })
        #expect(sizes.reduce(0, +) == 103)
    }

    @Test func aTrainedModelRanksTheHardVocabularyAboveTheEasyOne() {
        let model = DifficultyTraining.train(Self.synthetic(count: 120, seed: 1))
        let classifier = DifficultyClassifier(model: model)
        let hard = classifier.score("could you explain the eigenvalue plan")
        let easy = classifier.score("could you explain the picnic plan")
        #expect(hard > easy + 0.3)
        #expect(classifier.score("hi") < hard)
    }

    @Test func crossValidatedScoresSeparateHeldOutPrompts() {
        let examples = Self.synthetic(count: 100, seed: 2)
        let scores = DifficultyTraining.crossValidatedScores(examples, folds: 5, seed: 0)
        let eval = RouterEvaluation(weak: examples.map(\.weakCorrect), strong: examples.map(\.strongCorrect))
        // The hard half needs the strong model: a perfect ranking reaches 95% with about 40% strong calls.
        #expect(eval.headline(scores: scores) <= 0.45)
        #expect(scores == DifficultyTraining.crossValidatedScores(examples, folds: 5, seed: 0))
    }

    @Test func subjectsAreTrainedOnTheirShrunkMeanGain() {
        let examples: [DifficultyTraining.Example] = [
            .init(prompt: "a", weakCorrect: false, strongCorrect: true, subject: "law"),
            .init(prompt: "b", weakCorrect: true, strongCorrect: true, subject: "law"),
            .init(prompt: "c", weakCorrect: true, strongCorrect: false),
        ]
        let y = DifficultyTraining.targets(examples, rows: [0, 1, 2])
        // overall mean gain 0; law: (1 + 0 + 10 × 0) / (2 + 10).
        #expect(abs(y[0] - 1.0 / 12) < 1e-12 && abs(y[1] - 1.0 / 12) < 1e-12)
        #expect(y[2] == -1)
    }
}
