import SwitchboardCore

/// Trains the difficulty classifier as `scripts/router/train_classifier.py` does, so that `switchboard router eval
/// --folds K` can cross-validate without Python: the same features (the scorer's own pass over the bytes), the same
/// denoised targets, easy anchors and ridge regression (conjugate gradients on the normal equations, dense features
/// standardised inside, unpenalised intercept), the same int8 quantisation. Only the fold split differs (a seeded
/// ``SplitMix64`` shuffle instead of numpy's), so per-seed figures differ from the script's by seed noise.
public enum DifficultyTraining {
    /// A labelled prompt: whether the weak and the strong model answered it correctly, and its subject (MMLU's
    /// `domain`), whose in-fold mean gain replaces the prompt's own gain as the target.
    public struct Example: Sendable {
        public var prompt: String
        public var weakCorrect: Bool
        public var strongCorrect: Bool
        public var subject: String?

        public init(prompt: String, weakCorrect: Bool, strongCorrect: Bool, subject: String? = nil) {
            self.prompt = prompt
            self.weakCorrect = weakCorrect
            self.strongCorrect = strongCorrect
            self.subject = subject
        }

        var gain: Double { (strongCorrect ? 1 : 0) - (weakCorrect ? 1 : 0) }
    }

    /// The script's constants: hash bits, ridge penalty, a subject mean's prior strength (in prompts), CG steps.
    public static let bits = 16
    static let alpha = 10.0
    static let shrink = 10.0
    static let iterations = 400

    /// Small talk, look-ups and one-step sums joined to every training set with gain 0: `EASY_ANCHORS` in
    /// `train_classifier.py` (the same list, in the same order).
    public static let easyAnchors: [String] = [
        "hi", "hello", "hi, how are you", "hey there!", "good morning", "thanks!", "thank you so much", "ok", "bye",
        "how are you doing today?", "what's up?", "tell me a joke", "say hello", "nice to meet you",
        "What is the capital of France?", "What time zone is London in?", "Translate 'good morning' into Spanish.",
        "What is 2 + 2?", "Spell 'necessary'.", "Who wrote Romeo and Juliet?", "What colour is the sky?",
        "Give me a synonym for happy.", "How many days are in a week?", "What is the opposite of hot?",
        "Recommend a name for a cat.", "Is water wet?", "What does CPU stand for?", "Hola, ¿qué tal?",
        "Bonjour, comment ça va ?", "Wie geht's?", "Summarise this in one word: great.", "Thanks, that helped.",
        "What is 7 times 8?", "What is 10% of 50?", "How many minutes are in 2 hours?", "What is half of 30?",
        "Convert 5 km to metres.", "What is 15 + 27?", "Round 3.14159 to two decimals.", "Is 17 a prime number?",
    ]

    /// Fold of each of `count` prompts (0..<folds): a seeded shuffle, then position modulo `folds`, so the folds'
    /// sizes differ by one at most. The same seed gives the same split.
    public static func foldIDs(count: Int, folds: Int, seed: UInt64) -> [Int] {
        precondition(folds >= 2, "at least two folds")
        var generator = SplitMix64(seed: seed)
        let order = Array(0..<count).shuffled(using: &generator)
        var ids = [Int](repeating: 0, count: count)
        for (position, index) in order.enumerated() { ids[index] = position % folds }
        return ids
    }

    /// Each prompt's score by a model trained on the other folds plus the easy anchors.
    public static func crossValidatedScores(_ examples: [Example], folds: Int, seed: UInt64) -> [Double] {
        let anchors = easyAnchors.map { Example(prompt: $0, weakCorrect: true, strongCorrect: true) }
        let all = examples + anchors
        let design = Design(all.map(\.prompt), bits: bits)
        let ids = foldIDs(count: examples.count, folds: folds, seed: seed)
        var scores = [Double](repeating: 0, count: examples.count)
        for fold in 0..<folds {
            let train = examples.indices.filter { ids[$0] != fold } + Array(examples.count..<all.count)
            let model = fit(design, rows: train, targets: targets(all, rows: train))
            let classifier = DifficultyClassifier(model: model)
            for i in examples.indices where ids[i] == fold { scores[i] = classifier.score(examples[i].prompt) }
        }
        return scores
    }

    /// A model trained on all of `examples` plus the easy anchors (no calibration table).
    public static func train(_ examples: [Example]) -> DifficultyModel {
        let all = examples + easyAnchors.map { Example(prompt: $0, weakCorrect: true, strongCorrect: true) }
        let rows = Array(all.indices)
        return fit(Design(all.map(\.prompt), bits: bits), rows: rows, targets: targets(all, rows: rows))
    }

    /// The training target of each row: its gain, or for a prompt with a subject the subject's mean gain over
    /// `rows`, shrunk towards the overall mean (`targets` in the script).
    static func targets(_ examples: [Example], rows: [Int]) -> [Double] {
        let gains = rows.map { examples[$0].gain }
        let overall = gains.reduce(0, +) / Double(max(rows.count, 1))
        var sums: [String: (total: Double, count: Double)] = [:]
        for (k, row) in rows.enumerated() {
            guard let subject = examples[row].subject, !subject.isEmpty else { continue }
            sums[subject, default: (0, 0)].total += gains[k]
            sums[subject, default: (0, 0)].count += 1
        }
        return rows.enumerated().map { k, row in
            guard let subject = examples[row].subject, let s = sums[subject] else { return gains[k] }
            return (s.total + shrink * overall) / (s.count + shrink)
        }
    }

