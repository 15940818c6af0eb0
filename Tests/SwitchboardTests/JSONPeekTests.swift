import NIOCore
import Testing
@testable import SwitchboardCore

@Suite struct JSONPeekTests {
    func peek(_ text: String, _ keys: [String]) throws -> [JSONPeek.Value?] {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { try JSONPeek.topLevel($0, keys: keys.map { Array($0.utf8) }) }
    }

    @Test func findsTopLevelFieldsOnly() throws {
        let text = #"{"a":{"model":"inner"},"model":"gpt-4o","stream":true,"n":[1,2,{"x":null}]}"#
        let fields = try peek(text, ["model", "stream", "missing"])
        let model = try #require(fields[0])
        #expect(model.kind == .string)
        #expect(String(text.utf8.dropFirst(model.range.lowerBound).prefix(model.range.count))! == #""gpt-4o""#)
        #expect(fields[1]?.kind == .bool)
        #expect(fields[2] == nil)
    }

    @Test func decodesEscapedStrings() throws {
        let text = #"{"model":"a\"b\\c\u00e9\ud83d\ude00\n"}"#
        let bytes = Array(text.utf8)
        let s = try bytes.withUnsafeBytes { p in
            let f = try JSONPeek.topLevel(p, keys: [Array("model".utf8)])
            return JSONPeek.string(p, f[0]!)
        }
        #expect(s == "a\"b\\cé😀\n")
    }

    /// A requested key twice is refused: an upstream that reads the first `model` would see the client's value.
    @Test func aDuplicateRequestedKeyIsRefused() throws {
        #expect(throws: JSONPeek.SyntaxError.self) { try peek(#"{"model":"a","model":"bb"}"#, ["model"]) }
        // Keys the caller does not ask for may repeat (the upstream sees them as the client sent them).
        #expect(try peek(#"{"x":1,"x":2,"model":"a"}"#, ["model"])[0]?.range.count == 3)
    }

    @Test(arguments: [
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D],              // {"a":"\xFF"}
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D],        // overlong '/'
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D],  // a surrogate in UTF-8
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xE2, 0x82, 0x22, 0x7D],        // a cut sequence
        Array(#"{"a":"\ud800"}"#.utf8), Array(#"{"a":"\udc00x"}"#.utf8), Array(#"{"a":"\ud800\u0041"}"#.utf8),
    ] as [[UInt8]])
    func invalidUTF8AndLoneSurrogatesAreRefused(_ bytes: [UInt8]) {
        #expect(throws: JSONPeek.SyntaxError.self) { try bytes.withUnsafeBytes { try JSONPeek.topLevel($0, keys: []) } }
    }

    @Test func validUTF8AndSurrogatePairsPass() throws {
        let text = #"{"a":"é😀 \ud83d\ude00 ü"}"#
        _ = try Array(text.utf8).withUnsafeBytes { try JSONPeek.topLevel($0, keys: []) }
    }

    @Test(arguments: [
        "", "   ", "[]", "\"x\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}",
        "{\"a\":tru}", "{\"a\":\"x}", "{\"a\":\"\\q\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":[1 2]}", "{\"a\":1} x",
        "{'a':1}", "{\"a\":\"tab\there\"}", "{\"a\":1e}", "{\"a\":NaN}",
    ])
    func rejectsMalformedJSON(_ text: String) {
        #expect(throws: JSONPeek.SyntaxError.self) { try peek(text, ["a"]) }
    }

    @Test(arguments: [
        "{}", " {\"a\" : 1 } ", "{\"a\":-0.5e+10}", "{\"a\":[[],{},\"\",0,true,false,null]}", "{\"a\":\"\\/\\b\\f\\r\\t\"}",
    ])
    func acceptsWellFormedJSON(_ text: String) throws {
        _ = try peek(text, ["a"])
    }

    @Test func rejectsNestingBeyondTheLimitWithoutCrashing() {
        let deep = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(throws: JSONPeek.SyntaxError.self) { try peek(deep, ["a"]) }
    }

    @Test func emptyArrayDetection() throws {
        for (text, empty) in [("{\"c\":[]}", true), ("{\"c\":[ \n ]}", true), ("{\"c\":[1]}", false), ("{\"c\":{}}", false)] {
            let bytes = Array(text.utf8)
            let result = try bytes.withUnsafeBytes { p in
                JSONPeek.isEmptyArray(p, try JSONPeek.topLevel(p, keys: [Array("c".utf8)])[0]!)
            }
            #expect(result == empty, "\(text)")
        }
    }
}

