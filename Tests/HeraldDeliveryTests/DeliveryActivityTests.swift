@testable import HeraldDelivery
import HeraldModel
import HeraldStorage
import Synchronization
import Testing

/// The in-memory throughput history and recent errors, on a clock the test moves: buckets roll over without
/// waiting, memory stays bounded, removed destinations are forgotten.
struct DeliveryActivityTests {
    /// A clock the test sets (epoch ms).
    final class TestClock: Sendable {
        let now = Atomic<Int64>(1_000_000)
        func advance(_ ms: Int64) { now.add(ms, ordering: .relaxed) }
        var read: @Sendable () -> Int64 { { self.now.load(ordering: .relaxed) } }
    }

    static let a = DestinationKey(tenant: "t1", destination: "q/a")
    static let b = DestinationKey(tenant: "t1", destination: "q/b")
    static let other = DestinationKey(tenant: "t2", destination: "q/a")

    static func counts(sent: Int64 = 0, retried: Int64 = 0, throttled: Int64 = 0, dead: Int64 = 0) -> DeliveryCounts {
        var c = DeliveryCounts()
        c.sent = sent
        c.retried = retried
        c.throttled = throttled
        c.deadLettered = dead
        return c
    }

    @Test func outcomesLandInTheBucketOfTheirTimeAndOldBucketsRollOff() {
        let clock = TestClock()
        let activity = DeliveryActivity(bucketMs: 100, bucketCount: 5, clock: clock.read)
        activity.track([Self.a, Self.b, Self.other])
        activity.recorded(Self.a, Self.counts(sent: 3, retried: 1))
        activity.recorded(Self.a, Self.counts(sent: 2, dead: 1))
        activity.recorded(Self.other, Self.counts(sent: 100))
        clock.advance(250)
        activity.recorded(Self.a, Self.counts(sent: 7, throttled: 2))

        let history = activity.history(tenant: "t1", buckets: 5)
        #expect(history.now == 1_000_250)
        #expect(history.destinations.map(\.id) == ["q/a", "q/b"], "t1's destinations only, by id")
        let points = history.destinations[0].points
        #expect(points.map(\.t) == [999_800, 999_900, 1_000_000, 1_000_100, 1_000_200], "the current bucket last")
        #expect(points[2] == DeliveryActivity.Point(t: 1_000_000, sent: 5, retried: 1, deadLettered: 1))
        #expect(points[4] == DeliveryActivity.Point(t: 1_000_200, sent: 7, throttled: 2))
        #expect(history.destinations[1].points.allSatisfy { $0.sent == 0 && $0.retried == 0 })
        #expect(activity.history(tenant: "t1", buckets: 2).destinations[0].points.map(\.t) == [1_000_100, 1_000_200])
        #expect(activity.history(tenant: "t1", buckets: 99).destinations[0].points.count == 5, "at most the ring")

        // Five buckets later the first one has rolled off, and its slot counts afresh.
        clock.advance(500)
        activity.recorded(Self.a, Self.counts(sent: 1))
        let later = activity.history(tenant: "t1", buckets: 5).destinations[0].points
        #expect(later.map(\.t) == [1_000_300, 1_000_400, 1_000_500, 1_000_600, 1_000_700])
        #expect(later.map(\.sent) == [0, 0, 0, 0, 1])
    }

    @Test func removedDestinationsAreForgottenAndUntrackedOnesIgnored() {
        let activity = DeliveryActivity(bucketMs: 100, bucketCount: 3, clock: { 5_000 })
        activity.track([Self.a, Self.b])
        activity.recorded(Self.b, Self.counts(sent: 1))
        activity.error(Self.b, code: "RETRY", message: "x", seq: 1)
        activity.track([Self.a])
        #expect(activity.history(tenant: "t1", buckets: 3).destinations.map(\.id) == ["q/a"])
        #expect(activity.recentErrors(Self.b).isEmpty)
        // A worker of the removed destination finishing its round does not bring it back.
        activity.recorded(Self.b, Self.counts(sent: 1))
        activity.error(Self.b, code: "RETRY", message: "late")
        #expect(activity.history(tenant: "t1", buckets: 3).destinations.map(\.id) == ["q/a"])
        activity.track([Self.a, Self.b])
        #expect(activity.history(tenant: "t1", buckets: 3).destinations[1].points.allSatisfy { $0.sent == 0 })
    }

    @Test func recentErrorsKeepTheNewestTwentyNewestFirstCutToOneKiB() {
        let clock = TestClock()
        let activity = DeliveryActivity(clock: clock.read)
        activity.track([Self.a, Self.b])
        for i in 1...25 {
            clock.advance(1)
            activity.error(Self.a, code: "RETRY", message: "attempt \(i)", seq: Int64(i))
        }
        let errors = activity.recentErrors(Self.a)
        #expect(errors.count == DeliveryActivity.maxErrors)
        #expect(errors.first?.seq == 25 && errors.last?.seq == 6, "newest first, the oldest five gone")
        #expect(errors.first?.at == 1_000_025)
        #expect(activity.recentErrors(Self.b).isEmpty)

        let long = String(repeating: "é", count: 3000)  // 6000 bytes
        activity.error(Self.b, code: "DEAD_LETTERED", message: long)
        let cut = try! #require(activity.recentErrors(Self.b).first)
        #expect(cut.message.utf8.count <= DeliveryActivity.maxMessageBytes)
        #expect(cut.message.hasSuffix("…(6000 bytes)"))
        #expect(cut.seq == nil)

        // A round with more errors than are kept: the last twenty, newest first.
        activity.errors(Self.b, (1...30).map { .init(at: 1, code: "RETRY", message: "m\($0)", seq: Int64($0)) })
        #expect(activity.recentErrors(Self.b).map(\.seq) == (11...30).reversed().map { Int64($0) })
    }

    @Test func aRoundsRetriesAndDeadLettersBecomeErrorsInQueueOrder() {
        let key = Self.a
        func message(_ seq: Int64) -> DeliveryMessage {
            DeliveryMessage(
                seq: seq, id: "m\(seq)", key: "entities/e", eventType: "ENTITY_CHANGED", objectURI: "entities/e",
                headers: [], body: [])
        }
        var outcome = RoundOutcome()
        outcome.add(
            .dead(
                DeadLetter(
                    key: key, message: message(3), status: "PERMANENT", reason: "refused", attempts: 1, firstAttempt: 0,
                    lastAttempt: 0, plugin: "test", pluginVersion: "1", created: 0)))
        outcome.add(
            .retry(
                RetryEntry(
                    message: message(2), attempts: 1, nextAttempt: 5, firstAttempt: 0, lastAttempt: 0,
                    lastStatus: "THROTTLED",
                    lastError: "slow down")))
        outcome.add(.delivered)
        let errors = outcome.recentErrors(at: 42)
        #expect(errors.map(\.seq) == [2, 3])
        #expect(errors.map(\.code) == ["THROTTLED", "DEAD_LETTERED"])
        #expect(errors.map(\.message) == ["slow down", "PERMANENT: refused"])
        #expect(errors.allSatisfy { $0.at == 42 })
    }
}
