import HeraldConfig
@testable import HeraldDelivery
import HeraldModel
import HeraldPayload
import HeraldPlugins
import HeraldSQLite
import HeraldStorage
import Testing

/// The delivery decisions in process, without a server, a store or a sink: which events a window
/// holds and where the cursor may move, what is sent, held or dead-lettered, what an answer makes of
/// a message, how batches are cut.
struct DeliveryDecisionsTests {
    static let key = DestinationKey(tenant: "alpha", destination: "q/events")

    static func decisions(
        ordered: Bool, types: Set<EventType>? = nil, maxAttempts: Int = 5, initialDelayMs: Int = 1000
    ) -> DeliveryDecisions {
        var d = DestinationConfiguration(id: "q/events", provider: "q", name: "events")
        d.typeFilter = types
        d.retry.maxAttempts = maxAttempts
        d.retry.initialDelayMs = initialDelayMs
        return DeliveryDecisions(key: key, destination: d, plugin: "test", ordered: ordered)
    }

    static func record(_ seq: Int64, _ entity: String, _ type: EventType = .entityChanged) -> EventRecord {
        EventRecord(
            seq: seq, tenant: "alpha",
            event: NewEvent(type: type, objectURI: "entities/\(entity)", objectVersion: 1, time: 0, snapshot: [], delta: []))
    }

    static func message(_ seq: Int64, _ entity: String, bytes: Int = 10) -> DeliveryMessage {
        DeliveryMessage(
            seq: seq, id: "\(seq)-x", key: "entities/\(entity)", eventType: "ENTITY_CHANGED", objectURI: "entities/\(entity)",
            headers: [], body: [UInt8](repeating: 0x61, count: bytes))
    }

    // MARK: windows and the cursor

    @Test func anUnorderedWindowTakesEveryRecordAndEndsAtTheLast() {
        let records = [Self.record(11, "a"), Self.record(12, "a"), Self.record(13, "b")]
        let w = Self.decisions(ordered: false).window(records, after: 10)
        #expect(w.candidates.map(\.seq) == [11, 12, 13])
        #expect(w.end == 13)
        #expect(w.filtered == 0)
    }

    @Test func anOrderedWindowEndsBeforeASecondMessageOfAnEntity() {
        let records = [Self.record(11, "a"), Self.record(12, "b"), Self.record(13, "a"), Self.record(14, "c")]
        let w = Self.decisions(ordered: true).window(records, after: 10)
        #expect(w.candidates.map(\.seq) == [11, 12])
        // The cursor may move over what the window covers only: 13 is read again next round.
        #expect(w.end == 12)
    }

    @Test func typeFilteredEventsMoveTheCursorAndDoNotOpenTheEntitysPlace() {
        let records = [
            Self.record(21, "a", .entityCreated), Self.record(22, "a"), Self.record(23, "b", .entityCreated),
            Self.record(24, "a", .entityCreated),
        ]
        let w = Self.decisions(ordered: true, types: [.entityChanged]).window(records, after: 20)
        // 21 is filtered out by type, so 22 of the same entity still fits; 24 is a's second event after 22:
        // the window ends before it even though its type is filtered (it is decided next round).
        #expect(w.candidates.map(\.seq) == [22])
        #expect(w.end == 23)
        #expect(w.filtered == 2)
    }

    @Test func anEmptyReadLeavesTheCursorWhereItWas() {
        let w = Self.decisions(ordered: true).window([], after: 42)
        #expect(w.candidates.isEmpty)
        #expect(w.end == 42)
    }

    // MARK: sending, holding, dead-lettering

    @Test func perEntityHoldsBackMessagesOfAKeyInTheRetrySchedule() {
        var held = HeldKeys()
        held.add("entities/a")
        let outcomes: [DeliveryDecisions.LaneOutcome] = [
            .rendered(.message(Self.message(1, "a"))), .rendered(.message(Self.message(2, "b"))), .filtered,
        ]
        let ordered = Self.decisions(ordered: true).sort(outcomes, held: held)
        #expect(ordered.toSend.map(\.seq) == [2])
        #expect(ordered.held.map(\.seq) == [1])
        #expect(ordered.filtered == 1)
        // Without per-key order nothing waits.
        let unordered = Self.decisions(ordered: false).sort(outcomes, held: held)
        #expect(unordered.toSend.map(\.seq) == [1, 2])
        #expect(unordered.held.isEmpty)
    }

    @Test func aHeldEntryIsNeitherAttemptedNorDue() {
        let entry = Self.decisions(ordered: true).heldEntry(Self.message(7, "a"), now: 1_000)
        #expect(entry.attempts == 0)
        #expect(entry.nextAttempt == 0)
        #expect(entry.lastStatus == "HELD")
    }

    @Test func tooLargeAndCorruptEventsAreDeadLetteredWithoutAnAttempt() {
        let outcomes: [DeliveryDecisions.LaneOutcome] = [
            .rendered(.tooLarge(Self.message(1, "a"), size: 300_000, limit: 262_144)),
            .corrupt(Self.message(2, "b"), "the queued event does not decode"),
        ]
        let sorted = Self.decisions(ordered: false).sort(outcomes, held: HeldKeys())
        #expect(sorted.toSend.isEmpty)
        #expect(sorted.dead.map(\.1) == [.tooLarge, .permanent])
        #expect(sorted.dead[0].2.contains("300000 bytes"))
        #expect(sorted.dead[0].2.contains("largeObjectsSupport"))
    }

