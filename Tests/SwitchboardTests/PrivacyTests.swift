import Foundation
import NIOCore
import SwitchboardCore
@testable import SwitchboardServer
import Testing

/// The privacy guardrail, pure: each detector on what it must and must not find, masking, and restoring
/// placeholders in answers whole and streamed — split at every byte.
@Suite struct PIIScannerTests {
    static func found(_ text: String, _ kinds: Set<PIIKind> = Set(PIIKind.builtIn), names: [String] = []) -> [String] {
        let bytes = Array(text.utf8)
        return PIIScanner(kinds: kinds, names: names).scan(text).map { "\($0.kind):" + String(decoding: bytes[$0.range], as: UTF8.self) }
    }

    @Test func eachKindIsFound() {
        #expect(Self.found("write to jane.doe+x@example.co.uk.") == ["email:jane.doe+x@example.co.uk"])
        #expect(Self.found("call +44 20 7946 0958 or +1 (555) 123-4567") == ["phone:+44 20 7946 0958", "phone:+1 (555) 123-4567"])
        #expect(Self.found("or (555) 123-4567, 555.123.4567 and 020 7946 0958") == ["phone:(555) 123-4567", "phone:555.123.4567", "phone:020 7946 0958"])
        #expect(Self.found("card 4111 1111 1111 1111 cvv 123") == ["card:4111 1111 1111 1111"])
        #expect(Self.found("card 4111-1111-1111-1111 and 5500005555555559") == ["card:4111-1111-1111-1111", "card:5500005555555559"])
        #expect(Self.found("a card and its CVV: 4111 1111 1111 1111 123") == ["card:4111 1111 1111 1111"])
        #expect(Self.found("IBAN DE89 3704 0044 0532 0130 00 THANKS") == ["iban:DE89 3704 0044 0532 0130 00"])
        #expect(Self.found("GB82WEST12345698765432") == ["iban:GB82WEST12345698765432"])
        #expect(Self.found("SSN 123-45-6789.") == ["ssn:123-45-6789"])
        #expect(Self.found("from 192.168.1.20 and 2001:db8::8a2e:370:7334") == ["ip:192.168.1.20", "ip:2001:db8::8a2e:370:7334"])
        #expect(Self.found("key sk-proj-abc123DEF456ghi789JKL012") == ["secret:sk-proj-abc123DEF456ghi789JKL012"])
        #expect(Self.found("AKIAIOSFODNN7EXAMPLE") == ["secret:AKIAIOSFODNN7EXAMPLE"])
        #expect(Self.found("token ghp_" + String(repeating: "a1", count: 18)) == ["secret:ghp_" + String(repeating: "a1", count: 18)])
        #expect(Self.found("Authorization: Bearer abcDEF123456789xyz") == ["secret:abcDEF123456789xyz"])
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        #expect(Self.found("jwt \(jwt) end") == ["secret:\(jwt)"])
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"
        #expect(Self.found("here: \(pem) ok") == ["secret:\(pem)"])
        #expect(Self.found("Ask jane DOE or Acme Corp.", names: ["Jane Doe", "Acme Corp"]) == ["name:jane DOE", "name:Acme Corp"])
        let custom = PIIScanner(kinds: [], patterns: [(PIIKind("employee_id"), "EMP-[0-9]{6}")])
        #expect(custom.scan("badge EMP-123456 ok").map(\.kind) == [PIIKind("employee_id")])
    }

    @Test func lookalikesAreLeftAlone() {
        for text in ["on 2024-01-15 at 12:30:45", "version 1.2.3.4.5 of std::vector", "pi is 3.14159265358979323846",
                     "card 4111 1111 1111 1112", "IBAN GB82WEST12345698765433", "SSN 000-12-3456 or 666-12-3456",
                     "address 300.1.1.1", "user@localhost", "Janet Doe", "order 12345 costs $1,234.56", "a::b",
                     "sk-short", "call 5551234567 maybe", "ratio 1:2:3", "the year 1999-2000"] {
            #expect(Self.found(text, names: ["Jane Doe"]).isEmpty, "\(text)")
        }
    }

    @Test func aHigherPriorityKindWinsAnOverlap() {
        // A key that contains digits is a secret, not a phone number; an SSN is not a phone number.
        #expect(Self.found("sk-1234567890123456789012") == ["secret:sk-1234567890123456789012"])
        #expect(Self.found("123-45-6789") == ["ssn:123-45-6789"])
    }

