import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import HeraldStorage

/// Every decision of one destination's delivery, without I/O: which events a window holds and where
/// the cursor may move, which messages are sent, held or dead-lettered, what a sink's answer makes of
/// a message, and how messages are cut into batches.
///
/// `DestinationWorker` reads the queue, renders, sends and records; what happens to each message is
/// decided here, and tested here in process (`DeliveryDecisionsTests`).
struct DeliveryDecisions: Sendable {
    /// The tenant and destination: the key of every record the decisions produce.
    let key: DestinationKey
    /// Event types to send (nil: all).
    let typeFilter: Set<EventType>?
    let retry: RetryPolicy
    /// Per-key order: a window never holds two messages of one entity, and a key with a message in the
    /// retry schedule holds its later messages back.
    let ordered: Bool
    /// The plugin's name, for dead letters and their reasons.
    let plugin: String

    init(key: DestinationKey, destination: DestinationConfiguration, plugin: String, ordered: Bool) {
        self.key = key
        typeFilter = destination.typeFilter
        retry = destination.retry
        self.ordered = ordered
        self.plugin = plugin
    }

    // MARK: the window

    /// The events a round takes from the queue.
    struct Window {
        /// The events that pass the type filter, in queue order (the object filter runs on them next).
        var candidates: [EventRecord]
        /// The last seq the window covers: the cursor moves here once the round's outcomes are recorded.
        var end: Int64
        /// Events the type filter left out (counted as filtered; the cursor moves over them).
        var filtered: Int64
    }

    /// The window of `records` (read after `cursor`, in queue order). When ordered, it ends before a
    /// second message of an entity already in it; events left out by the type filter do not count as
    /// the entity's message.
    func window(_ records: [EventRecord], after cursor: Int64) -> Window {
        var candidates: [EventRecord] = []
        var keysInWindow = Set<String>()
        var end = cursor
        var filtered: Int64 = 0
        for record in records {
            if ordered && keysInWindow.contains(record.event.objectURI) { break }
            end = record.seq
            if let types = typeFilter, !types.contains(record.type) {
                filtered += 1
                continue
            }
            if ordered { keysInWindow.insert(record.event.objectURI) }
            candidates.append(record)
        }
        return Window(candidates: candidates, end: end, filtered: filtered)
    }

    // MARK: sort

    /// What became of one candidate in a rendering lane.
    enum LaneOutcome: Sendable {
        /// The object filter left it out.
        case filtered
        /// The queued event does not decode: dead-lettered as PERMANENT with the reason.
        case corrupt(DeliveryMessage, String)
        case rendered(RenderOutcome)
    }

    /// A window's messages, sorted in queue order.
    struct Sorted {
        var toSend: [DeliveryMessage] = []
        /// Held behind an earlier message of the same key in the retry schedule (ordered only).
        var held: [DeliveryMessage] = []
        /// Dead-lettered without an attempt: (message, status, reason).
        var dead: [(DeliveryMessage, DeadLetterStatus, String)] = []
        var filtered: Int64 = 0
    }

    func sort(_ outcomes: [LaneOutcome], held keys: HeldKeys) -> Sorted {
        var sorted = Sorted()
        for outcome in outcomes {
            switch outcome {
            case .filtered:
                sorted.filtered += 1
            case .corrupt(let m, let reason):
                sorted.dead.append((m, .permanent, reason))
            case .rendered(.tooLarge(let m, let size, let limit)):
                sorted.dead.append(
                    (m, .tooLarge,
                     "message is \(size) bytes (body and headers), the limit of \(plugin) is \(limit); enable largeObjectsSupport to send it without the object"))
            case .rendered(.message(let m)):
                if ordered && keys.isHeld(m.key) {
                    sorted.held.append(m)
                } else {
                    sorted.toSend.append(m)
                }
            }
        }
        return sorted
    }

    /// The retry-schedule entry of a message held behind an earlier one of its key: no attempt made,
    /// no attempt due (released when the earlier one finishes).
    func heldEntry(_ m: DeliveryMessage, now: Int64) -> RetryEntry {
        RetryEntry(
            message: m, attempts: 0, nextAttempt: 0, firstAttempt: now, lastAttempt: now, lastStatus: "HELD",
            lastError: "waiting behind an earlier message of \(m.key)")
    }

    // MARK: a sink's answer

    /// What becomes of one message after an attempt.
    enum Disposition {
        case delivered
        case retry(RetryEntry)
        case dead(DeadLetter)
    }

