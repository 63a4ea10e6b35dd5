import Foundation
import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import HeraldStore
import Logging
import Synchronization

/// Decides whether an event goes to a destination (the object filter), given the decoded snapshot and delta.
public typealias EventPredicate = @Sendable (Entity, EventDelta, EventRecord) -> Bool

/// Delivers one destination: reads the CRUD queue after its durable cursor, filters, renders,
/// batches, sends through the plugin instance, and records every message's outcome.
///
/// The cursor moves only over a contiguous prefix of finished messages: delivered, moved to the
/// durable retry schedule, or dead-lettered — in the same transaction as those moves, so a crash
/// or restart resumes exactly there (at-least-once; duplicates only from what was in flight).
/// With `ordering: perEntity`, a window never holds two messages of one entity, and while an
/// entity has a message in the retry schedule its later messages wait behind it.
final class DestinationWorker: @unchecked Sendable {
    let tenant: TenantConfiguration
    let destination: DestinationConfiguration
    let provider: ProviderConfiguration
    let store: HeraldStore
    let registry: PluginRegistry
    let predicate: EventPredicate?
    /// The tenant and destination this worker delivers: the key of all its state.
    let key: DestinationKey
    let logger: Logger
    let metrics: any DeliveryMetrics

    private let status: Mutex<DestinationStatus>
    private let stopRequested = Atomic<Bool>(false)
    private let instanceBox = Mutex<SinkInstance?>(nil)
    /// The plugin code the instance runs (nil until it has started): a reload compares it with the registry's.
    private let runningPlugin = Mutex<LoadedPlugin?>(nil)
    private var task: Task<Void, Never>?
    /// The decisions, with per-key order set from the destination's `ordering: perEntity` or a sink
    /// that requires it (`HERALD_SINK_LIMIT_KEY_ORDER`). Set when the instance is ready (worker task only).
    private var decisions: DeliveryDecisions
    private var ordered: Bool { decisions.ordered }

    /// Messages per key in the retry schedule (ordered destinations only; worker task only).
    private var held = HeldKeys()
    private var cursor: Int64 = 0

    init(
        tenant: TenantConfiguration, destination: DestinationConfiguration, provider: ProviderConfiguration,
        store: HeraldStore, registry: PluginRegistry, predicate: EventPredicate?, logger: Logger,
        metrics: any DeliveryMetrics
    ) {
        self.tenant = tenant
        self.destination = destination
        self.provider = provider
        self.store = store
        self.registry = registry
        self.predicate = predicate
        key = DestinationKey(tenant: tenant.id, destination: destination.id)
        decisions = DeliveryDecisions(key: key, destination: destination, plugin: provider.plugin, ordered: false)
        var logger = logger
        logger[metadataKey: "tenant"] = "\(tenant.id)"
        logger[metadataKey: "destination"] = "\(destination.id)"
        self.logger = logger
        self.metrics = metrics
        status = Mutex(
            DestinationStatus(
                tenant: tenant.id, id: destination.id, provider: provider.alias, plugin: provider.plugin, pluginVersion: "",
                name: destination.name, enabled: destination.enabled, state: destination.enabled ? .starting : .disabled,
                healthy: destination.enabled, reason: destination.enabled ? "" : "disabled in the configuration"))
    }

    var snapshot: DestinationStatus {
        var s = status.withLock { $0 }
        if let instance = instanceBox.withLock({ $0 }) {
            s.inFlight = instance.inFlight
            let h = instance.health
            if s.state == .running {
                s.healthy = h.healthy
                s.reason = h.reason
            }
        }
        if let failure = s.storeFailure {
            s.healthy = false
            s.reason = failure
        }
        return s
    }

    private func update(_ body: (inout DestinationStatus) -> Void) { status.withLock { body(&$0) } }

    /// Creates and starts the plugin instance now (so a reload can check it before stopping the old worker).
    func prepareInstance() throws(PluginLoadError) {
        let plugin: LoadedPlugin
        switch registry.plugin(named: provider.plugin) {
        case .success(let p): plugin = p
        case .failure(let error): throw error
        }
        let metrics = self.metrics
        let key = self.key
        let pluginName = plugin.name
        let instance = try SinkInstance(
            plugin: plugin, alias: provider.alias, destination: destination.name, config: provider.config, logger: logger,
            metrics: { name, value, isCounter in
                metrics.pluginMetric(key, plugin: pluginName, name: name, value: value, isCounter: isCounter)
            })
        do {
            try instance.start()
        } catch {
            instance.destroy()
            throw error
        }
        instanceBox.withLock { $0 = instance }
        runningPlugin.withLock { $0 = plugin }
        update {
            $0.pluginVersion = plugin.version
            $0.state = .running
            $0.healthy = true
            $0.reason = ""
        }
    }