    @Test func pathologicalInputIsScannedInLinearTime() {
        let long = String(repeating: "a", count: 40_000) + String(repeating: "1 ", count: 20_000) + String(repeating: "@", count: 10_000) + String(repeating: "+1 ", count: 10_000)
        let start = ContinuousClock.now
        _ = PIIScanner(names: ["Jane Doe"]).scan(long)
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}

@Suite struct PIIMaskingTests {
    @Test func redactAndPseudonymiseReplaceValuesConsistently() {
        var redact = PIIMasker(scanner: PIIScanner(), action: .redact)
        #expect(redact.mask("mail a@example.com and b@example.com") == "mail [EMAIL] and [EMAIL]")
        var pseudo = PIIMasker(scanner: PIIScanner(), action: .pseudonymise)
        #expect(pseudo.mask("mail a@example.com, b@example.com") == "mail [EMAIL_1], [EMAIL_2]")
        #expect(pseudo.mask("again a@example.com from 10.0.0.1") == "again [EMAIL_1] from [IP_1]")
        #expect(pseudo.originals == ["[EMAIL_1]": "a@example.com", "[EMAIL_2]": "b@example.com", "[IP_1]": "10.0.0.1"])
        #expect(pseudo.kindsFound == ["email", "ip"])
        var block = PIIMasker(scanner: PIIScanner(), action: .block)
        #expect(block.mask("card 4111111111111111") == nil && block.kindsFound == ["card"])
        #expect(pseudo.mask("nothing here") == nil)
    }

    @Test func aBodysTextsAreMaskedAndNothingElse() throws {
        let body = ByteBuffer(string: #"{"model":"a@example.com","messages":[{"role":"user","content":[{"type":"text","text":"I am a@example.com"},{"type":"image_url","image_url":{"url":"https://x.test/a@example.com.png"}}]},{"role":"assistant","content":"hi a@example.com"}],"user":"a@example.com"}"#)
        var masker = PIIMasker(scanner: PIIScanner(), action: .pseudonymise)
        let masked = try #require(PIIBody.mask(body, roots: ["messages"], &masker))
        #expect(String(buffer: masked) == #"{"model":"a@example.com","messages":[{"role":"user","content":[{"type":"text","text":"I am [EMAIL_1]"},{"type":"image_url","image_url":{"url":"https://x.test/a@example.com.png"}}]},{"role":"assistant","content":"hi [EMAIL_1]"}],"user":"a@example.com"}"#)
    }
}

/// Random texts with planted values: nothing raw survives masking, and the answer — the masked text echoed back,
/// split anywhere — is restored exactly.
@Suite struct PIIRoundTripTests {
    static let values = ["jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00",
                         "123-45-6789", "192.168.10.20", "sk-proj-abc123DEF456ghi789JKL012", "bob@test.org", "(555) 123-4567",
                         "2001:db8::1", "Jane Doe"]
    static let words = ["the", "order", "for", "please", "send", "[", "]", "[EM", "x", "email", "to", "call", "é", "日本", "\n", "[IP_", "1"]

    static func text(_ rng: inout SplitMix64) -> (String, [String]) {
        var parts: [String] = []
        var planted: [String] = []
        for _ in 0..<(5 + Int(rng.next() % 20)) {
            if rng.next() % 4 == 0 {
                let v = values[Int(rng.next() % UInt64(values.count))]
                // Two numbers side by side with only a space between read as one longer number: a word between.
                if let last = parts.last, values.contains(last) { parts.append("and") }
                planted.append(v)
                parts.append(v)
            } else {
                parts.append(words[Int(rng.next() % UInt64(words.count))])
            }
        }
        return (parts.joined(separator: " "), planted)
    }

    @Test func pseudonymisedTextsRoundTripWhateverTheSplit() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<300 {
            let (text, planted) = Self.text(&rng)
            var masker = PIIMasker(scanner: PIIScanner(names: ["Jane Doe"]), action: .pseudonymise)
            let masked = masker.mask(text) ?? text
            for value in planted { #expect(!masked.contains(value), "\(value) left in \(masked)") }
            let restorer = PlaceholderRestorer(originals: masker.originals)
            #expect(restorer.restore(masked) == text)
            // Every two-piece split, then random many-piece splits.
            let chars = Array(masked)
            for cut in 0...chars.count {
                var r = restorer
                let out = r.feed(String(chars[..<cut])) + r.feed(String(chars[cut...])) + r.flush()
                #expect(out == text, "cut \(cut) of \(masked)")
            }
            var r = restorer
            var out = ""
            var i = 0
            while i < chars.count {
                let n = 1 + Int(rng.next() % 4)
                out += r.feed(String(chars[i..<min(chars.count, i + n)]))
                i += n
            }
            #expect(out + r.flush() == text)
        }
    }
}