    @Test func heldKeysCountEveryMessageOfAKey() {
        var held = HeldKeys()
        held.add("k")
        held.add("k")
        held.release("k")
        #expect(held.isHeld("k"))
        held.release("k")
        #expect(!held.isHeld("k"))
        #expect(held.counts.isEmpty)
    }

    // MARK: answers

    @Test func okIsDelivered() {
        let d = Self.decisions(ordered: false).dispose(
            Self.message(1, "a"), attempts: 1, first: 0, MessageResult(status: .ok), now: 100, pluginVersion: "1")
        guard case .delivered = d else { Issue.record("\(d)"); return }
    }

    @Test func retryIsScheduledWithinTheBackoffAndNeverBeforeRetryAfter() {
        let decisions = Self.decisions(ordered: false, initialDelayMs: 1000)
        let d = decisions.dispose(
            Self.message(1, "a"), attempts: 2, first: 50, MessageResult(status: .retry, error: "503"), now: 100,
            pluginVersion: "1", random: { 0.5 })
        guard case .retry(let entry) = d else { Issue.record("\(d)"); return }
        // Attempt 2: ceiling 2,000 ms, half of it.
        #expect(entry.nextAttempt == 100 + 1000)
        #expect(entry.attempts == 2)
        #expect(entry.firstAttempt == 50)
        #expect(entry.lastError == "503")
        let throttled = decisions.dispose(
            Self.message(1, "a"), attempts: 1, first: 0, MessageResult(status: .throttled, retryAfterMs: 5_000), now: 100,
            pluginVersion: "1", random: { 0 })
        guard case .retry(let later) = throttled else { Issue.record("\(throttled)"); return }
        #expect(later.nextAttempt == 100 + 5_000)
        #expect(later.lastStatus == "THROTTLED")
    }

    @Test func theLastAttemptOfTheBudgetDeadLettersWithEveryAttemptCounted() {
        let decisions = Self.decisions(ordered: false, maxAttempts: 3)
        let d = decisions.dispose(
            Self.message(1, "a"), attempts: 3, before: 4, first: 10, MessageResult(status: .retry, error: "down"), now: 99,
            pluginVersion: "2.0")
        guard case .dead(let letter) = d else { Issue.record("\(d)"); return }
        #expect(letter.status == "RETRIES_EXHAUSTED")
        #expect(letter.attempts == 7)
        #expect(letter.reason == "3 attempts failed (after a replay; 7 attempts in all); last error: down")
        #expect(letter.key == Self.key)
        #expect(letter.plugin == "test")
        #expect(letter.pluginVersion == "2.0")
        // One attempt short of the budget is still a retry.
        let before = decisions.dispose(
            Self.message(1, "a"), attempts: 2, first: 10, MessageResult(status: .retry), now: 99, pluginVersion: "2.0")
        guard case .retry = before else { Issue.record("\(before)"); return }
    }

    @Test(arguments: [(SinkStatus.permanent, "PERMANENT"), (.tooLarge, "TOO_LARGE")])
    func refusalsAreDeadLetteredAtOnce(_ status: SinkStatus, _ expected: String) {
        let d = Self.decisions(ordered: false, maxAttempts: 100).dispose(
            Self.message(1, "a"), attempts: 1, first: 0, MessageResult(status: status, error: "no"), now: 5, pluginVersion: "1")
        guard case .dead(let letter) = d else { Issue.record("\(d)"); return }
        #expect(letter.status == expected)
        #expect(letter.reason == "no")
    }

    @Test func aRoundCountsAnswersAndPausesForTheLongestThrottle() {
        var round = RoundOutcome()
        let decisions = Self.decisions(ordered: false)
        for (i, r) in [
            MessageResult(status: .ok), MessageResult(status: .throttled, retryAfterMs: 300),
            MessageResult(status: .throttled, retryAfterMs: 900), MessageResult(status: .retry), MessageResult(status: .permanent),
        ].enumerated() {
            round.add(
                decisions.dispose(Self.message(Int64(i), "a"), attempts: 1, first: 0, r, now: 0, pluginVersion: "1"), result: r)
        }
        #expect(round.counts.sent == 1)
        #expect(round.counts.throttled == 2)
        #expect(round.counts.retried == 1)
        #expect(round.counts.deadLettered == 1)
        #expect(round.retries.count == 3)
        #expect(round.pauseMs == 900)
    }

    // MARK: batches

    @Test func batchesAreCutByCountAndBytes() {
        #expect(DeliveryDecisions.batches(sizes: [], maxMessages: 10, maxBytes: 100).isEmpty)
        #expect(DeliveryDecisions.batches(sizes: Array(repeating: 1, count: 25), maxMessages: 10, maxBytes: 1_000) == [0..<10, 10..<20, 20..<25])
        #expect(DeliveryDecisions.batches(sizes: [40, 40, 40, 10], maxMessages: 10, maxBytes: 100) == [0..<2, 2..<4])
        // A message over the byte limit goes alone; the sink answers for it.
        #expect(DeliveryDecisions.batches(sizes: [10, 500, 10], maxMessages: 10, maxBytes: 100) == [0..<1, 1..<2, 2..<3])
    }
}
