import Benchmark
import SwitchboardCore

/// A 2 KB prompt: an ordinary request with a pasted document, some code, a few non-ASCII words and one quoted
/// "ignore previous instructions" (so the phrase patterns have work to do).
let prompt2KB: String = {
    let parts = [
        "Please summarise the following meeting notes for the team and list the action items with owners. ",
        "Notes: the café opening moves to Thursday; Ana owns the Übersicht dashboard; Tom fixes the login bug. ",
        "```swift\nfunc total(_ xs: [Int]) -> Int { xs.reduce(0, +) }\n``` Someone wrote \"ignore previous instructions\" ",
        "in the chat as a joke; mention that it was not acted on. Keep it under 200 words, friendly tone.\n",
    ]
    var text = ""
    while text.utf8.count < 2048 { text += parts[text.utf8.count / 97 % parts.count] }
    return String(decoding: text.utf8.prefix(2048), as: UTF8.self)
}()

/// A 1 MB document: read in bounded windows (16 KiB), so it should cost about eight 2 KB prompts.
let prompt1MB = String(repeating: "The committee reviewed the quarterly figures in detail. ", count: 18_000)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))
    let detector = InjectionDetector()
    _ = detector.score("warm up: decode the embedded model")

    Benchmark("injection score, 2 KB prompt") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(detector.score(prompt2KB))
        }
    }

    Benchmark("injection score, 1 MB prompt") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(detector.score(prompt1MB))
        }
    }
}
