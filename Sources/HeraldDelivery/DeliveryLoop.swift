import Foundation
import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import HeraldStorage
import Logging

/// One destination's delivery loop: reads the queue after the cursor, renders in lanes, sends, and
/// records each round. It lives on the worker's delivery task only (its cursor, held keys and
/// decisions are that task's, not shared), and stops when the task is cancelled: a round already
/// sent is still recorded (store writes do not observe cancellation), so a stop sends nothing twice.
struct DeliveryLoop {
    let worker: DestinationWorker
    let instance: any SinkHandle
    /// The decisions, with per-key order set from the destination's `ordering: perEntity` or a sink
    /// that requires it (`HERALD_SINK_LIMIT_KEY_ORDER`).
    let decisions: DeliveryDecisions
    /// Messages per key in the retry schedule (ordered destinations only).
    private var held = HeldKeys()
    private var cursor: Int64 = 0
    /// Faults of the sink's process while a message was in flight, by message (`seq`), until it is delivered or
    /// dead-lettered. In memory: a restart of the daemon starts the count again.
    private var crashes: [Int64: Int] = [:]
    /// `maxCrashesPerMessage` of the provider.
    private let maxCrashes: Int

    init(worker: DestinationWorker, instance: any SinkHandle, decisions: DeliveryDecisions) {
        self.worker = worker
        self.instance = instance
        self.decisions = decisions
        maxCrashes = worker.provider.process.maxCrashesPerMessage
    }

    /// The message's count of sink faults after result `r`.
    private mutating func crashCount(_ m: DeliveryMessage, _ r: MessageResult) -> Int {
        guard r.sinkFault else { return crashes[m.seq] ?? 0 }
        crashes[m.seq, default: 0] += 1
        return crashes[m.seq]!
    }

    /// Forgets the count of a message that is finished (delivered or dead-lettered).
    private mutating func settle(_ m: DeliveryMessage, _ d: DeliveryDecisions.Disposition) {
        if crashes.isEmpty { return }
        if case .retry = d { return }
        crashes[m.seq] = nil
    }

    private var ordered: Bool { decisions.ordered }
    private var store: any Store { worker.store }
    private var destination: DestinationConfiguration { worker.destination }
    private var tenant: TenantConfiguration { worker.tenant }
    private var provider: ProviderConfiguration { worker.provider }
    private var key: DestinationKey { worker.key }
    private var logger: Logger { worker.logger }
    private var predicate: EventPredicate? { worker.predicate }
    private func update(_ body: (inout DestinationStatus) -> Void) { worker.update(body) }

