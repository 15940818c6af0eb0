import NIOCore
import Testing
import Foundation
@testable import SwitchboardCore

@Suite struct SSERelayTests {
    static let content = #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"# + "\n\n"
    static let finish = #"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"# + "\n\n"
    static let usage = #"data: {"id":"c","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":4}}}"# + "\n\n"
    static let done = "data: [DONE]\n\n"
    static let stream = content + content + finish + usage + done

    /// Feeds `text` split at the given cut points and returns what the client receives.
    func relay(_ text: String, cuts: [Int], mode: SSERelay.Mode) -> (String, SSERelay) {
        var r = SSERelay(mode: mode)
        let bytes = Array(text.utf8)
        var out = ""
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            if let o = r.feed(ByteBuffer(bytes: bytes[start..<cut])) { out += String(buffer: o) }
            start = cut
        }
        if let o = r.finish() { out += String(buffer: o) }
        return (out, r)
    }

    /// An event that never ends is not buffered past `maxEventBytes`: the relay (and the translators' event buffer)
    /// drops it and says so, whatever the chunking, so a 200 MB line costs 4 MiB at most.
    @Test(arguments: [SSERelay.Mode.passthrough, .stripUsageChunk])
    func anEndlessLineIsDroppedAtTheLimit(_ mode: SSERelay.Mode) {
        var relay = SSERelay(mode: mode)
        var events = SSEEventBuffer()
        _ = relay.feed(ByteBuffer(string: Self.content))
        #expect(!relay.endsInsideEvent)
        let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 256 << 10)
        _ = relay.feed(ByteBuffer(string: "data: {\"x\":\""))
        for _ in 0..<(SSERelay.maxEventBytes / chunk.readableBytes - 1) {
            _ = relay.feed(chunk)
            _ = events.add(chunk)
            #expect(!relay.overflowed && !events.overflowed)
        }
        for _ in 0..<2 {
            _ = relay.feed(chunk)
            _ = events.add(chunk)
        }
        #expect(relay.overflowed && relay.endsInsideEvent && events.overflowed)
        #expect(relay.finish() == nil && events.finish() == nil)
    }

    @Test func passthroughSplitAtEveryByteKeepsBytesAndFindsUsage() {
        let n = Self.stream.utf8.count
        for cut in 0...n {
            let (out, r) = relay(Self.stream, cuts: [cut], mode: .passthrough)
            #expect(out == Self.stream)
            #expect(r.usage == Usage(promptTokens: 12, completionTokens: 7, cachedTokens: 4))
            #expect(r.sawDone)
        }
    }

    @Test func stripModeRemovesOnlyTheUsageChunkAtEverySplit() {
        let expected = Self.content + Self.content + Self.finish + Self.done
        let n = Self.stream.utf8.count
        for cut in 0...n {
            for second in stride(from: cut, through: n, by: 17) {
                let (out, r) = relay(Self.stream, cuts: [cut, second], mode: .stripUsageChunk)
                #expect(out == expected, "cut at \(cut), \(second)")
                #expect(r.usage?.completionTokens == 7)
                #expect(r.sawDone)
            }
        }
    }

    @Test func byteByByte() {
        let cuts = Array(1..<Self.stream.utf8.count)
        let (out, r) = relay(Self.stream, cuts: cuts, mode: .stripUsageChunk)
        #expect(out == Self.content + Self.content + Self.finish + Self.done)
        #expect(r.usage?.promptTokens == 12)
    }

    @Test func crlfEventsAndContinuousUsageAreKept() {
        // A provider that reports usage on a content chunk (choices not empty): it is never dropped.
        let withUsage = #"data: {"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"# + "\r\n\r\n"
        let (out, r) = relay(withUsage + "data: [DONE]\r\n\r\n", cuts: [5, 40], mode: .stripUsageChunk)
        #expect(out == withUsage + "data: [DONE]\r\n\r\n")
        #expect(r.usage?.completionTokens == 1)
        #expect(r.sawDone)
    }

    @Test func detectsErrorEventsAndMissingDone() {
        let (_, r) = relay(#"data: {"error":{"message":"boom"}}"# + "\n\n", cuts: [3], mode: .passthrough)
        #expect(r.sawError)
        #expect(!r.sawDone)
        let (_, truncated) = relay(Self.content, cuts: [], mode: .passthrough)
        #expect(!truncated.sawDone && !truncated.sawError)
    }

    @Test func unterminatedTailIsForwardedAtTheEnd() {
        let (out, _) = relay(Self.content + "data: partial", cuts: [10], mode: .stripUsageChunk)
        #expect(out == Self.content + "data: partial")
    }
}

@Suite struct UsageTests {
    @Test func costUsesCachedPrice() {
        let price = Price(input: 2.5, output: 10, cachedInput: 1.25)
        let usage = Usage(promptTokens: 1000, completionTokens: 200, cachedTokens: 400)
        // 600 × 2.5 + 400 × 1.25 + 200 × 10 = 1500 + 500 + 2000 = 4000 per 1M
        #expect(abs(price.cost(of: usage) - 0.004) < 1e-12)
        #expect(abs(Price(input: 2.5, output: 10).cost(of: usage) - 0.0045) < 1e-12)
        #expect(Price.free.cost(of: usage) == 0)
    }

