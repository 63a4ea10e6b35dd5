import HeraldConfig
import HeraldDelivery
import Testing

struct RetryPolicyTests {
    @Test func backoffIsExponentialWithFullJitterAndACap() {
        var p = RetryPolicy()
        p.initialDelayMs = 100
        p.multiplier = 2
        p.maxDelayMs = 1000
        #expect(p.delayMs(afterAttempt: 1, random: { 0.999999 }) == 99)
        #expect(p.delayMs(afterAttempt: 3, random: { 0.999999 }) == 399)
        #expect(p.delayMs(afterAttempt: 10, random: { 0.999999 }) == 999, "capped")
        #expect(p.delayMs(afterAttempt: 3, random: { 0 }) == 0, "full jitter starts at zero")
        #expect(p.delayMs(afterAttempt: 3, floor: 750, random: { 0 }) == 750, "a THROTTLED retry-after is a floor")
        let samples = (0..<200).map { _ in p.delayMs(afterAttempt: 4) }
        #expect(samples.allSatisfy { $0 >= 0 && $0 < 800 })
        #expect(Set(samples).count > 50, "jittered")
    }

    @Test func defaultsRetryForHours() {
        let p = RetryPolicy()
        var expected = 0.0
        for attempt in 1..<p.maxAttempts {
            expected += Double(min(p.maxDelayMs, p.initialDelayMs << min(attempt - 1, 30))) / 2
        }
        #expect(expected / 3_600_000 > 3.5, "about \(expected / 3_600_000) hours of retries on average")
    }
}
