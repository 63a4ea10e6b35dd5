import HeraldModel
import Synchronization

/// A destination's backlog as the status last read it, reused while fresh.
///
/// The count behind it reads the `events_tenant_seq` index entry of every queued event: about 36 ms with a million
/// queued. A client polling the status (or `/metrics`) in a loop would keep a reader busy counting, and slow the
/// delivery it watches. So figures that counted at least `minQueuedToReuse` events and took `cost` to read are
/// reused for `cost × reuseFactor` (at most `maxReuse`). Smaller backlogs are read on every call: a reused figure
/// can only be too high (delivery moved on), never a stale 0 that says a destination caught up before it did. The
/// cost alone is no guide: on PostgreSQL the three round trips take milliseconds whatever the backlog.
final class BacklogCache: Sendable {
    typealias Figures = (queued: Int64, retrying: Int, oldestTime: Int64?)

    static let reuseFactor = 10
    static let minCostToReuse = Duration.milliseconds(5)
    static let minQueuedToReuse: Int64 = 100_000
    static let maxReuse = Duration.seconds(1)

    private struct Entry {
        var cursor: Int64
        var figures: Figures
        var until: ContinuousClock.Instant
    }

    private let entries = Mutex<[DestinationKey: Entry]>([:])

    /// The figures read for `key` at `cursor` if still fresh at `now`.
    func figures(_ key: DestinationKey, cursor: Int64, now: ContinuousClock.Instant) -> Figures? {
        entries.withLock { all in
            guard let e = all[key] else { return nil }
            guard now < e.until else {
                all[key] = nil
                return nil
            }
            // Not after a seek back (the figures would be too low); delivery moves the cursor forward, so the lag
            // shown is at most a reuse period old and too high, never too low.
            return cursor >= e.cursor ? e.figures : nil
        }
    }

    /// Keeps `figures`, which took `cost` to read, when that cost makes them worth reusing.
    func keep(_ figures: Figures, for key: DestinationKey, cursor: Int64, cost: Duration, now: ContinuousClock.Instant) {
        guard cost >= BacklogCache.minCostToReuse, figures.queued >= BacklogCache.minQueuedToReuse else { return }
        let reuse = min(cost * BacklogCache.reuseFactor, BacklogCache.maxReuse)
        entries.withLock { $0[key] = Entry(cursor: cursor, figures: figures, until: now + reuse) }
    }
}