    /// Ridge regression of `targets` on the features of `rows`, quantised as the model file stores it.
    static func fit(_ design: Design, rows: [Int], targets y: [Double]) -> DifficultyModel {
        let d = DifficultyModel.denseCount
        let width = 1 << design.bits
        let n = Double(rows.count)
        var mean = [Double](repeating: 0, count: d)
        var sd = [Double](repeating: 0, count: d)
        for row in rows { for j in 0..<d { mean[j] += design.dense[row * d + j] / n } }
        for row in rows { for j in 0..<d { sd[j] += (design.dense[row * d + j] - mean[j]) * (design.dense[row * d + j] - mean[j]) / n } }
        sd = sd.map { $0.squareRoot() + 1e-12 }
        let z = rows.flatMap { row in (0..<d).map { (design.dense[row * d + $0] - mean[$0]) / sd[$0] } }

        // Unknowns: [hashed (width) | standardised dense (d) | intercept]; A = [hashed | z | 1] over the rows.
        func apply(_ p: [Double]) -> [Double] {
            var a = [Double](repeating: p[width + d], count: rows.count)
            for (k, row) in rows.enumerated() {
                a[k] += design.hashedDot(row, p)
                for j in 0..<d { a[k] += z[k * d + j] * p[width + j] }
            }
            return a
        }
        func applyTransposed(_ a: [Double]) -> [Double] {
            var g = [Double](repeating: 0, count: width + d + 1)
            for (k, row) in rows.enumerated() {
                design.addHashed(row, a[k], into: &g)
                for j in 0..<d { g[width + j] += z[k * d + j] * a[k] }
                g[width + d] += a[k]
            }
            return g
        }
        let b = applyTransposed(y)
        let bb = dot(b, b)
        var x = [Double](repeating: 0, count: b.count)
        var r = b
        var direction = r
        var rr = bb
        for _ in 0..<iterations {
            var ad = applyTransposed(apply(direction))
            for i in 0..<(ad.count - 1) { ad[i] += alpha * direction[i] }
            let step = rr / dot(direction, ad)
            for i in x.indices {
                x[i] += step * direction[i]
                r[i] -= step * ad[i]
            }
            let rrNew = dot(r, r)
            if rrNew < 1e-20 * bb { break }
            for i in direction.indices { direction[i] = r[i] + (rrNew / rr) * direction[i] }
            rr = rrNew
        }

        let denseWeights = (0..<d).map { x[width + $0] / sd[$0] }
        let bias = x[width + d] - zip(denseWeights, mean).reduce(0) { $0 + $1.0 * $1.1 }
        let hashed = x[0..<width]
        let scale = Double(Float(max(hashed.map(abs).max() ?? 0, 1e-12) / 127))
        return DifficultyModel(
            bits: design.bits, bias: Double(Float(bias)), denseWeights: denseWeights.map { Double(Float($0)) },
            hashScale: scale,
            hashed: hashed.map { Int8(max(-127, min(127, ($0 / scale).rounded(.toNearestOrEven)))) },
            calibration: [])
    }

    private static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }

    /// The features of a set of prompts: each row's hashed buckets (with repeats; none when the scorer ignores
    /// them), their common weight 1/sqrt(count), and the dense features, row after row.
    struct Design {
        let bits: Int
        var start: [Int] = [0]
        var buckets: [Int32] = []
        var weight: [Double] = []
        var dense: [Double] = []

        init(_ prompts: [String], bits: Int) {
            self.bits = bits
            let mask = UInt32(truncatingIfNeeded: (1 << bits) - 1)
            for prompt in prompts {
                var prompt = prompt
                let (row, hashedCounts) = prompt.withUTF8 { bytes in
                    DifficultyClassifier.scan(bytes, mask: mask, into: BucketList()) { acc, lines in
                        var row = [Double](repeating: 0, count: DifficultyModel.denseCount)
                        let hashed = acc.denseFeatures(bytes: bytes.count, lines: lines) { row[$0] = $1 }
                        return (row, hashed ? acc.sink.buckets : [])
                    }
                }
                dense += row
                buckets += hashedCounts
                start.append(buckets.count)
                weight.append(1 / Double(max(hashedCounts.count, 1)).squareRoot())
            }
        }

        func hashedDot(_ row: Int, _ p: [Double]) -> Double {
            var s = 0.0
            for k in start[row]..<start[row + 1] { s += p[Int(buckets[k])] }
            return s * weight[row]
        }

        func addHashed(_ row: Int, _ value: Double, into g: inout [Double]) {
            let v = value * weight[row]
            for k in start[row]..<start[row + 1] { g[Int(buckets[k])] += v }
        }
    }
}

/// The training sink: every hashed feature's bucket, in order.
private struct BucketList: HashedFeatureSink {
    var buckets: [Int32] = []

    mutating func add(bucket: Int) { buckets.append(Int32(bucket)) }
}

extension DifficultyModel {
    /// A model from its weights (what ``DifficultyTraining`` fits).
    init(
        bits: Int, bias: Double, denseWeights: [Double], hashScale: Double, hashed: [Int8],
        calibration: [(quality: Double, threshold: Double)]
    ) {
        self.bits = bits
        self.bias = bias
        self.denseWeights = denseWeights
        self.hashScale = hashScale
        self.hashed = hashed
        self.calibration = calibration
    }
}
