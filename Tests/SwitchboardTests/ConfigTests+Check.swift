// What `switchboard check` tells a new user (issue 14): every problem at once, no knock-on errors, did-you-means for
// short names, YAML errors with the offending line, and why a file cannot be read.
import Foundation
import Testing
@testable import SwitchboardCore

extension ConfigTests {
    /// A model whose deployment names an unknown provider still has its fallbacks checked.
    @Test func badDeploymentDoesNotHideBadFallback() {
        let found = problems("""
        providers:
          - { name: openai, kind: openai, api_key: sk-test }
        models:
          - name: chat
            deployments:
              - { provider: opnai, model: gpt-4o }
            fallbacks: [chat-bakup]
            context_window_fallbacks: [chat]
            retries: 11
          - name: chat-backup
            deployments:
              - { provider: openai, model: gpt-4o-mini }
        """)
        #expect(found == [
            #"models[0].deployments[0].provider: unknown provider "opnai"; did you mean "openai"?"#,
            "models[0].retries: must be between 0 and 10, found 11",
            #"models[0].fallbacks[0]: unknown model "chat-bakup"; did you mean "chat-backup"?"#,
            "models[0].context_window_fallbacks[0]: a model cannot fall back to itself",
        ])
    }

    /// A fallback naming a model that is written but fails to load is not also "unknown".
    @Test func fallbackToBrokenModelIsNotUnknown() {
        let found = problems("""
        providers: [ { name: p, kind: mock } ]
        models:
          - { name: chat, deployments: [ { provider: p, model: x } ], fallbacks: [backup] }
          - { name: backup, deployments: [ { provider: p } ] }
        routing: { default_fallback: backup }
        """)
        #expect(found == ["models[1].deployments[0].model: required"])
    }

    /// A typo in a provider's `kind` is reported once, with a did-you-mean; deployments using it are not "unknown".
    @Test func providerKindTypoIsReportedOnce() {
        let found = problems("""
        providers:
          - { name: openai, kind: opnai, api_key: sk-test, health_check: { interval_s: 0 } }
          - { name: spare, kind: mock }
        models:
          - name: chat
            deployments: [ { provider: openai, model: gpt-4o }, { provider: spare, model: x } ]
          - name: chat-mini
            deployments: [ { provider: openai, model: gpt-4o-mini } ]
            fallbacks: [chat]
          - name: other
            deployments: [ { provider: opneai, model: x } ]
        """)
        #expect(found == [
            #"providers[0].kind: unknown provider kind "opnai"; did you mean "openai"? (known: openai, anthropic, azure, gemini, mock)"#,
            "providers[0].health_check.interval_s: must be between 0.05 and 86400, found 0",
            #"models[2].deployments[0].provider: unknown provider "opneai"; did you mean "openai"?"#,
        ])
        // A provider without a kind: "required" once, and nothing at its deployments.
        #expect(problems("providers: [ { name: p } ]\nmodels: [ { name: m, deployments: [ { provider: p, model: x } ] } ]")
            == ["providers[0].kind: required"])
    }

    @Test(arguments: [
        // A swapped pair is one edit, so short names get their suggestion.
        ("chta", ["chat", "chat-backup"], "chat"),
        ("chat-bakup", ["chat", "chat-backup"], "chat-backup"),
        ("opnai", ProviderKind.names, "openai"),
        ("mokc", ProviderKind.names, "mock"),
        ("gemnii", ProviderKind.names, "gemini"),
        ("antropic", ProviderKind.names, "anthropic"),
        ("mian", ["main", "backup"], "main"),
        ("wieghted", BalancingPolicyName.allCases.map { $0.rawValue }, "weighted"),
        ("rnadom", BalancingPolicyName.allCases.map { $0.rawValue }, "random"),
        ("naem", ["name", "kind", "region"], "name"),
        ("mdoel", ["provider", "model", "weight"], "model"),
        ("OpenAI", ProviderKind.names, "openai"),
        ("ab", ["ba", "zz"], "ba"),
        // Nothing absurd.
        ("xyz", ["chat", "chat-backup"], nil),
        ("a", ["b", "c"], nil),
        ("gpt", ["claude", "gemini"], nil),
        ("p2c", BalancingPolicyName.allCases.map { $0.rawValue }, nil),
        ("chat-backup-2-long", ["chat"], nil),
        ("azure-east", ProviderKind.names, nil),
    ] as [(String, [String], String?)])
    func suggestions(word: String, candidates: [String], expected: String?) {
        #expect(suggestion(for: word, among: candidates) == expected)
    }

    @Test func editDistanceCountsATranspositionOnce() {
        #expect(editDistance("chta", "chat") == 1)
        #expect(editDistance("opnai", "openai") == 1)
        #expect(editDistance("ca", "abc") == 3)  // optimal string alignment: no edit of a transposed pair
        #expect(editDistance("", "abc") == 3 && editDistance("abc", "abc") == 0)
    }

    /// Short typos get their did-you-mean wherever a name is looked up: keys, kinds, policies, providers, models.
    @Test func shortTyposAreSuggestedEverywhere() {
        let found = problems("""
        providers:
          - { naem: x, name: main, kind: mock }
          - { name: b, kind: mokc }
        models:
          - { name: chat, balancing: rnadom, deployments: [ { provider: mian, model: x } ] }
          - { name: backup, deployments: [ { provider: main, model: x } ], fallbacks: [chta] }
        """)
        for e in [
            #"providers[0].naem: unknown key "naem"; did you mean "name"?"#,
            #"providers[1].kind: unknown provider kind "mokc"; did you mean "mock"?"#,
            #"models[0].balancing: unknown balancing policy "rnadom"; did you mean "random"?"#,
            #"models[0].deployments[0].provider: unknown provider "mian"; did you mean "main"?"#,
            #"models[1].fallbacks[0]: unknown model "chta"; did you mean "chat"?"#,
        ] {
            #expect(found.contains { $0.hasPrefix(e) }, "missing: \(e)\nall:\n\(found.joined(separator: "\n"))")
        }
        // A model's own name is not suggested for its fallbacks (that would be a self-fallback).
        #expect(problems("providers: [ { name: p, kind: mock } ]\nmodels: [ { name: chat, deployments: [ { provider: p, model: x } ], fallbacks: [chta] } ]")
            == [#"models[0].fallbacks[0]: unknown model "chta""#])
    }

    /// Invalid YAML: where (line and column), the parser's reason, and the line with a caret, at the empty path.
    @Test(arguments: [
        // A key indented one space too far.
        ("providers:\n  - name: openai\n    kind: openai\n     api_key: sk-test\n",
         "not valid YAML: line 4, column 13: mapping values are not allowed in this context\n  4 |      api_key: sk-test\n    |             ^"),
        // An unclosed bracket is found at the end of the file: the last line with text is shown, the caret past its end.
        ("providers: [\n",
         "not valid YAML: line 2, column 1: did not find expected node content (while parsing a flow node)\n  1 | providers: [\n    |             ^"),
        // An unclosed quote: the line where it starts.
        ("server:\n  listen: \"127.0.0.1:80\nmodels: []\n",
         "not valid YAML: line 4, column 1: found unexpected end of stream (while scanning a quoted scalar, which starts at line 2, column 11)\n  2 |   listen: \"127.0.0.1:80\n    |           ^"),
        // A tab in the indentation.
        ("server:\n\tlisten: x\n",
         "not valid YAML: line 2, column 1: found character that cannot start any token (while scanning for the next token); indent with spaces: YAML does not allow tabs there\n  2 | \tlisten: x\n    | ^"),
        ("server: {}\nserver: {}\n",
         "not valid YAML: line 1, column 1: key \"server\" appears more than once in this mapping\n  1 | server: {}\n    | ^"),
    ])
    func yamlError(yaml: String, expected: String) throws {
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(yaml: yaml, environment: [:]) }
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.path == "")
        #expect(error.problems.first?.description == expected)
    }

    @Test func yamlExcerptOfALongLineIsAWindowAroundTheColumn() {
        let line = String(repeating: "a", count: 300) + "X" + String(repeating: "b", count: 300)
        let excerpt = ConfigLoader.excerpt(of: "k: 1\n" + line + "\n", line: 2, column: 301) ?? ""
        let rows = excerpt.split(separator: "\n").map(String.init)
        #expect(rows.count == 2)
        #expect(rows[0].hasPrefix("  2 | …") && rows[0].hasSuffix("…") && rows[0].count < 140)
        // The caret is under the X.
        let x = rows[0].firstIndex(of: "X").map { rows[0].distance(from: rows[0].startIndex, to: $0) }
        let caret = rows[1].firstIndex(of: "^").map { rows[1].distance(from: rows[1].startIndex, to: $0) }
        #expect(x != nil && x == caret)
        #expect(ConfigLoader.excerpt(of: "a\n\n", line: 2, column: 1) == nil)
        #expect(ConfigLoader.excerpt(of: "a\n", line: 9, column: 1) == nil)
    }

    /// A file that cannot be read says why, in the system's words.
    @Test func unreadableConfigFileSaysWhy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("gw.yaml").path
        let error = try #require(throws: ConfigFileError.self) { try ConfigLoader.readFile(missing) }
        #expect(error.description == "cannot read config file \"\(missing)\": No such file or directory")
        let notAFile = try #require(throws: ConfigFileError.self) { try ConfigLoader.readFile(dir.path) }
        #expect(notAFile.reason == "Is a directory")

        let file = dir.appendingPathComponent("ok.yaml")
        try Data("storage: memory\n".utf8).write(to: file)
        #expect(try ConfigLoader.readFile(file.path) == "storage: memory\n")
    }
}