@Suite struct OpenAIRequestTests {
    func chat(_ text: String) throws(GatewayError) -> OpenAIRequest { try OpenAIRequest.chat(ByteBuffer(string: text)) }

    @Test(arguments: [
        (#"{"messages":[{"role":"user","content":"x"}]}"#, "model", 400),
        (#"{"model":7,"messages":[{"role":"user","content":"x"}]}"#, "model", 400),
        (#"{"model":"","messages":[{"role":"user","content":"x"}]}"#, "model", 400),
        (#"{"model":"m"}"#, "messages", 400),
        (#"{"model":"m","messages":"hi"}"#, "messages", 400),
        (#"{"model":"m","messages":[]}"#, "messages", 400),
        (#"{"model":"m","messages":[{}],"stream":"yes"}"#, "stream", 400),
        (#"{"model":"m","messages":[{}],"stream_options":true}"#, "stream_options", 400),
    ])
    func badChatRequestsNameTheParameter(_ text: String, _ param: String, _ status: Int) {
        do {
            _ = try chat(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.status == status)
            #expect(error.param == param)
        }
    }

    @Test func malformedJSONIsInvalidJSON() {
        #expect(throws: GatewayError.invalidJSON("unexpected end of data at byte 9")) { try chat(#"{"model":"#) }
    }

    @Test func embeddingsNeedInput() {
        for (text, param) in [(#"{"model":"m"}"#, "input"), (#"{"model":"m","input":5}"#, "input"), (#"{"model":"m","input":[]}"#, "input"), (#"{"input":"x"}"#, "model")] {
            #expect(performing: { try OpenAIRequest.embeddings(ByteBuffer(string: text)) }, throws: { ($0 as? GatewayError)?.param == param })
        }
    }

    @Test func forwardsTheOriginalBufferWhenNothingChanges() throws {
        let text = #"{"model":"up","messages":[{"role":"user","content":"x"}],"logit_bias":{"1":2},"user":"u"}"#
        let r = try chat(text)
        #expect(String(buffer: r.upstreamBody(model: "up")) == text)
    }

    @Test func rewritesOnlyTheModel() throws {
        let text = #"{"model":"public","messages":[{"role":"user","content":"x"}],"x_unknown":[1,{"a":null}]}"#
        let r = try chat(text)
        #expect(String(buffer: r.upstreamBody(model: "gpt-\"4o")) == #"{"model":"gpt-\"4o","messages":[{"role":"user","content":"x"}],"x_unknown":[1,{"a":null}]}"#)
    }

    @Test func asksForUsageInStreams() throws {
        let r = try chat(#"{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}  "#)
        #expect(!r.clientWantsUsage)
        #expect(String(buffer: r.upstreamBody(model: "m")) == #"{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}  "#)
    }

    @Test func mergesExistingStreamOptions() throws {
        let r = try chat(#"{"model":"m","stream":true,"stream_options":{"include_usage":false,"other":1},"messages":[{}]}"#)
        #expect(!r.clientWantsUsage)
        #expect(String(buffer: r.upstreamBody(model: "m")) == #"{"model":"m","stream":true,"stream_options":{"include_usage":true,"other":1},"messages":[{}]}"#)
        let n = try chat(#"{"model":"m","stream":true,"stream_options":null,"messages":[{}]}"#)
        #expect(String(buffer: n.upstreamBody(model: "m")) == #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{}]}"#)
    }

    @Test func leavesUsageAloneWhenTheClientAsked() throws {
        let text = #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{}]}"#
        let r = try chat(text)
        #expect(r.clientWantsUsage)
        #expect(String(buffer: r.upstreamBody(model: "m")) == text)
    }
}
