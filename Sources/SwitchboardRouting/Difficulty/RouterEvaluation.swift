/// The quality–cost curve of a strong/weak router on prompts whose answers by both models are known, and its
/// headline figure: the smallest share of strong calls that reaches a share (95%) of strong-only quality.
/// The same arithmetic as `scripts/router/train_classifier.py`.
public struct RouterEvaluation: Sendable {
    /// Whether each prompt's answer was right, by the weak and by the strong model.
    public let weak: [Bool]
    public let strong: [Bool]

    public init(weak: [Bool], strong: [Bool]) {
        precondition(weak.count == strong.count, "one weak and one strong result per prompt")
        self.weak = weak
        self.strong = strong
    }

    public var count: Int { weak.count }
    public var weakQuality: Double { mean(weak) }
    public var strongQuality: Double { mean(strong) }

    /// Mean quality after sending the k highest-scoring prompts to the strong model, for k = 0...count.
    /// Prompts with equal scores are taken as a group in random order: inside a group the expected value is used.
    public func curve(scores: [Double]) -> [Double] {
        precondition(scores.count == count, "one score per prompt")
        let n = count
        guard n > 0 else { return [0] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var quality = [Double](repeating: 0, count: n + 1)
        var cumulative = Double(weak.count { $0 })
        quality[0] = cumulative
        var i = 0
        while i < n {
            var j = i
            var groupGain = 0.0
            while j < n && scores[order[j]] == scores[order[i]] {
                groupGain += gain(order[j])
                j += 1
            }
            let meanGain = groupGain / Double(j - i)
            for t in 1...(j - i) { quality[i + t] = cumulative + meanGain * Double(t) }
            cumulative += groupGain
            i = j
        }
        return quality.map { $0 / Double(n) }
    }

    /// The smallest share of strong calls whose quality reaches `fraction` of strong-only quality.
    public func headline(scores: [Double], fraction: Double = 0.95) -> Double {
        let target = fraction * strongQuality - 1e-12
        let q = curve(scores: scores)
        return Double(q.firstIndex { $0 >= target } ?? count) / Double(max(count, 1))
    }

    /// Quality of a router that sends a random share of the prompts to the strong model (its expected value).
    public func randomQuality(share: Double) -> Double {
        weakQuality + share * (strongQuality - weakQuality)
    }

    /// The random router's headline: the smallest share of whole prompts whose expected quality reaches the target.
    public func randomHeadline(fraction: Double = 0.95) -> Double {
        let (w, s, n) = (weakQuality, strongQuality, Double(count))
        guard s > w else { return w >= fraction * s ? 0 : 1 }
        return min(1, max(0, ((n * (fraction * s - w) / (s - w)) - 1e-9).rounded(.up) / n))
    }

    /// The oracle's scores: 1 where only the strong model is right, -1 where only the weak one is, else 0.
    public var oracleScores: [Double] { weak.indices.map(gain) }

    private func gain(_ i: Int) -> Double { (strong[i] ? 1 : 0) - (weak[i] ? 1 : 0) }

    private func mean(_ xs: [Bool]) -> Double { xs.isEmpty ? 0 : Double(xs.count { $0 }) / Double(xs.count) }
}
