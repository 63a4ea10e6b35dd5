import HeraldJSON
import HeraldModel
import Synchronization

/// What this node's delivery workers did lately, per destination, in memory only: outcome counts in fixed-width
/// time buckets (the throughput history of `GET /api/{tenant}/streaming/throughput`) and the latest errors (the
/// `recentErrors` of the status answer).
///
/// Memory is bounded: `bucketCount` buckets and `maxErrors` errors of at most `maxMessageBytes` each per destination,
/// for the destinations of the configuration only (`track` drops removed ones; outcomes of an untracked destination
/// are ignored). Node-local: each node counts what its own workers deliver, and a restart starts from nothing.
public final class DeliveryActivity: Sendable {
    /// One bucket of the throughput history.
    public struct Point: Sendable, Equatable {
        /// The bucket's start (epoch ms, a multiple of `bucketMs`).
        public var t: Int64
        public var sent: Int64 = 0
        public var retried: Int64 = 0
        public var throttled: Int64 = 0
        public var deadLettered: Int64 = 0

        public init(t: Int64, sent: Int64 = 0, retried: Int64 = 0, throttled: Int64 = 0, deadLettered: Int64 = 0) {
            self.t = t
            self.sent = sent
            self.retried = retried
            self.throttled = throttled
            self.deadLettered = deadLettered
        }
    }

    /// One error a worker met: a send answered RETRY or THROTTLED (a retry is scheduled), a message dead-lettered,
    /// a sink that does not start, a store read or write that failed, a lease lost.
    public struct RecentError: Sendable, Equatable {
        /// When (epoch ms).
        public var at: Int64
        /// `RETRY`, `THROTTLED`, `DEAD_LETTERED`, `SINK_START_FAILED`, `STATE_READ_FAILED`, `DELIVERY_ERROR`,
        /// `RECORD_FAILED` or `LEASE_LOST` (docs/api.md, streaming status).
        public var code: String
        /// The reason, as the plugin or the store gave it, cut to `maxMessageBytes`.
        public var message: String
        /// The event's sequence number, for an error about one message.
        public var seq: Int64?
    }

    /// Width of a bucket (10 s; tests make it shorter).
    public let bucketMs: Int64
    /// Buckets kept per destination: 90 buckets of 10 s are the last 15 minutes.
    public let bucketCount: Int
    /// Errors kept per destination.
    public static let maxErrors = 20
    /// An error message is cut to this many UTF-8 bytes (its end then says how long it was).
    public static let maxMessageBytes = 1024
    private let clock: @Sendable () -> Int64

    private struct Destination {
        var buckets: [Point]
        /// Oldest first; `recentErrors` answers newest first.
        var errors: [RecentError] = []
    }

    private let state = Mutex<[DestinationKey: Destination]>([:])

    /// - Parameters:
    ///   - bucketMs: the width of a bucket (at least 1 ms).
    ///   - bucketCount: how many buckets are kept per destination (at least 1).
    ///   - clock: epoch ms now.
    public init(
        bucketMs: Int64 = 10_000, bucketCount: Int = 90,
        clock: @escaping @Sendable () -> Int64 = { epochMilliseconds() }
    ) {
        self.bucketMs = max(1, bucketMs)
        self.bucketCount = max(1, bucketCount)
        self.clock = clock
    }

    /// Keeps exactly these destinations: removed ones are dropped with their history, new ones start empty.
    public func track(_ keys: Set<DestinationKey>) {
        let empty = Destination(buckets: Array(repeating: Point(t: -1), count: bucketCount))
        state.withLock { all in
            for key in all.keys where !keys.contains(key) { all.removeValue(forKey: key) }
            for key in keys where all[key] == nil { all[key] = empty }
        }
    }

    /// The start of the bucket that holds `time`.
    public func bucketStart(_ time: Int64) -> Int64 {
        time - ((time % bucketMs) + bucketMs) % bucketMs
    }

