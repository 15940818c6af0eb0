// ConfigLoader: a YAML syntax error as one problem at the empty key path — where it is (`line N, column M`), what is
// wrong in the parser's words, and the offending line's text with a caret under the column.
import Yams

extension ConfigLoader {
    /// `not valid YAML: line N, column M: REASON`, then the line and a caret (when the file has such a line).
    static func yamlProblem(_ error: any Error, in yaml: String) -> ConfigProblem {
        let (location, reason) = yamlLocation(error, in: yaml)
        guard let location else { return ConfigProblem(path: "", message: "not valid YAML: \(reason)") }
        var message = "not valid YAML: line \(location.line), column \(location.column): \(reason)"
        if let text = line(location.line, of: yaml), text.dropFirst(max(0, location.column - 1)).first == "\t" {
            message += "; indent with spaces: YAML does not allow tabs there"
        }
        // The line the parser stopped at; if it is blank (an unclosed bracket or quote found at the end of the file),
        // the line where the unclosed construct starts, else the last line with text before it.
        if let excerpt = excerpt(of: yaml, line: location.line, column: location.column)
            ?? location.context.flatMap({ excerpt(of: yaml, line: $0.line, column: $0.column) })
            ?? lastTextLine(of: yaml, before: location.line).flatMap({ excerpt(of: yaml, line: $0.line, column: $0.end) }) {
            message += "\n" + excerpt
        }
        return ConfigProblem(path: "", message: message)
    }

    /// Where the parser stopped (1-based, columns in Unicode scalars, as libyaml counts), where the construct it was
    /// reading began, and its reason for stopping.
    private static func yamlLocation(_ error: any Error, in yaml: String)
        -> (location: (line: Int, column: Int, context: (line: Int, column: Int)?)?, reason: String) {
        guard let error = error as? YamlError else { return (nil, firstLine(of: error)) }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var reason = problem
            if let context {
                let start = context.mark.line == mark.line && context.mark.column == mark.column ? ""
                    : ", which starts at line \(context.mark.line), column \(context.mark.column)"
                reason += " (\(context.text)\(start))"
            }
            return ((mark.line, mark.column, context.map { ($0.mark.line, $0.mark.column) }), reason)
        case .reader(let problem, let offset, _, let yaml):
            guard let offset, let (line, column) = lineAndColumn(ofCharacter: offset, in: yaml) else { return (nil, problem) }
            return ((line, column, nil), problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            let reason = duplicates.count == 1 ? "key \(keys) appears more than once in this mapping"
                : "keys \(keys) appear more than once in one mapping"
            guard context.mark.line > 0 else { return (nil, reason) }
            return ((context.mark.line, context.mark.column, nil), reason)
        default:
            return (nil, firstLine(of: error))
        }
    }

    private static func firstLine(of error: any Error) -> String {
        let text = String(describing: error)
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    private static func lineAndColumn(ofCharacter offset: Int, in yaml: String) -> (Int, Int)? {
        guard let end = yaml.index(yaml.startIndex, offsetBy: offset, limitedBy: yaml.endIndex) else { return nil }
        let before = yaml[..<end]
        let lineStart = before.lastIndex(where: \.isNewline).map { yaml.index(after: $0) } ?? yaml.startIndex
        let line = before.reduce(1) { $1.isNewline ? $0 + 1 : $0 }
        return (line, yaml.unicodeScalars[lineStart..<end].count + 1)
    }

    /// Line `number` (1-based) of `yaml` as Unicode scalars, without its line break.
    private static func line(_ number: Int, of yaml: String) -> [Unicode.Scalar]? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard number >= 1, number <= lines.count else { return nil }
        var text = Array(lines[number - 1].unicodeScalars)
        if text.last == "\r" { text.removeLast() }
        return text
    }

    private static func isBlank(_ text: [Unicode.Scalar]) -> Bool { text.allSatisfy(\.properties.isWhitespace) }

    /// The last line before `number` that is not blank, and the column just past its text.
    private static func lastTextLine(of yaml: String, before number: Int) -> (line: Int, end: Int)? {
        var n = number - 1
        while n >= 1 {
            if let text = line(n, of: yaml), !isBlank(text) {
                return (n, (text.lastIndex(where: { !$0.properties.isWhitespace }) ?? 0) + 2)
            }
            n -= 1
        }
        return nil
    }

    /// The text of line `number` with a caret under `column`, in a numbered gutter; nil when there is no such line or it is
    /// blank. Long lines are cut to a window around the column; control characters show as U+FFFD.
    static func excerpt(of yaml: String, line number: Int, column: Int) -> String? {
        guard let raw = line(number, of: yaml), !isBlank(raw) else { return nil }
        let text = raw.map { $0 != "\t" && ($0.value < 0x20 || (0x7F..<0xA0).contains($0.value)) ? "\u{FFFD}" : $0 }
        var caret = min(max(column - 1, 0), text.count)
        let width = 120
        var shown = text
        if text.count > width {
            let start = max(0, min(caret - width / 2, text.count - width))
            let end = min(text.count, start + width)
            shown = Array(text[start..<end])
            caret -= start
            if start > 0 { shown.insert("…", at: 0); caret += 1 }
            if end < text.count { shown.append("…") }
        }
        // Keep tabs under tabs so the caret lines up however the terminal expands them.
        let pad = shown.prefix(caret).map { $0 == "\t" ? "\t" : " " }.joined()
        let label = String(number)
        let gutter = String(repeating: " ", count: label.count)
        var out = String.UnicodeScalarView()
        out.append(contentsOf: shown)
        return "  \(label) | \(String(out))\n  \(gutter) | \(pad)^"
    }
}
