@testable import HeraldDelivery
import HeraldModel
import Testing

/// The status reuses a destination's backlog figures only when they counted 100,000 events or more and were costly
/// to read, for ten times their cost (at most a second), and never after a seek back.
struct BacklogCacheTests {
    let key = DestinationKey(tenant: "t", destination: "q")
    let other = DestinationKey(tenant: "u", destination: "q")
    let figures: BacklogCache.Figures = (queued: 1_000_000, retrying: 2, oldestTime: 5)

    @Test func cheapFiguresAreNeverReused() {
        let cache = BacklogCache()
        let t0 = ContinuousClock.now
        cache.keep(figures, for: key, cursor: 10, cost: .milliseconds(1), now: t0)
        #expect(cache.figures(key, cursor: 10, now: t0) == nil)
    }

    /// A slow read of a small backlog (PostgreSQL's round trips) is not reused: a stale 0 would say the destination
    /// caught up before it did.
    @Test func smallBacklogsAreNeverReusedHoweverLongTheyTookToRead() {
        let cache = BacklogCache()
        let t0 = ContinuousClock.now
        cache.keep((queued: 0, retrying: 0, oldestTime: nil), for: key, cursor: 10, cost: .milliseconds(50), now: t0)
        #expect(cache.figures(key, cursor: 10, now: t0) == nil)
        cache.keep((queued: 99_999, retrying: 0, oldestTime: 1), for: key, cursor: 10, cost: .milliseconds(50), now: t0)
        #expect(cache.figures(key, cursor: 10, now: t0) == nil)
    }

    @Test func costlyFiguresAreReusedForTenTimesTheirCost() {
        let cache = BacklogCache()
        let t0 = ContinuousClock.now
        cache.keep(figures, for: key, cursor: 10, cost: .milliseconds(36), now: t0)
        #expect(cache.figures(key, cursor: 10, now: t0 + .milliseconds(359))?.queued == 1_000_000)
        #expect(cache.figures(key, cursor: 500, now: t0 + .milliseconds(100))?.queued == 1_000_000, "delivery moved on")
        #expect(cache.figures(other, cursor: 10, now: t0) == nil, "another destination's figures")
        #expect(cache.figures(key, cursor: 9, now: t0 + .milliseconds(100)) == nil, "a seek back")
        #expect(cache.figures(key, cursor: 10, now: t0 + .milliseconds(361)) == nil)
    }

    @Test func reuseIsAtMostOneSecond() {
        let cache = BacklogCache()
        let t0 = ContinuousClock.now
        cache.keep(figures, for: key, cursor: 10, cost: .milliseconds(500), now: t0)
        #expect(cache.figures(key, cursor: 10, now: t0 + .milliseconds(999)) != nil)
        #expect(cache.figures(key, cursor: 10, now: t0 + .milliseconds(1_001)) == nil)
    }
}
