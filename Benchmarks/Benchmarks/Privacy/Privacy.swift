import Benchmark
import NIOCore
import SwitchboardCore

/// A 2 KB chat completions body: a support conversation with an e-mail address, a phone number, a card number and a
/// name among ordinary text (what `guardrails.pii` reads and masks on every request it applies to).
let body2KB: ByteBuffer = {
    let turns = [
        "Hi, I am Jane Doe and my order 48213 never arrived. You can reach me at jane.doe@example.com or +44 20 7946 0958. ",
        "I paid with 4111 1111 1111 1111 on 2024-03-02 at 10:30; the parcel was due by Friday and tracking shows nothing. ",
        "Could you check what happened, refund the shipping fee of $12.50 and tell me when the replacement will ship? ",
        "Our office is at 221B Baker Street; the courier said the address was fine. Version 2.4.1 of your app crashes too. ",
    ]
    var text = ""
    while text.utf8.count < 1900 { text += turns[text.utf8.count / 113 % turns.count] }
    let json = #"{"model":"demo","messages":[{"role":"system","content":"You are a helpful support agent."},{"role":"user","content":\#(JSONString.quote(text))}]}"#
    return ByteBuffer(string: json)
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))
    let scanner = PIIScanner(names: ["Jane Doe"])

    // What the privacy guardrail adds to a request it applies to: scan every text, mask, splice the body.
    Benchmark("pii pseudonymise, 2 KB chat body") { benchmark in
        for _ in benchmark.scaledIterations {
            var masker = PIIMasker(scanner: scanner, action: .pseudonymise)
            blackHole(PIIBody.mask(body2KB, roots: ["messages"], &masker))
        }
    }
    let text = String(buffer: body2KB)
    Benchmark("pii scanner only, 2 KB text") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(scanner.scan(text))
        }
    }
    // The same body with nothing to find: the cost when a policy applies and the request is clean.
    let clean = ByteBuffer(string: String(buffer: body2KB).replacingOccurrences(of: "jane.doe@example.com", with: "by mail")
        .replacingOccurrences(of: "+44 20 7946 0958", with: "by phone").replacingOccurrences(of: "4111 1111 1111 1111", with: "a card")
        .replacingOccurrences(of: "Jane Doe", with: "a customer"))
    Benchmark("pii scan, 2 KB chat body, nothing found") { benchmark in
        for _ in benchmark.scaledIterations {
            var masker = PIIMasker(scanner: scanner, action: .pseudonymise)
            blackHole(PIIBody.mask(clean, roots: ["messages"], &masker))
        }
    }
}