    /// Counts outcomes a worker recorded (after they committed), in the bucket of now.
    func recorded(_ key: DestinationKey, _ counts: DeliveryCounts) {
        if counts.sent == 0 && counts.retried == 0 && counts.throttled == 0 && counts.deadLettered == 0 { return }
        let start = bucketStart(clock())
        let slot = Int((start / bucketMs) % Int64(bucketCount))
        state.withLock { all in
            guard all[key] != nil else { return }
            if all[key]!.buckets[slot].t != start { all[key]!.buckets[slot] = Point(t: start) }
            all[key]!.buckets[slot].sent += counts.sent
            all[key]!.buckets[slot].retried += counts.retried
            all[key]!.buckets[slot].throttled += counts.throttled
            all[key]!.buckets[slot].deadLettered += counts.deadLettered
        }
    }

    /// Keeps an error of `key` (the oldest of `maxErrors` goes).
    func error(_ key: DestinationKey, code: String, message: String, seq: Int64? = nil) {
        errors(key, [RecentError(at: clock(), code: code, message: message, seq: seq)])
    }

    /// Keeps several errors of `key`, in the order they happened (only the last `maxErrors` can stay).
    func errors(_ key: DestinationKey, _ new: [RecentError]) {
        if new.isEmpty { return }
        let kept = new.suffix(Self.maxErrors).map { e -> RecentError in
            var e = e
            e.message = Self.cut(e.message)
            return e
        }
        state.withLock { all in
            guard all[key] != nil else { return }
            all[key]!.errors.append(contentsOf: kept)
            let over = all[key]!.errors.count - Self.maxErrors
            if over > 0 { all[key]!.errors.removeFirst(over) }
        }
    }

    /// The errors kept for `key`, newest first.
    public func recentErrors(_ key: DestinationKey) -> [RecentError] {
        state.withLock { $0[key]?.errors.reversed() ?? [] }
    }

    /// The last `buckets` buckets (the current one last) of every tracked destination of `tenant`, by destination
    /// id; buckets without outcomes are zeros.
    public func history(tenant: String, buckets: Int) -> (now: Int64, destinations: [(id: String, points: [Point])]) {
        let now = clock()
        let current = bucketStart(now)
        let n = max(1, min(buckets, bucketCount))
        let rings = state.withLock { all in
            all.filter { $0.key.tenant == tenant }.map { ($0.key.destination, $0.value.buckets) }
        }
        let destinations = rings.sorted { $0.0 < $1.0 }.map { id, ring -> (id: String, points: [Point]) in
            let points = (0..<n).map { i -> Point in
                let start = current - Int64(n - 1 - i) * bucketMs
                let slot = Int((start / bucketMs) % Int64(bucketCount))
                return ring[slot].t == start ? ring[slot] : Point(t: start)
            }
            return (id, points)
        }
        return (now, destinations)
    }

    /// `message` within `maxMessageBytes` UTF-8 bytes, cut at a character boundary and ending in `…(N bytes)`.
    static func cut(_ message: String) -> String {
        Echo.cut(message, limit: maxMessageBytes - 32)
    }
}

extension DeliveryActivity.RecentError {
    /// `{"at", "code", "message", "seq"?}`.
    public func render(into w: inout JSONWriter) {
        w.beginObject()
        w.key("at")
        w.int(at)
        w.key("code")
        w.string(code)
        w.key("message")
        w.string(message)
        if let seq {
            w.key("seq")
            w.int(seq)
        }
        w.endObject()
    }
}

extension RoundOutcome {
    /// The errors of a recorded round, in queue order: each retry scheduled (its status and the sink's reason) and
    /// each message dead-lettered (its status and reason).
    func recentErrors(at now: Int64) -> [DeliveryActivity.RecentError] {
        var out: [DeliveryActivity.RecentError] = []
        for r in retries {
            out.append(.init(at: now, code: r.lastStatus, message: r.lastError, seq: r.message.seq))
        }
        for d in deadLetters {
            out.append(.init(at: now, code: "DEAD_LETTERED", message: "\(d.status): \(d.reason)", seq: d.message.seq))
        }
        return out.sorted { ($0.seq ?? 0) < ($1.seq ?? 0) }
    }
}
