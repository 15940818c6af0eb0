import Foundation
import NIOCore
import Testing
@testable import SwitchboardCore
@testable import SwitchboardProviders

/// A seeded mutation fuzzer over the parsers that read what clients and upstreams send: the request peek, JSON
/// values, the SSE relay and the Anthropic/Gemini translators. Inputs start from the corpus in `Tests/fuzz-corpus`
/// and are mutated (bit flips, cuts, splices, deep nesting, absurd numbers, invalid UTF-8, repeated chunks); streams
/// are fed in random chunks. Each target must return or throw its documented error — never trap, never hang — and
/// keep its invariants. `FUZZ_ITERATIONS` (default 4000 per target) and `FUZZ_SEED` widen a run.
@Suite struct FuzzTests {
    static let iterations = ProcessInfo.processInfo.environment["FUZZ_ITERATIONS"].flatMap(Int.init) ?? 4000
    static let seed = ProcessInfo.processInfo.environment["FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED_F022

    static let corpusDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz-corpus")

    static func corpus(_ suffix: String) throws -> [[UInt8]] {
        let names = try FileManager.default.contentsOfDirectory(atPath: corpusDirectory.path).filter { $0.hasSuffix(suffix) }.sorted()
        let files = try names.map { Array(try Data(contentsOf: corpusDirectory.appendingPathComponent($0))) }
        #expect(!files.isEmpty, "no \(suffix) files in \(corpusDirectory.path)")
        return files
    }

    /// One mutation of `input` (sometimes spliced with `other`).
    static func mutate(_ input: [UInt8], _ other: [UInt8], _ g: inout SplitMix64) -> [UInt8] {
        var b = input
        let rounds = Int.random(in: 1...4, using: &g)
        for _ in 0..<rounds {
            let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &g)
            switch Int.random(in: 0..<11, using: &g) {
            case 0 where !b.isEmpty: b[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &g))
            case 1 where !b.isEmpty: b.remove(at: at)
            case 2: b.insert(UInt8.random(in: 0...255, using: &g), at: at)
            case 3: b = Array(b.prefix(at))                                                    // cut short
            case 4 where !other.isEmpty:                                                       // splice
                let from = Int.random(in: 0..<other.count, using: &g)
                b = Array(b.prefix(at)) + other[from...]
            case 5:
                let depth = Int.random(in: 1...600, using: &g)
                b.insert(contentsOf: Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8), at: at)
            case 6:
                let numbers = ["9223372036854775807", "-9223372036854775808", "1e308", "-1e999", "18446744073709551616", "0.0000001", "-0"]
                b.insert(contentsOf: Array(numbers[Int.random(in: 0..<numbers.count, using: &g)].utf8), at: at)
            case 7:
                let bad: [[UInt8]] = [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], Array(#"\ud800"#.utf8), [0xF4, 0x90, 0x80, 0x80], [0]]
                b.insert(contentsOf: bad[Int.random(in: 0..<bad.count, using: &g)], at: at)
            case 8 where !b.isEmpty:                                                           // repeat a run
                let n = Int.random(in: 1...min(64, b.count - at), using: &g)
                b.insert(contentsOf: b[at..<(at + n)], at: at)
            case 9:
                let tokens = [#""model":"#, #""stream":true"#, #""usage":{"prompt_tokens":"#, "\n\n", "data: ", "\r\n", #"{"type":"message_stop"}"#, "[DONE]"]
                b.insert(contentsOf: Array(tokens[Int.random(in: 0..<tokens.count, using: &g)].utf8), at: at)
            default:
                if !b.isEmpty { b[at] = UInt8(ascii: ["{", "}", "\"", ":", ",", "\\", "[", "]"][Int.random(in: 0..<8, using: &g)]) }
            }
        }
        return b
    }

    /// The inputs of one target: the corpus, then its mutations.
    static func inputs(_ corpus: [[UInt8]], salt: UInt64) -> [[UInt8]] {
        var g = SplitMix64(seed: seed ^ salt)
        var out = corpus
        for i in 0..<iterations {
            let base = corpus[i % corpus.count]
            out.append(mutate(base, corpus[Int.random(in: 0..<corpus.count, using: &g)], &g))
        }
        return out
    }

    /// Random cut points for feeding `count` bytes in chunks.
    static func cuts(_ count: Int, _ g: inout SplitMix64) -> [Int] {
        guard count > 1 else { return [] }
        return (0..<Int.random(in: 0...min(12, count - 1), using: &g)).map { _ in Int.random(in: 1..<count, using: &g) }.sorted()
    }

    @Test func requestPeekAcceptsOrRefusesWithA400() throws {
        for input in Self.inputs(try Self.corpus(".json"), salt: 1) {
            let body = ByteBuffer(bytes: input)
            for route in 0..<3 {
                do {
                    let out: ByteBuffer
                    switch route {
                    case 0: out = try OpenAIRequest.chat(body).upstreamBody(model: "upstream-model")
                    case 1: out = try OpenAIRequest.embeddings(body).upstreamBody(model: "u")
                    default: out = try AnthropicMessagesRequest.parse(body).upstreamBody(model: "u")
                    }
                    // What goes upstream is still one well-formed JSON object.
                    #expect(out.withUnsafeReadableBytes { (try? JSONPeek.topLevel($0, keys: [])) != nil }, "\(String(decoding: input, as: UTF8.self).prefix(200))")
                } catch {
                    #expect(error.status == 400, "\(error)")
                }
            }
            _ = try? AnthropicMessagesRequest.countTokensModel(body)
        }
    }

