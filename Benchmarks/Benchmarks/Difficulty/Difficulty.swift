import Benchmark
import SwitchboardRouting

/// A 2 KB prompt: a multi-step word problem, some code and a multiple-choice tail, ASCII and a few non-ASCII words.
let prompt2KB: String = {
    let parts = [
        "A warehouse ships 1,240 parcels on Monday and 15% more on each following weekday. Each van carries 86 parcels ",
        "and costs $42.50 per trip; on Thursday two vans break down. How many trips are needed over the week, and what ",
        "is the total cost? Explain each step. ```python\ndef trips(n, cap):\n    return (n + cap - 1) // cap\n``` ",
        "Then: which of these is true about the café's Übersicht? A. It is linear B. It is quadratic C. Neither D. Both\n",
    ]
    var text = ""
    while text.utf8.count < 2048 { text += parts[text.utf8.count / 97 % parts.count] }
    return String(decoding: text.utf8.prefix(2048), as: UTF8.self)
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))
    let classifier = DifficultyClassifier()
    _ = classifier.score("warm up: decode the embedded model")

    Benchmark("difficulty score, 2 KB prompt") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(classifier.score(prompt2KB))
        }
    }
}
