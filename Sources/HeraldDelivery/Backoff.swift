import HeraldConfig

extension RetryPolicy {
    /// Delay before attempt `attempt + 1` after `attempt` failed attempts: exponential with full
    /// jitter, `random(0, min(maxDelay, initial × multiplier^(attempt-1)))`, never below `floor`.
    public func delayMs(afterAttempt attempt: Int, floor: Int = 0, random: () -> Double = { Double.random(in: 0..<1) }) -> Int {
        let exponent = Double(max(0, attempt - 1))
        let ceiling = min(Double(maxDelayMs), Double(initialDelayMs) * pow(multiplier, exponent))
        return max(floor, Int(ceiling * random()))
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var i = 0.0
    while i < exponent {
        result *= base
        if result > 1e12 { return result }
        i += 1
    }
    return result
}