    @Test func jsonValuesRoundTrip() throws {
        for input in Self.inputs(try Self.corpus(".json") + Self.corpus(".sse"), salt: 2) {
            guard let value = input.withUnsafeBytes({ JSONValue.parse($0) }) else { continue }
            let text = value.jsonText
            #expect(JSONValue.parse(Data(text.utf8)) == value, "round trip of \(text.prefix(200))")
        }
    }

    @Test func translatorsTakeAnyRequest() throws {
        for input in Self.inputs(try Self.corpus(".json"), salt: 3) {
            guard let value = input.withUnsafeBytes({ JSONValue.parse($0) }) else { continue }
            _ = try? AnthropicTranslation.request(value, model: "m")
            _ = try? MessagesToOpenAI.request(value)
            _ = try? GeminiTranslation.request(value)
            _ = try? GeminiTranslation.embeddingsRequest(value, model: "m")
            _ = AnthropicTranslation.response(value, created: 1)
            _ = GeminiTranslation.response(value, model: "m", created: 1)
            _ = MessagesToOpenAI.response(value, usage: Usage(), model: "m")
        }
    }

    @Test func sseRelayForwardsEveryByteAndKeepsUsageBounded() throws {
        var g = SplitMix64(seed: Self.seed ^ 4)
        for input in Self.inputs(try Self.corpus(".sse"), salt: 4) {
            for format in [SSERelay.Format.openAI, .anthropic] {
                var relay = SSERelay(mode: .passthrough, format: format)
                var strip = SSERelay(mode: .stripUsageChunk, format: format)
                var out: [UInt8] = []
                var start = 0
                for cut in Self.cuts(input.count, &g) + [input.count] where cut > start {
                    let chunk = ByteBuffer(bytes: input[start..<cut])
                    if let o = relay.feed(chunk) { out += o.readableBytesView }
                    _ = strip.feed(chunk)
                    start = cut
                }
                _ = relay.finish()
                _ = strip.finish()
                #expect(out == input, "passthrough changed the bytes")
                if let u = relay.usage, u.isPlausible { #expect(u.totalTokens <= 2 * Usage.maxTokens) }
            }
        }
    }

    @Test func streamTranslatorsWriteWellFormedEvents() throws {
        var g = SplitMix64(seed: Self.seed ^ 5)
        for input in Self.inputs(try Self.corpus(".sse"), salt: 5) {
            let text = String(decoding: input, as: UTF8.self)
            let cuts = Self.cuts(text.utf8.count, &g)
            for output in [translate(AnthropicStreamTranslator(created: 1), text, cuts: cuts),
                           translate(OpenAIToMessagesStream(model: "m"), text, cuts: cuts),
                           translate(GeminiStreamTranslator(model: "m", created: 1), text, cuts: cuts)] {
                for event in output.components(separatedBy: "\n\n") where !event.isEmpty {
                    let data = event.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
                    guard let data, data != "[DONE]" else { continue }
                    #expect(JSONValue.parse(Data(data.utf8)) != nil, "a translated event is not JSON: \(event.prefix(200))")
                }
            }
        }
    }

    /// The redactor's trigger scan only skips patterns that cannot match: on random texts with planted values
    /// (secrets, emails, cards, SSNs, phones, IPs, near misses) the result equals running every pattern.
    @Test func redactionSkipsOnlyPatternsThatCannotMatch() {
        var g = SplitMix64(seed: Self.seed ^ 6)
        let planted = ["sk-proj-abc123DEF456ghi789jkl", "AKIAABCDEFGHIJKLMNOP", "ghp_0123456789abcdefghijABCDEFGHIJ0123", "x@y.example",
                       "4111 1111 1111 1111", "4111-1111-1111-1111 123", "123-45-6789", "+44 20 7946 0958", "(555) 123-4567",
                       "555.123.4567", "10.0.0.255", "Bearer abcdefghijklmnop", "eyJhbGciOi.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4", "\\n4111111111111111",
                       "12 34", "1.2.3", "task-based", "+1", "(12)", "2024-01-02", "v1.2.3.4.5", "é😀", "\\u0041", "\"", ",", " ", "\n"]
        let redactor = Redactor(kinds: RedactionKind.allCases).compiled()
        for _ in 0..<(Self.iterations / 8) {
            var text = ""
            for _ in 0..<Int.random(in: 1...12, using: &g) {
                text += Bool.random(using: &g) ? planted[Int.random(in: 0..<planted.count, using: &g)]
                                              : String((0..<Int.random(in: 0...6, using: &g)).map { _ in "ab9 .-+()@\"x".randomElement(using: &g)! })
            }
            #expect(redactor.redact(text) == redactor.redact(text, skippingImpossible: false), "\(text)")
        }
    }
}