    @Test func everyTokenClassHasItsPrice() {
        let price = Price(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75, reasoning: 20)
        // 1000 prompt = 500 plain + 300 cache read + 200 cache write; 100 completion = 60 text + 40 reasoning.
        let usage = Usage(promptTokens: 1000, completionTokens: 100, cachedTokens: 300, cacheWriteTokens: 200, reasoningTokens: 40)
        let expected = (500 * 3 + 300 * 0.3 + 200 * 3.75 + 60 * 15 + 40 * 20) / 1e6
        #expect(abs(price.cost(of: usage) - expected) < 1e-12)
        // Without class prices every class falls back to input/output.
        #expect(abs(Price(input: 3, output: 15).cost(of: usage) - (1000 * 3 + 100 * 15) / 1e6) < 1e-12)
    }

    @Test func cachedNeverExceedsPrompt() {
        #expect(Price(input: 1, output: 0, cachedInput: 0).cost(of: Usage(promptTokens: 10, cachedTokens: 50)) == 0)
    }

    @Test(arguments: [(0.004, "0.004"), (0, "0"), (1.5, "1.5"), (0.00000015, "0.00000015"), (12, "12"), (-1, "0"), (.nan, "0"),
                      (3_000_000_000, "3000000000"), (1e300, String(format: "%.0f", 1e300)), (.infinity, "0")])
    func formatsUSD(_ amount: Double, _ text: String) {
        #expect(formatUSD(amount) == text)
    }

    /// The integer formatting against the plain decimal text of the same rounding (the way it was first written),
    /// over amounts of every size it formats, drawn from a seeded generator, and the edges of its digits.
    @Test func formatsUSDAsTheDecimalTextOfItsRounding() {
        func reference(_ amount: Double) -> String {
            let scaled = (amount * 1e10).rounded()
            var digits = String(UInt64(scaled))
            if digits.count <= 10 { digits = String(repeating: "0", count: 11 - digits.count) + digits }
            let split = digits.index(digits.endIndex, offsetBy: -10)
            var fraction = String(digits[split...])
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return fraction.isEmpty ? String(digits[..<split]) : "\(digits[..<split]).\(fraction)"
        }
        var random = SplitMix64(seed: 18)
        var amounts = [1e-10, 4e-11, 6e-11, 0.1, 0.5, 1, 9.9999999999, 10, 99.5, 123456789.0000000001, 999_999_999.9999999]
        for _ in 0..<20_000 {
            let mantissa = Double(random.next() % 1_000_000_000) / 1e9
            amounts.append(mantissa * pow(10, Double(Int(random.next() % 22) - 12)))
        }
        for amount in amounts where amount > 0 && amount < 1e9 {
            #expect(formatUSD(amount) == reference(amount), "\(amount)")
        }
    }

    /// Usage from an upstream is untrusted: sums saturate, absurd or negative counts are not plausible, and a cost is
    /// always finite and never negative.
    @Test func absurdCountsCannotTrapOrGoNegative() {
        let huge = Usage(promptTokens: .max, completionTokens: .max)
        #expect(huge.totalTokens == .max && !huge.isPlausible)
        #expect(Usage(promptTokens: 1 << 62, completionTokens: 1 << 62).totalTokens == .max)
        #expect(!Usage(promptTokens: -1_000_000_000).isPlausible)
        #expect(!Usage(promptTokens: 10, cachedTokens: 11).isPlausible && !Usage(completionTokens: 1, reasoningTokens: 2).isPlausible)
        #expect(Usage(promptTokens: Usage.maxTokens, completionTokens: Usage.maxTokens).isPlausible)
        #expect(Usage.sum(1, Usage.invalidCount) == Usage.invalidCount && Usage.count(-5) == Usage.invalidCount && Usage.count(nil as Int?) == 0)
        for usage in [huge, Usage(promptTokens: -5, completionTokens: .min), Usage(promptTokens: 1 << 62, completionTokens: 1 << 62, reasoningTokens: .max)] {
            let cost = Price(input: 1e300, output: 1e300).cost(of: usage)
            #expect(cost.isFinite && cost >= 0)
            _ = formatUSD(cost)
        }
        #expect(Usage.inOpenAIResponse(ByteBuffer(string: #"{"usage":{"prompt_tokens":1e30,"completion_tokens":3.5}}"#))?.isPlausible == false)
        #expect(Usage.inOpenAIResponse(ByteBuffer(string: #"{"usage":{"prompt_tokens":null,"completion_tokens":4}}"#)) == Usage(completionTokens: 4))
    }
}

@Suite struct UsageParsingTests {
    @Test func readsUsageFromAResponseWithoutADecoder() {
        let body = ByteBuffer(string: #"{"id":"x","choices":[{"message":{"content":"usage"}}],"usage":{"prompt_tokens":1200,"completion_tokens":34,"total_tokens":1234,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5}}}"#)
        #expect(Usage.inOpenAIResponse(body) == Usage(promptTokens: 1200, completionTokens: 34, cachedTokens: 1024, reasoningTokens: 5))
        #expect(Usage.inOpenAIResponse(ByteBuffer(string: #"{"usage":null}"#)) == nil)
        #expect(Usage.inOpenAIResponse(ByteBuffer(string: #"{"usage":{"prompt_tokens":2.0E1}}"#)) == Usage(promptTokens: 20))
        #expect(Usage.inOpenAIResponse(ByteBuffer(string: "not json")) == nil)
    }

    @Test func integersFromNumbers() throws {
        for (text, value) in [("0", 0), ("-12", -12), ("1.5", nil), ("1e3", 1000), ("99999999999999999999", nil)] as [(String, Int?)] {
            let doc = Array(#"{"n":\#(text)}"#.utf8)
            let got = try doc.withUnsafeBytes { p in JSONPeek.integer(p, try JSONPeek.topLevel(p, keys: [Array("n".utf8)])[0]!) }
            #expect(got == value, "\(text)")
        }
    }
}