    /// The sink's answer `r` for `m` on its `attempts`-th attempt of the current budget (after `before`
    /// attempts made before a replay): delivered, scheduled again after the policy's backoff (never
    /// sooner than the sink's `retryAfterMs`), or dead-lettered once the budget is spent.
    ///
    /// `crashes` counts the faults of the sink's process (`isolation: "process"`) while `m` was in flight, this one
    /// included: at `maxCrashes` a message whose attempt ended in one more is dead-lettered as `SINK_CRASHED`, so
    /// that one message cannot crash-loop its destination.
    func dispose(
        _ m: DeliveryMessage, attempts: Int, before: Int = 0, first: Int64, _ r: MessageResult, now: Int64,
        pluginVersion: String, crashes: Int = 0, maxCrashes: Int = Int.max, random: () -> Double = { Double.random(in: 0..<1) }
    ) -> Disposition {
        let total = before + attempts
        if r.sinkFault && crashes >= maxCrashes {
            return .dead(
                letter(
                    m, .sinkCrashed,
                    "the sink process failed \(crashes) times while this message was in flight (maxCrashesPerMessage \(maxCrashes)); "
                        + "last: \(r.error ?? "no reason")", attempts: total, first: first, last: now, pluginVersion: pluginVersion))
        }
        switch r.status {
        case .ok:
            return .delivered
        case .retry, .throttled:
            let error = r.error ?? r.status.description
            if attempts >= retry.maxAttempts {
                let tried = attempts == 1 ? "1 attempt allowed" : "\(attempts) attempts failed"
                let replayed = before > 0 ? " (after a replay; \(total) attempts in all)" : ""
                return .dead(
                    letter(
                        m, .retriesExhausted, "\(tried)\(replayed); last error: \(error)", attempts: total, first: first,
                        last: now, pluginVersion: pluginVersion))
            }
            let delay = retry.delayMs(afterAttempt: attempts, floor: Int(r.retryAfterMs), random: random)
            return .retry(
                RetryEntry(
                    message: m, attempts: attempts, attemptBase: before, nextAttempt: now + Int64(max(1, delay)),
                    firstAttempt: first, lastAttempt: now, lastStatus: r.status.description, lastError: error))
        case .permanent:
            return .dead(
                letter(m, .permanent, r.error ?? r.status.description, attempts: total, first: first, last: now, pluginVersion: pluginVersion))
        case .tooLarge:
            return .dead(
                letter(m, .tooLarge, r.error ?? r.status.description, attempts: total, first: first, last: now, pluginVersion: pluginVersion))
        }
    }

    func letter(
        _ m: DeliveryMessage, _ status: DeadLetterStatus, _ reason: String, attempts: Int, first: Int64, last: Int64,
        pluginVersion: String
    ) -> DeadLetter {
        DeadLetter(
            key: key, message: m, status: status.rawValue, reason: reason, attempts: attempts, firstAttempt: first,
            lastAttempt: last, plugin: plugin, pluginVersion: pluginVersion, created: last)
    }

    // MARK: batches

    /// Cuts messages of `sizes` bytes (body and headers) into consecutive batches of at most
    /// `maxMessages` and `maxBytes`; a message over `maxBytes` alone is a batch of its own (the sink
    /// answers for it).
    static func batches(sizes: [Int], maxMessages: Int, maxBytes: Int) -> [Range<Int>] {
        if sizes.isEmpty { return [] }
        let maxMessages = max(1, maxMessages)
        var batches: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for (i, size) in sizes.enumerated() {
            if i > start && (i - start >= maxMessages || bytes + size > maxBytes) {
                batches.append(start..<i)
                start = i
                bytes = 0
            }
            bytes += size
        }
        batches.append(start..<sizes.count)
        return batches
    }
}

/// Why a message was dead-lettered (the `status` of a dead letter).
enum DeadLetterStatus: String, Sendable {
    /// The sink refused it for good, or the queued event does not decode.
    case permanent = "PERMANENT"
    /// Over the destination's or the sink's size limit.
    case tooLarge = "TOO_LARGE"
    /// Every attempt of the retry budget failed.
    case retriesExhausted = "RETRIES_EXHAUSTED"
    /// The sink's process crashed, exited or was killed `maxCrashesPerMessage` times with the message in flight.
    case sinkCrashed = "SINK_CRASHED"
}

/// Messages per key in the retry schedule, for an ordered destination: a key with any is held, so its
/// later messages wait behind it. Owned by the worker's task (a value, not shared).
struct HeldKeys: Equatable {
    private(set) var counts: [String: Int] = [:]

    func isHeld(_ key: String) -> Bool { counts[key, default: 0] > 0 }

    mutating func add(_ key: String) { counts[key, default: 0] += 1 }

    /// One message of `key` left the schedule (delivered or dead-lettered).
    mutating func release(_ key: String) {
        let left = counts[key, default: 1] - 1
        counts[key] = left > 0 ? left : nil
    }
}

/// The outcomes of one round (a window of new events, or a set of due retries), recorded in one
/// transaction, and the counters they move.
struct RoundOutcome: Sendable {
    var counts = DeliveryCounts()
    var retries: [RetryEntry] = []
    var deadLetters: [DeadLetter] = []
    /// The longest `retry_after_ms` of a THROTTLED answer: the worker pauses that long after the round.
    var pauseMs = 0

    /// Adds one message's disposition; `result` is the sink's answer (nil: dead-lettered without an attempt).
    mutating func add(_ disposition: DeliveryDecisions.Disposition, result: MessageResult? = nil) {
        switch result?.status {
        case .throttled?:
            counts.throttled += 1
            pauseMs = max(pauseMs, Int(result!.retryAfterMs))
        case .retry?:
            counts.retried += 1
        default:
            break
        }
        switch disposition {
        case .delivered: counts.sent += 1
        case .retry(let entry): retries.append(entry)
        case .dead(let letter):
            counts.deadLettered += 1
            deadLetters.append(letter)
        }
    }
}
