import Foundation
import SwitchboardCore

/// A batch input file read line by line: every line a JSON object with a unique `custom_id`, `method: POST`, a `url`
/// the gateway runs and a `body` object (not streamed), as OpenAI's Batch API expects. Pure: no I/O.
struct BatchInput: Sendable {
    struct Line: Sendable, Equatable {
        /// 1-based line number in the file (blank lines counted).
        var number: Int
        var customID: String
        var url: String
        /// The `body` object, as compact JSON text.
        var body: String
    }

    var lines: [Line]

    /// The endpoints a batch line may call.
    static let endpoints = ["/v1/chat/completions", "/v1/embeddings"] + responsesEndpoint
    /// `/v1/responses` lines, served as `POST /v1/responses` is.
    static let responsesEndpoint = ["/v1/responses"]

    /// Reads and checks every line; the first bad one is a 400 naming its line number and field.
    static func parse(_ text: String, maxLines: Int = BatchesConfig.maxLines) throws(GatewayError) -> BatchInput {
        var lines: [Line] = []
        var seen = Set<String>()
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            if lines.count == maxLines {
                throw GatewayError(.invalidParameter, "The file has more than \(maxLines) requests; a batch may have at most \(maxLines).",
                                   param: "file")
            }
            let line = try parseLine(trimmed, number: number)
            guard seen.insert(line.customID).inserted else {
                throw invalid(number, "custom_id", "'custom_id' \(JSONString.quote(line.customID)) is used by an earlier line; each must be unique within the file.")
            }
            lines.append(line)
        }
        if lines.isEmpty { throw GatewayError(.invalidParameter, "The file has no requests: expected one JSON object per line.", param: "file") }
        return BatchInput(lines: lines)
    }

    static func parseLine(_ text: String, number: Int) throws(GatewayError) -> Line {
        guard let value = JSONValue.parse(Data(text.utf8)) else {
            throw invalid(number, "line", "not valid JSON.")
        }
        guard let object = value.object else { throw invalid(number, "line", "expected a JSON object.") }
        guard let customID = object["custom_id"]?.string, !customID.isEmpty else {
            throw invalid(number, "custom_id", "'custom_id' must be a non-empty string.")
        }
        guard customID.utf8.count <= 512 else { throw invalid(number, "custom_id", "'custom_id' is longer than 512 bytes.") }
        guard object["method"]?.string == "POST" else {
            throw invalid(number, "method", "'method' must be \"POST\".")
        }
        guard let url = object["url"]?.string else { throw invalid(number, "url", "'url' must be a string.") }
        guard endpoints.contains(url) else {
            throw invalid(number, "url", "'url' \(JSONString.quote(url)) is not supported; expected one of \(endpoints.joined(separator: ", ")).")
        }
        guard let body = object["body"], let fields = body.object else {
            throw invalid(number, "body", "'body' must be a JSON object.")
        }
        guard let model = fields["model"]?.string, !model.isEmpty else {
            throw invalid(number, "body.model", "'body.model' must be a non-empty string.")
        }
        if let stream = fields["stream"], stream != .bool(false), !stream.isNull {
            throw invalid(number, "body.stream", "'body.stream' is not supported in a batch: its requests are not streamed.")
        }
        return Line(number: number, customID: customID, url: url, body: body.jsonText)
    }

    static func invalid(_ line: Int, _ field: String, _ what: String) -> GatewayError {
        GatewayError(.invalidParameter, "Line \(line) of the file: \(what)", param: field)
    }
}

/// A `multipart/form-data` body (RFC 7578) split into its parts. Pure.
struct MultipartForm: Sendable {
    struct Part: Sendable {
        var name: String
        var filename: String?
        var data: [UInt8]
    }

    var parts: [Part]

    func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    /// The boundary of a `multipart/form-data` content type; nil for any other type.
    static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for p in pieces.dropFirst() where p.lowercased().hasPrefix("boundary=") {
            var b = String(p.dropFirst("boundary=".count))
            if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = String(b.dropFirst().dropLast()) }
            return b.isEmpty || b.utf8.count > 200 ? nil : b
        }
        return nil
    }

    /// Splits `body` at `--boundary` lines; nil when it is not a well-formed form.
    static func parse(_ body: [UInt8], boundary: String) -> MultipartForm? {
        let delimiter = Array(("--" + boundary).utf8)
        guard var at = find(delimiter, in: body, from: 0) else { return nil }
        var parts: [Part] = []
        let separator = Array("\r\n\r\n".utf8), next = Array(("\r\n--" + boundary).utf8)
        while true {
            at += delimiter.count
            // `--` after the delimiter ends the form.
            if body.count >= at + 2, body[at] == UInt8(ascii: "-"), body[at + 1] == UInt8(ascii: "-") { return MultipartForm(parts: parts) }
            guard let headEnd = find(separator, in: body, from: at) else { return nil }
            let head = String(decoding: body[at..<headEnd], as: UTF8.self)
            let start = headEnd + separator.count
            guard let end = find(next, in: body, from: start) else { return nil }
            guard let part = part(head: head, data: Array(body[start..<end])) else { return nil }
            parts.append(part)
            at = end + 2
        }
    }

    private static func part(head: String, data: [UInt8]) -> Part? {
        for line in head.split(whereSeparator: \.isNewline) {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition" else { continue }
            var name: String?, filename: String?
            for item in pair[1].split(separator: ";").dropFirst() {
                let kv = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else { continue }
                var value = kv[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch kv[0].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            return name.map { Part(name: $0, filename: filename, data: data) }
        }
        return nil
    }

    /// The first index of `needle` in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