    /// Whether the registry now has other code for this worker's plugin than the code its instance runs.
    var pluginChanged: (from: String, to: String)? {
        guard let running = runningPlugin.withLock({ $0 }), case .success(let current) = registry.plugin(named: provider.plugin),
            current.sha256 != running.sha256
        else { return nil }
        return (running.version, current.version)
    }

    func start() {
        guard destination.enabled else { return }
        task = Task { await self.run() }
    }

    /// Stops after the window in flight is finished and recorded, then stops the plugin instance.
    func stop() async {
        stopRequested.store(true, ordering: .releasing)
        store.commits.signal()
        await task?.value
        if let instance = instanceBox.withLock({ $0 }) {
            instance.stop(deadlineMs: UInt32(min(destination.sendTimeoutMs, 10_000)))
            instance.destroy()
        }
        instanceBox.withLock { $0 = nil }
        update { $0.state = destination.enabled ? .stopped : .disabled }
    }

    private var stopping: Bool { stopRequested.load(ordering: .acquiring) }

    private func run() async {
        // 1. The plugin instance: retried with backoff until it starts (the rest of Herald keeps running).
        var delay = 1.0
        while !stopping && instanceBox.withLock({ $0 }) == nil {
            do {
                try prepareInstance()
            } catch {
                logger.error("destination disabled until its sink starts: \(error.message)")
                update {
                    $0.state = .failed
                    $0.healthy = false
                    $0.reason = error.message
                }
                await sleepInterruptibly(seconds: delay)
                delay = min(delay * 2, 30)
            }
        }
        guard let instance = instanceBox.withLock({ $0 }) else { return }
        let ordered = destination.ordering == .perEntity || instance.limits.requiresKeyOrder
        decisions = DeliveryDecisions(key: key, destination: destination, plugin: provider.plugin, ordered: ordered)
        if ordered && destination.ordering != .perEntity {
            logger.notice("the sink keeps each key's messages in order and needs them so: delivering as with ordering perEntity")
        }
        update { $0.ordering = ordered ? .perEntity : .none }
        // One renderer per lane: rendering runs on every core (renderers reuse buffers and gzip streams).
        let lanes = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        let renderers = (0..<lanes).map { _ in
            PayloadRenderer(
                tenant: tenant.id, destination: destination, streaming: tenant.streaming,
                maxMessageBytes: instance.limits.maxMessageBytes)
        }

        // 2. The durable cursor (created on first start: the queue's beginning, or its end with startFrom: now).
        while !stopping {
            do {
                try await loadState()
                break
            } catch {
                logger.error("cannot read the destination's state: \(error)")
                await sleepInterruptibly(seconds: 1)
            }
        }
        logger.info("delivering from seq \(cursor) through \(provider.plugin) (\(provider.alias))")

        // 3. The loop.
        while !stopping {
            let generation = store.commits.generation
            do {
                var worked = try await processDueRetries(instance)
                worked = try await processNewEvents(instance, renderers) || worked
                if !worked {
                    let next = try await store.nextRetryTime(key)
                    let now = epochMilliseconds()
                    let wait = next.map { max(1, min(1000, Int($0 - now))) } ?? 1000
                    await store.commits.wait(since: generation, timeout: .milliseconds(wait))
                }
            } catch {
                logger.error("delivery error (retrying in 1 s): \(error)")
                update { $0.reason = "\(error)" }
                await sleepInterruptibly(seconds: 1)
            }
        }
    }

