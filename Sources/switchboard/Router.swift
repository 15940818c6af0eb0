import ArgumentParser
import Foundation
import SwitchboardRouting

/// `switchboard router`: the built-in task-difficulty classifier from the command line.
struct Router: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score prompts' difficulty and evaluate the strong/weak router on labelled data.",
        subcommands: [Score.self, Eval.self]
    )

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read JSON lines with a \"prompt\" field on stdin; write {\"score\": S} for each, in order.",
            discussion: "Higher is harder (send to the stronger model). Blank lines are skipped."
        )

        @Option(help: "A model file (.sbdc, from scripts/router/train_classifier.py) instead of the built-in one.")
        var classifier: String?

        func run() throws {
            let scorer = DifficultyClassifier(model: try loadClassifier(classifier))
            var lineNumber = 0
            var out = ""
            while let line = readLine(strippingNewline: true) {
                lineNumber += 1
                if line.allSatisfy(\.isWhitespace) { continue }
                guard let prompt = try? JSONDecoder().decode(PromptLine.self, from: Data(line.utf8)).prompt else {
                    fail("stdin line \(lineNumber): expected a JSON object with a string \"prompt\" field")
                }
                out += "{\"score\":\(scorer.score(prompt))}\n"
                if out.utf8.count >= 1 << 16 { flush(&out) }
            }
            flush(&out)
        }

        private func flush(_ out: inout String) {
            FileHandle.standardOutput.write(Data(out.utf8))
            out = ""
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the quality-cost curve of the classifier, a random router, a length heuristic and the oracle.",
            discussion: """
                FILE has one JSON object a line with "prompt", "weak_correct" and "strong_correct" (and optionally \
                "benchmark": prompts are grouped by it). For each group: quality as a share of strong-only quality \
                at 0-100% strong calls, and the headline figure, the smallest share of strong calls reaching 95% of \
                strong-only quality. The built-in model was trained on ../shared/data/routing-eval/dev.jsonl: on that \
                file its figures are optimistic (it has seen those prompts). With --folds K the classifier is instead \
                retrained K times, as scripts/router/train_classifier.py trains it, and each prompt is scored by the \
                model that did not see it (honest figures on any labelled file; about a minute on dev.jsonl).
                """
        )

        @Option(help: "The labelled JSON-lines file.")
        var data: String

        @Option(help: "A model file (.sbdc) instead of the built-in one.")
        var classifier: String?

        @Option(help: "Step of the printed curve, in percent of strong calls.")
        var step: Int = 10

        @Option(help: "Cross-validate: retrain the classifier on all folds but one, K times, and score each prompt with the model that did not see it.")
        var folds: Int?

        @Option(help: "Seed of the fold split (with --folds).")
        var seed: UInt64 = 0

        func validate() throws {
            guard (1...50).contains(step) else { throw ValidationError("--step must be between 1 and 50") }
            if let folds, !(2...50).contains(folds) { throw ValidationError("--folds must be between 2 and 50") }
            if folds != nil && classifier != nil { throw ValidationError("--folds trains its own models: no --classifier") }
        }

        func run() throws {
            let rows = try readLabelled(data)
            let scores: [Double]
            if let folds {
                let examples = rows.map {
                    DifficultyTraining.Example(
                        prompt: $0.prompt, weakCorrect: $0.weakCorrect, strongCorrect: $0.strongCorrect,
                        subject: $0.domain)
                }
                scores = DifficultyTraining.crossValidatedScores(examples, folds: folds, seed: seed)
                print("\(folds)-fold cross-validation, seed \(seed): each prompt scored by a model trained without it\n")
            } else {
                let scorer = DifficultyClassifier(model: try loadClassifier(classifier))
                scores = rows.map { scorer.score($0.prompt) }
            }
            var groups: [String: [Int]] = [:]
            for (i, row) in rows.enumerated() { groups[row.benchmark ?? "all", default: []].append(i) }
            for name in groups.keys.sorted() {
                let members = groups[name]!
                print(report(name: name, rows: members.map { rows[$0] }, scores: members.map { scores[$0] }))
            }
        }

        private func report(name: String, rows: [LabelledLine], scores classifier: [Double]) -> String {
            let eval = RouterEvaluation(weak: rows.map(\.weakCorrect), strong: rows.map(\.strongCorrect))
            let length = rows.map { Double($0.prompt.utf8.count) }
            let curves = [eval.curve(scores: classifier), eval.curve(scores: length), eval.curve(scores: eval.oracleScores)]
            let strongQ = eval.strongQuality
            var text = "\(name): \(rows.count) prompts, weak-only quality \(fixed(eval.weakQuality, 3)), "
                + "strong-only \(fixed(strongQ, 3))\n"
            text += "  quality as % of strong-only, by share of strong calls:\n"
            text += "  strong calls  classifier    random    length    oracle\n"
            for percent in stride(from: 0, through: 100, by: step) {
                let k = Int((Double(percent) / 100 * Double(rows.count)).rounded())
                let share = Double(k) / Double(rows.count)
                let values = [curves[0][k], eval.randomQuality(share: share), curves[1][k], curves[2][k]]
                text += "  " + pad("\(percent)%", 12) + values.map { pad(fixed(100 * $0 / strongQ, 1) + "%", 12) }.joined() + "\n"
            }
            let headlines = [eval.headline(scores: classifier), eval.randomHeadline(), eval.headline(scores: length),
                             eval.headline(scores: eval.oracleScores)]
            text += "  strong calls to reach 95% of strong-only quality:  "
            text += zip(["classifier", "random", "length", "oracle"], headlines)
                .map { "\($0) \(fixed(100 * $1, 1))%" }.joined(separator: "  ")
            return text + "\n"
        }
    }
}

private struct PromptLine: Decodable {
    let prompt: String
}

private struct LabelledLine: Decodable {
    let prompt: String
    let benchmark: String?
    /// The prompt's subject (MMLU); cross-validation trains on subjects' mean gains.
    let domain: String?
    let weakCorrect: Bool
    let strongCorrect: Bool

    enum CodingKeys: String, CodingKey {
        case prompt, benchmark, domain
        case weakCorrect = "weak_correct"
        case strongCorrect = "strong_correct"
    }
}

private func loadClassifier(_ path: String?) throws -> DifficultyModel {
    guard let path else { return .embedded }
    guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read the file") }
    do {
        return try DifficultyModel(bytes: [UInt8](data))
    } catch {
        fail("\(path): \(error)")
    }
}

private func readLabelled(_ path: String) throws -> [LabelledLine] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read the file") }
    guard let text = String(data: data, encoding: .utf8) else { fail("\(path): not UTF-8 text") }
    var rows: [LabelledLine] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    where !line.allSatisfy(\.isWhitespace) {
        do {
            rows.append(try JSONDecoder().decode(LabelledLine.self, from: Data(line.utf8)))
        } catch {
            fail("\(path):\(i + 1): expected a JSON object with \"prompt\", \"weak_correct\" and \"strong_correct\"")
        }
    }
    if rows.isEmpty { fail("\(path): no prompts") }
    return rows
}

private func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(1)
}

private func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : String(repeating: " ", count: width - s.count) + s
}