    /// Runs until the task is cancelled.
    mutating func run() async {
        // One renderer per lane: rendering runs on every core (renderers reuse buffers and gzip compressors).
        let lanes = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        let renderers = (0..<lanes).map { _ in
            PayloadRenderer(
                tenant: tenant.id, destination: destination, streaming: tenant.streaming,
                maxMessageBytes: instance.limits.maxMessageBytes)
        }

        // 1. The durable cursor (created on first start: the queue's beginning, or its end with startFrom: now).
        while !Task.isCancelled {
            do {
                try await loadState()
                break
            } catch {
                if Task.isCancelled { return }
                if Self.isLeaseLost(error) {
                    worker.leaseLost()
                    return
                }
                logger.error("cannot read the destination's state: \(error)")
                worker.activity.error(key, code: "STATE_READ_FAILED", message: "\(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        if Task.isCancelled { return }
        logger.info("delivering from seq \(cursor) through \(provider.plugin) (\(provider.alias))")

        // 2. The loop.
        while !Task.isCancelled {
            let generation = store.commits.generation
            do {
                var worked = try await processDueRetries()
                worked = try await processNewEvents(renderers) || worked
                if !worked {
                    let next = try await store.nextRetryTime(key)
                    let now = epochMilliseconds()
                    let wait = next.map { max(1, min(1000, Int($0 - now))) } ?? 1000
                    await store.commits.wait(since: generation, timeout: .milliseconds(wait))
                }
            } catch {
                // A read cut short by cancellation is the stop, not an error.
                if Task.isCancelled { return }
                // Another node has (or may take) this destination: not one more write from here.
                if Self.isLeaseLost(error) {
                    worker.leaseLost()
                    return
                }
                logger.error("delivery error (retrying in 1 s): \(error)")
                worker.activity.error(key, code: "DELIVERY_ERROR", message: "\(error)")
                update { $0.reason = "\(error)" }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    static func isLeaseLost(_ error: any Error) -> Bool {
        (error as? StoreError)?.code == .leaseLost
    }

    private mutating func loadState() async throws {
        if let stored = try await store.cursor(key) {
            cursor = stored
        } else {
            cursor = destination.startFrom == .now ? try await store.lastSequence(tenant: tenant.id) : 0
            let (key, start, lease) = (self.key, cursor, worker.lease)
            try await store.write { tx in
                if let lease { try tx.verifyLease(key, lease) }
                try tx.setCursor(key, seq: start, now: epochMilliseconds())
            }
        }
        if ordered {
            held = HeldKeys()
            for entry in try await store.retries(key, limit: Int.max) { held.add(entry.message.key) }
        }
        update { $0.cursor = cursor }
    }

    private var windowSize: Int {
        max(destination.batch.maxMessages * destination.batch.maxInFlight, 256)
    }

    // MARK: new events

    private mutating func processNewEvents(_ renderers: [PayloadRenderer]) async throws -> Bool {
        var records = try await store.events(tenant: tenant.id, after: cursor, limit: windowSize)
        if records.isEmpty { return false }
        if records.count < destination.batch.maxMessages && destination.batch.lingerMs > 0 {
            // Give a partial batch a moment to fill.
            let generation = store.commits.generation
            await store.commits.wait(since: generation, timeout: .milliseconds(destination.batch.lingerMs))
            records = try await store.events(tenant: tenant.id, after: cursor, limit: windowSize)
        }

        // 1. The window: its end, and the events that pass the type filter.
        let window = decisions.window(records, after: cursor)
        // 2. In parallel lanes: decode, object filter, render (the CPU-heavy part).
        let outcomes = await renderInLanes(window.candidates, renderers: renderers)
        var renders = RenderCounts()
        for r in renderers { renders.add(r.renders) }
        update { [renders] in $0.renders = renders }
        // 3. In queue order: what to send, hold or dead-letter.
        let sorted = decisions.sort(outcomes, held: held)

        let results = await send(sorted.toSend.map { OutboundMessage(message: $0, attempt: 1) })
        let now = epochMilliseconds()
        let pluginVersion = worker.pluginVersion
        var outcome = RoundOutcome()
        outcome.counts.filtered = window.filtered + sorted.filtered
        for (m, r) in zip(sorted.toSend, results) {
            let d = decisions.dispose(
                m, attempts: 1, first: now, r, now: now, pluginVersion: pluginVersion, crashes: crashCount(m, r), maxCrashes: maxCrashes)
            settle(m, d)
            outcome.add(d, result: r)
        }
        for (m, status, reason) in sorted.dead {
            outcome.add(.dead(decisions.letter(m, status, reason, attempts: 0, first: now, last: now, pluginVersion: pluginVersion)))
        }
        let heldEntries = sorted.held.map { decisions.heldEntry($0, now: now) }
        let key = self.key
        let newCursor = window.end
        let recorded = try await recordDurably(outcome) { [outcome] tx in
            for r in outcome.retries { try tx.scheduleRetry(key, r) }
            for h in heldEntries { try tx.scheduleRetry(key, h) }
            for d in outcome.deadLetters { try tx.deadLetter(d) }
            try tx.setCursor(key, seq: newCursor, now: now)
        }
        // Not recorded (stopping while the store fails): the window is read again after a restart.
        guard recorded else { return true }
        if ordered {
            for r in outcome.retries { held.add(r.message.key) }
            for h in sorted.held { held.add(h.key) }
        }
        cursor = newCursor
        update { $0.cursor = newCursor }
        if outcome.pauseMs > 0 { try? await Task.sleep(for: .milliseconds(min(outcome.pauseMs, 30_000))) }
        return true
    }

    /// Decodes, filters and renders `records` on up to `renderers.count` tasks; outcomes keep the order.
    /// What `PayloadRenderer.renderFromStored` takes (SNAPSHOT, DELTAS and SNAPSHOT_WITH_DELTA of entity events)
    /// is rendered from the stored bytes, without decoding. An object filter is tested on the entity decoded only as
    /// far as it reads (`EventPredicate.scope`: the attributes it names, crosswalks when named, never sources); a
    /// predicate whose scope is `.all` gets the whole entity, which then also renders the message.
    private func renderInLanes(_ records: [EventRecord], renderers: [PayloadRenderer]) async -> [DeliveryDecisions.LaneOutcome] {
        let predicate = self.predicate
        @Sendable func corrupt(_ record: EventRecord, _ renderer: PayloadRenderer, _ error: any Error) -> DeliveryDecisions.LaneOutcome {
            let m = DeliveryMessage(
                seq: record.seq, id: renderer.messageId(seq: record.seq), key: record.event.objectURI,
                eventType: record.type.rawValue, objectURI: record.event.objectURI, headers: [], body: record.event.snapshot)
            return .corrupt(m, "the queued event does not decode: \(error)")
        }
        @Sendable func one(_ record: EventRecord, _ renderer: PayloadRenderer) -> DeliveryDecisions.LaneOutcome {
            var tested = false
            if let predicate, !predicate.scope.isAll {
                // Decode what the filter reads, test, and render what passes from the stored bytes.
                let partial: Entity
                do {
                    partial = try Entity(storedBytes: record.event.snapshot, scope: predicate.scope)
                } catch {
                    return corrupt(record, renderer, error)
                }
                if !predicate(partial, record.event.delta(for: partial), record) { return .filtered }
                tested = true
            }
            if predicate == nil || tested, let outcome = renderer.renderFromStored(record) { return .rendered(outcome) }
            let entity: Entity
            do {
                entity = try record.event.entity()
            } catch {
                return corrupt(record, renderer, error)
            }
            let delta = record.event.delta(for: entity)
            if let predicate, !tested, !predicate(entity, delta, record) { return .filtered }
            return .rendered(renderer.render(record, entity: entity, delta: delta))
        }
        let lanes = records.count >= 64 ? renderers.count : 1
        if lanes == 1 { return records.map { one($0, renderers[0]) } }
        let chunk = (records.count + lanes - 1) / lanes
        let boxes = renderers.map { RendererBox(renderer: $0) }
        return await withTaskGroup(of: (Int, [DeliveryDecisions.LaneOutcome]).self) { group in
            for lane in 0..<lanes {
                let range = (lane * chunk)..<min(records.count, (lane + 1) * chunk)
                if range.isEmpty { continue }
                let slice = Array(records[range])
                let box = boxes[lane]
                group.addTask { (lane, slice.map { one($0, box.renderer) }) }
            }
            var parts = [[DeliveryDecisions.LaneOutcome]](repeating: [], count: lanes)
            for await (lane, outcomes) in group { parts[lane] = outcomes }
            return parts.flatMap { $0 }
        }
    }

    // MARK: retries

    private mutating func processDueRetries() async throws -> Bool {
        let due = try await store.dueRetries(key, now: epochMilliseconds(), headsOnly: ordered, limit: windowSize)
        if due.isEmpty { return false }
        let outbound = due.map { OutboundMessage(message: $0.message, attempt: UInt32($0.attemptBase + $0.attempts + 1)) }
        let results = await send(outbound)
        let now = epochMilliseconds()
        let pluginVersion = worker.pluginVersion
        var outcome = RoundOutcome()
        var finished: [RetryEntry] = []
        for (entry, r) in zip(due, results) {
            let disposition = decisions.dispose(
                entry.message, attempts: entry.attempts + 1, before: entry.attemptBase, first: entry.firstAttempt, r, now: now,
                pluginVersion: pluginVersion, crashes: crashCount(entry.message, r), maxCrashes: maxCrashes)
            settle(entry.message, disposition)
            if case .retry = disposition {} else { finished.append(entry) }
            outcome.add(disposition, result: r)
        }
        let key = self.key
        let ordered = decisions.ordered
        let recorded = try await recordDurably(outcome) { [outcome, finished] tx in
            for e in outcome.retries { try tx.scheduleRetry(key, e) }
            for d in outcome.deadLetters { try tx.deadLetter(d) }
            for f in finished {
                try tx.deleteRetry(key, seq: f.message.seq)
                if ordered { try tx.releaseHeld(key, messageKey: f.message.key, at: now) }
            }
        }
        guard recorded else { return true }
        if ordered {
            for f in finished { held.release(f.message.key) }
        }
        if outcome.pauseMs > 0 { try? await Task.sleep(for: .milliseconds(min(outcome.pauseMs, 30_000))) }
        return true
    }

    // MARK: recording

    /// Records a round's outcomes. The sink has already answered for these messages, so a failing store must not
    /// make the worker send them again: the same write is retried, backing off up to 30 s, until it commits.
    /// Counters and metrics move only once it has. Returns false when the worker stops before that.
    ///
    /// The transaction first checks the worker's lease (the fencing check): if another node has taken it, or it
    /// lapsed, nothing is written and `LEASE_LOST` is thrown; the loop then stops at once.
    private func recordDurably(_ outcome: RoundOutcome, _ body: @escaping @Sendable (inout any StoreTransaction) throws -> Void) async throws -> Bool {
        var delay = 0.5
        let (key, lease) = (self.key, worker.lease)
        while true {
            do {
                try await store.write { tx in
                    if let lease { try tx.verifyLease(key, lease) }
                    try body(&tx)
                }
                break
            } catch {
                if Self.isLeaseLost(error) {
                    logger.error("delivery outcomes not recorded: the lease is lost (it lapsed, or another node took it); the next holder sends them again")
                    throw error
                }
                if Task.isCancelled {
                    logger.error("stopping with delivery outcomes not recorded (they are sent again after a restart): \(error)")
                    return false
                }
                logger.error("cannot record delivery outcomes (retrying in \(delay) s, nothing is sent meanwhile): \(error)")
                worker.activity.error(key, code: "RECORD_FAILED", message: "cannot record delivery outcomes: \(error)")
                update { $0.storeFailure = "cannot record delivery outcomes: \(error)" }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 30)
            }
        }
        let counts = outcome.counts
        update {
            $0.counts.add(counts)
            $0.storeFailure = nil
        }
        if !counts.isZero { worker.metrics.recorded(key, counts) }
        worker.activity.recorded(key, counts)
        worker.activity.errors(key, outcome.recentErrors(at: epochMilliseconds()))
        return true
    }

    // MARK: sending

    /// Splits messages into batches within the plugin's and the destination's limits and sends up to
    /// `maxInFlight` at once. Returns one result per message, in order.
    ///
    /// Messages that were in flight when the sink's process failed go last, each alone with nothing else in
    /// flight: a further fault then counts against that message only, so the one that crashes the sink reaches
    /// `maxCrashesPerMessage` and the others, sent alone once, go through.
    private func send(_ messages: [OutboundMessage]) async -> [MessageResult] {
        if crashes.isEmpty { return await sendBatched(messages) }
        let suspects = messages.indices.filter { crashes[messages[$0].message.seq] != nil }
        if suspects.isEmpty { return await sendBatched(messages) }
        let others = messages.indices.filter { crashes[messages[$0].message.seq] == nil }
        var results = [MessageResult](repeating: MessageResult(status: .retry, error: "not sent"), count: messages.count)
        for (i, r) in zip(others, await sendBatched(others.map { messages[$0] })) { results[i] = r }
        for i in suspects {
            if Task.isCancelled { break }
            results[i] = await sendBatched([messages[i]]).first ?? results[i]
        }
        return results
    }

    private func sendBatched(_ messages: [OutboundMessage]) async -> [MessageResult] {
        if messages.isEmpty { return [] }
        let limits = instance.limits
        let maxMessages = max(1, min(destination.batch.maxMessages, limits.maxBatchMessages))
        let maxBytes = limits.maxBatchBytes > 0 ? min(destination.batch.maxBytes, limits.maxBatchBytes) : destination.batch.maxBytes
        let batches = DeliveryDecisions.batches(
            sizes: messages.map { m in
                m.message.body.count + m.message.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
            },
            maxMessages: maxMessages, maxBytes: maxBytes)
        let inFlight = max(1, min(destination.batch.maxInFlight, limits.maxInFlight))
        let timeout = Duration.milliseconds(destination.sendTimeoutMs)
        let name = destination.name
        let ordered = decisions.ordered
        var results = [MessageResult](repeating: MessageResult(status: .retry, error: "not sent"), count: messages.count)
        await withTaskGroup(of: (Int, [MessageResult]).self) { group in
            var next = 0
            var running = 0
            while next < batches.count || running > 0 {
                while running < inFlight && next < batches.count {
                    let index = next
                    let range = batches[index]
                    let slice = Array(messages[range])
                    group.addTask {
                        (index, await instance.send(destination: name, messages: slice, ordered: ordered, timeout: timeout))
                    }
                    next += 1
                    running += 1
                }
                if let (index, batchResults) = await group.next() {
                    running -= 1
                    let range = batches[index]
                    for (offset, r) in batchResults.enumerated() where offset < range.count {
                        results[range.lowerBound + offset] = r
                    }
                }
            }
        }
        return results
    }
}

/// A renderer handed to exactly one lane task at a time.
private struct RendererBox: @unchecked Sendable {
    let renderer: PayloadRenderer
}