    private func loadState() async throws {
        if let stored = try await store.cursor(key) {
            cursor = stored
        } else {
            cursor = destination.startFrom == .now ? try await store.lastSequence(tenant: tenant.id) : 0
            let (key, start) = (self.key, cursor)
            try await store.write { tx in try tx.setCursor(key, seq: start, now: epochMilliseconds()) }
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

    private func processNewEvents(_ instance: SinkInstance, _ renderers: [PayloadRenderer]) async throws -> Bool {
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
        // 3. In queue order: what to send, hold or dead-letter.
        let sorted = decisions.sort(outcomes, held: held)

        let results = await send(sorted.toSend.map { OutboundMessage(message: $0, attempt: 1) }, through: instance)
        let now = epochMilliseconds()
        let pluginVersion = status.withLock { $0.pluginVersion }
        var outcome = RoundOutcome()
        outcome.counts.filtered = window.filtered + sorted.filtered
        for (m, r) in zip(sorted.toSend, results) {
            outcome.add(decisions.dispose(m, attempts: 1, first: now, r, now: now, pluginVersion: pluginVersion), result: r)
        }
        for (m, status, reason) in sorted.dead {
            outcome.add(.dead(decisions.letter(m, status, reason, attempts: 0, first: now, last: now, pluginVersion: pluginVersion)))
        }
        let heldEntries = sorted.held.map { decisions.heldEntry($0, now: now) }
        let key = self.key
        let newCursor = window.end
        let recorded = await recordDurably(outcome) { [outcome] tx in
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
        if outcome.pauseMs > 0 { await sleepInterruptibly(seconds: Double(min(outcome.pauseMs, 30_000)) / 1000) }
        return true
    }

    /// Decodes, filters and renders `records` on up to `renderers.count` tasks; outcomes keep the order.
    private func renderInLanes(_ records: [EventRecord], renderers: [PayloadRenderer]) async -> [DeliveryDecisions.LaneOutcome] {
        let predicate = self.predicate
        @Sendable func one(_ record: EventRecord, _ renderer: PayloadRenderer) -> DeliveryDecisions.LaneOutcome {
            let entity: Entity
            do {
                entity = try record.event.entity()
            } catch {
                let m = DeliveryMessage(
                    seq: record.seq, id: renderer.messageId(seq: record.seq), key: record.event.objectURI,
                    eventType: record.type.rawValue, objectURI: record.event.objectURI, headers: [], body: record.event.snapshot)
                return .corrupt(m, "the queued event does not decode: \(error)")
            }
            let delta = record.event.delta(for: entity)
            if let predicate, !predicate(entity, delta, record) { return .filtered }
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

    private func processDueRetries(_ instance: SinkInstance) async throws -> Bool {
        let due = try await store.dueRetries(key, now: epochMilliseconds(), headsOnly: ordered, limit: windowSize)
        if due.isEmpty { return false }
        let outbound = due.map { OutboundMessage(message: $0.message, attempt: UInt32($0.attemptBase + $0.attempts + 1)) }
        let results = await send(outbound, through: instance)
        let now = epochMilliseconds()
        let pluginVersion = status.withLock { $0.pluginVersion }
        var outcome = RoundOutcome()
        var finished: [RetryEntry] = []
        for (entry, r) in zip(due, results) {
            let disposition = decisions.dispose(
                entry.message, attempts: entry.attempts + 1, before: entry.attemptBase, first: entry.firstAttempt, r, now: now,
                pluginVersion: pluginVersion)
            if case .retry = disposition {} else { finished.append(entry) }
            outcome.add(disposition, result: r)
        }
        let key = self.key
        let ordered = self.ordered
        let recorded = await recordDurably(outcome) { [outcome, finished] tx in
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
        if outcome.pauseMs > 0 { await sleepInterruptibly(seconds: Double(min(outcome.pauseMs, 30_000)) / 1000) }
        return true
    }

    // MARK: recording

    /// Records a round's outcomes. The sink has already answered for these messages, so a failing store must not
    /// make the worker send them again: the same write is retried, backing off up to 30 s, until it commits.
    /// Counters and metrics move only once it has. Returns false when the worker stops before that.
    private func recordDurably(_ outcome: RoundOutcome, _ body: @escaping @Sendable (inout WriteTransaction) throws -> Void) async -> Bool {
        var delay = 0.5
        while true {
            do {
                try await store.write(body)
                break
            } catch {
                if stopping {
                    logger.error("stopping with delivery outcomes not recorded (they are sent again after a restart): \(error)")
                    return false
                }
                logger.error("cannot record delivery outcomes (retrying in \(delay) s, nothing is sent meanwhile): \(error)")
                update { $0.storeFailure = "cannot record delivery outcomes: \(error)" }
                await sleepInterruptibly(seconds: delay)
                delay = min(delay * 2, 30)
            }
        }
        let counts = outcome.counts
        update {
            $0.counts.add(counts)
            $0.storeFailure = nil
        }
        if !counts.isZero { metrics.recorded(key, counts) }
        return true
    }

    // MARK: sending

    /// Splits messages into batches within the plugin's and the destination's limits and sends up to
    /// `maxInFlight` at once. Returns one result per message, in order.
    private func send(_ messages: [OutboundMessage], through instance: SinkInstance) async -> [MessageResult] {
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
        let ordered = self.ordered
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

    private func sleepInterruptibly(seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !stopping && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(min(100, Int(seconds * 1000))))
        }
    }
}

/// A renderer handed to exactly one lane task at a time.
private struct RendererBox: @unchecked Sendable {
    let renderer: PayloadRenderer
}
