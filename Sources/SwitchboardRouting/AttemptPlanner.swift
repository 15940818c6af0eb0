import SwitchboardCore

/// Why an attempt failed, as far as the retry decision is concerned.
public enum AttemptFailure: Sendable, Equatable {
    /// The connection could not be made, or broke before the response head.
    case connection
    /// No response head within the timeout.
    case timeout
    /// The upstream answered with this HTTP status.
    case status(Int)
}

/// Plans the attempts of one request: which deployment each attempt goes to and whether a failure is retried.
///
/// A pure value: no clock, no I/O. Each retry goes to a deployment not yet tried while there is one; once all
/// have been tried, the balancer may choose among all again.
public struct AttemptPlanner: Sendable {
    /// The deployments this request may go to (indices into the model's list).
    public let candidates: [Int]
    public let maxAttempts: Int
    public private(set) var attempts = 0
    public private(set) var tried: [Int] = []

    public init(candidates: [Int], retries: Int) {
        self.candidates = candidates
        self.maxAttempts = 1 + max(retries, 0)
    }

    public init(deploymentCount: Int, retries: Int) {
        self.init(candidates: Array(0..<max(deploymentCount, 0)), retries: retries)
    }

    /// Whether a failure of this kind may be retried (on another deployment). Client errors (4xx other than 429)
    /// are the caller's fault and are not.
    public static func isRetryable(_ failure: AttemptFailure) -> Bool {
        switch failure {
        case .connection, .timeout: true
        case .status(let code): code == 429 || code >= 500
        }
    }

    /// The deployment for the next attempt, or nil when the attempt budget is spent.
    public mutating func next(using balancer: any Balancer, affinityKey: String? = nil) -> Int? {
        guard attempts < maxAttempts, !candidates.isEmpty else { return nil }
        let untried = candidates.filter { !tried.contains($0) }
        let pool = untried.isEmpty ? candidates : untried
        guard let chosen = balancer.choose(among: pool, context: BalancingContext(attempt: attempts + 1, affinityKey: affinityKey)) else { return nil }
        attempts += 1
        tried.append(chosen)
        return chosen
    }
}
