import Foundation
import SwitchboardCore
import Testing

/// The privacy guardrail's detectors measured on a labelled corpus (`Tests/guardrails/pii-corpus.jsonl`, written by
/// `scripts/guardrails/build_pii_corpus.py`): precision and recall per kind, with floors just under what they reach.
@Suite struct PIICorpusTests {
    /// The configured names the corpus plants (`NAMES` in the generator).
    static let names = ["Jane Doe", "Rahul Sharma", "Wei Zhang", "Olivia Martin", "Kwame Mensah", "Sofia Rossi", "Acme Corp"]

    struct Span: Decodable, Hashable {
        let kind: String
        let value: String
    }

    struct Row: Decodable {
        let text: String
        let spans: [Span]
        let source: String
    }

    static let corpus: [Row] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("guardrails/pii-corpus.jsonl")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
    }()

    /// Per kind: values labelled, values found, and found values that equal a labelled value of the same kind.
    struct Tally {
        var labelled = 0
        var found = 0
        var correct = 0
        var precision: Double { found == 0 ? 1 : Double(correct) / Double(found) }
        var recall: Double { labelled == 0 ? 1 : Double(correct) / Double(labelled) }
    }

    /// Scores `rows`: a find is right when a labelled value of its kind has exactly its text (each labelled value
    /// matches once); a find that only overlaps one is a false positive, and the labelled value a false negative.
    static func measure(_ rows: [Row]) -> (tallies: [String: Tally], errors: [String]) {
        let scanner = PIIScanner(names: names)
        var tallies: [String: Tally] = [:]
        var errors: [String] = []
        for row in rows {
            let bytes = Array(row.text.utf8)
            let found = scanner.scan(row.text).map { Span(kind: $0.kind.name, value: String(decoding: bytes[$0.range], as: UTF8.self)) }
            var unmatched: [Span: Int] = [:]
            for span in row.spans {
                unmatched[span, default: 0] += 1
                tallies[span.kind, default: Tally()].labelled += 1
            }
            for span in found {
                tallies[span.kind, default: Tally()].found += 1
                if let left = unmatched[span], left > 0 {
                    unmatched[span] = left - 1
                    tallies[span.kind, default: Tally()].correct += 1
                } else {
                    errors.append("false positive \(span.kind) \(span.value.debugDescription) [\(row.source)]")
                }
            }
            for (span, left) in unmatched where left > 0 {
                errors.append("missed \(span.kind) \(span.value.debugDescription) [\(row.source)]")
            }
        }
        return (tallies, errors)
    }

    static func table(_ tallies: [String: Tally]) -> String {
        var lines = ["| kind | labelled | found | precision | recall |", "|---|---:|---:|---:|---:|"]
        for kind in PIIKind.builtIn.map(\.name) {
            let t = tallies[kind, default: Tally()]
            lines.append("| `\(kind)` | \(t.labelled) | \(t.found) | \(String(format: "%.3f", t.precision)) | \(String(format: "%.3f", t.recall)) |")
        }
        return lines.joined(separator: "\n")
    }

    @Test func theCorpusIsThereAndItsLabelsAreInItsTexts() {
        #expect(Self.corpus.count >= 900)
        let kinds = Set(PIIKind.builtIn.map(\.name))
        for row in Self.corpus {
            for span in row.spans {
                #expect(kinds.contains(span.kind) && row.text.contains(span.value), "\(span) in \(row.text)")
            }
        }
        let labelled = Set(Self.corpus.flatMap(\.spans).map(\.kind))
        #expect(labelled == kinds)
    }

    /// Floors a little under the figures the detectors reach (see Tests/guardrails/README.md): a change that loses a
    /// format or finds a new kind of look-alike fails here, and its table is printed either way.
    @Test func precisionAndRecallPerKind() {
        let (all, errors) = Self.measure(Self.corpus)
        let (documented, _) = Self.measure(Self.corpus.filter { $0.source != "beyond_docs" })
        print("PII corpus, \(Self.corpus.count) texts:\n\(Self.table(all))")
        print("Without the formats the documentation says are left alone (beyond_docs):\n\(Self.table(documented))")
        // Each error once per source; the values too with PII_CORPUS_ERRORS=1.
        var bySource: [String: Int] = [:]
        for error in errors { bySource[String(error.split(separator: "[").last?.dropLast() ?? ""), default: 0] += 1 }
        print("Errors (\(errors.count)) by source: " + bySource.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if ProcessInfo.processInfo.environment["PII_CORPUS_ERRORS"] != nil { print(errors.joined(separator: "\n")) }

        let floors: [String: (precision: Double, recall: Double)] = [
            "secret": (0.97, 0.95), "email": (0.96, 0.98), "iban": (0.98, 0.95), "card": (0.94, 0.98),
            "ssn": (0.98, 0.90), "ip": (0.97, 0.97), "phone": (0.96, 0.87), "name": (0.98, 0.98),
        ]
        for (kind, floor) in floors {
            let t = all[kind, default: Tally()]
            #expect(t.precision >= floor.precision, "\(kind) precision \(t.precision)")
            #expect(t.recall >= floor.recall, "\(kind) recall \(t.recall)")
        }
    }
}
