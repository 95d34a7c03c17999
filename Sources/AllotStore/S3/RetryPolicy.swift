/// How often and how patiently a failed request is tried again.
///
/// Retried: connection failures, timeouts, HTTP 500, 502, 503, 504 and 429, and S3's `SlowDown`,
/// `InternalError` and `RequestTimeout` codes. Never retried: other 4xx answers (a wrong key or
/// a failed precondition will not fix itself).
///
/// The wait before attempt `n + 1` is drawn uniformly from `[d/2, d]` where
/// `d = min(maxDelay, baseDelay × 2^(n-1))` ("equal jitter"): exponential, bounded, and spread
/// so that many clients do not retry in step.
public struct RetryPolicy: Sendable, Equatable {
    /// Total attempts, including the first (at least 1).
    public var maxAttempts: Int
    /// Seconds before the second attempt, before jitter.
    public var baseDelay: Double
    /// The longest wait between two attempts, in seconds.
    public var maxDelay: Double

    public init(maxAttempts: Int = 4, baseDelay: Double = 0.2, maxDelay: Double = 5) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(0, maxDelay)
    }

    /// One attempt, no retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Seconds to wait after failed attempt `attempt` (1-based), given `unit` in `0...1`.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Double {
        let exponent = Double(min(max(attempt - 1, 0), 30))
        let ceiling = min(maxDelay, baseDelay * pow2(exponent))
        return ceiling / 2 + ceiling / 2 * min(max(unit, 0), 1)
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2 }
        return result
    }
}
