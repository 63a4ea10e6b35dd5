import Foundation
import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import HeraldStorage
import Logging
import Synchronization

/// Decides whether an event goes to a destination (the object filter), given the decoded snapshot and delta.
///
/// `scope` says what the test reads of the snapshot: the delivery loop decodes only that much to test an event,
/// and renders the ones that pass from the stored bytes when it can.
public struct EventPredicate: Sendable {
    public let scope: EntityDecodeScope
    public let test: @Sendable (Entity, EventDelta, EventRecord) -> Bool

    public init(scope: EntityDecodeScope = .all, _ test: @escaping @Sendable (Entity, EventDelta, EventRecord) -> Bool) {
        self.scope = scope
        self.test = test
    }

    public func callAsFunction(_ entity: Entity, _ delta: EventDelta, _ record: EventRecord) -> Bool {
        test(entity, delta, record)
    }
}

/// Delivers one destination: reads the CRUD queue after its durable cursor, filters, renders,
/// batches, sends through the plugin instance, and records every message's outcome.
///
/// The cursor moves only over a contiguous prefix of finished messages: delivered, moved to the
/// durable retry schedule, or dead-lettered — in the same transaction as those moves, so a crash
/// or restart resumes exactly there (at-least-once; duplicates only from what was in flight).
/// With `ordering: perEntity`, a window never holds two messages of one entity, and while an
/// entity has a message in the retry schedule its later messages wait behind it.
///
/// `run()` is a child task of `DeliveryService.run()`. The delivery loop (`DeliveryLoop`, the state
/// only that task touches) runs under it and is stopped by cancellation: by `stop()` (a reload or
/// shutdown) or when the service's task is cancelled. What the worker shares with other tasks —
/// its status and its sink instance — is behind locks, so the compiler checks it is `Sendable`.
final class DestinationWorker: Sendable {
    let tenant: TenantConfiguration
    let destination: DestinationConfiguration
    let provider: ProviderConfiguration
    let store: any Store
    let registry: PluginRegistry
    let predicate: EventPredicate?
    /// The tenant and destination this worker delivers: the key of all its state.
    let key: DestinationKey
    let logger: Logger
    let metrics: any DeliveryMetrics
    /// Where the worker keeps its throughput history and recent errors.
    let activity: DeliveryActivity
    /// The lease this worker delivers under: every delivery write checks it in its transaction (nil: a disabled
    /// destination, which writes nothing).
    let lease: LeaseFence?
    /// Called once if a delivery write found the lease no longer this worker's; the worker has stopped delivering.
    let onLeaseLost: @Sendable (DestinationKey, LeaseFence) -> Void

    private let status: Mutex<DestinationStatus>
    private let instanceBox = Mutex<(any SinkHandle)?>(nil)
    /// The plugin code the instance runs (nil until it has started): a reload compares it with the registry's.
    private let runningPlugin = Mutex<LoadedPlugin?>(nil)
    /// `Phase`: whether `run()` has started, or `stop()` came first.
    private let phase = Atomic<UInt8>(Phase.pending.rawValue)
    /// Opened by `stop()`: cancels the delivery loop.
    private let stopRequest = Latch()
    /// Opened when `run()` has stopped the loop and the sink instance.
    private let finished = Latch()
    /// Set when the delivery loop ended on its own because the lease was lost.
    private let lostLease = Atomic<Bool>(false)

    /// Whether the worker stopped delivering because its lease was lost (it must be replaced, not kept).
    var hasLostLease: Bool { lostLease.load(ordering: .acquiring) }

    /// The delivery loop found the lease gone: it has stopped; tell the service (once).
    func leaseLost() {
        guard let lease, !lostLease.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.warning("lost the lease \(lease): stopped delivering this destination")
        activity.error(key, code: "LEASE_LOST", message: "lease \(lease) lost (it lapsed, or another node took it): stopped delivering")
        update {
            $0.state = .stopped
            $0.reason = "lease \(lease) lost"
        }
        onLeaseLost(key, lease)
    }

    private enum Phase: UInt8 {
        case pending, running, stoppedBeforeRunning
    }

    init(
        tenant: TenantConfiguration, destination: DestinationConfiguration, provider: ProviderConfiguration,
        store: any Store, registry: PluginRegistry, predicate: EventPredicate?, logger: Logger,
        metrics: any DeliveryMetrics, activity: DeliveryActivity, lease: LeaseFence?, onLeaseLost: @escaping @Sendable (DestinationKey, LeaseFence) -> Void = { _, _ in }
    ) {
        self.tenant = tenant
        self.destination = destination
        self.provider = provider
        self.store = store
        self.registry = registry
        self.predicate = predicate
        key = DestinationKey(tenant: tenant.id, destination: destination.id)
        var logger = logger
        logger[metadataKey: "tenant"] = "\(tenant.id)"
        logger[metadataKey: "destination"] = "\(destination.id)"
        self.logger = logger
        self.metrics = metrics
        self.activity = activity
        self.lease = lease
        self.onLeaseLost = onLeaseLost
        status = Mutex(DestinationStatus.idle(tenant: tenant.id, destination: destination, provider: provider, standby: .starting))
    }

    var snapshot: DestinationStatus {
        var s = status.withLock { $0 }
        s.isolation = provider.effectiveIsolation.rawValue
        if let instance = instanceBox.withLock({ $0 }) {
            s.inFlight = instance.inFlight
            if let child = instance as? ProcessSink {
                s.sinkPid = child.childPID
                s.sinkRestarts = child.restarts
                s.sinkLastFault = child.lastFault
            }
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

    func update(_ body: (inout DestinationStatus) -> Void) { status.withLock { body(&$0) } }

    /// Creates and starts the plugin instance now (so a reload can check it before stopping the old worker).
    func prepareInstance() throws(PluginLoadError) {
        let plugin: LoadedPlugin
        switch registry.plugin(named: provider.plugin) {
        case .success(let p): plugin = p
        case .failure(let error): throw error
        }
        // Known before the instance starts (starting a child can take a while): a reload meanwhile that finds other
        // code in the registry must see that this worker is about to run the old one (`pluginChanged`).
        runningPlugin.withLock { $0 = plugin }
        let metrics = self.metrics
        let key = self.key
        let pluginName = plugin.name
        let settings = provider.process
        var options = ProcessSinkOptions()
        options.memoryLimitMb = settings.memoryLimitMb
        options.restartBackoffInitialMs = settings.restartBackoffInitialMs
        options.restartBackoffMaxMs = settings.restartBackoffMaxMs
        options.heartbeatIntervalMs = settings.heartbeatIntervalMs
        options.heartbeatTimeoutMs = settings.heartbeatTimeoutMs
        let instance = try SinkFactory.make(
            plugin: plugin, alias: provider.alias, destination: destination.name, config: provider.config, logger: logger,
            isolation: provider.effectiveIsolation == .process ? .process : .inProcess, options: options,
            metrics: { name, value, isCounter in
                metrics.pluginMetric(key, plugin: pluginName, name: name, value: value, isCounter: isCounter)
            })
        instanceBox.withLock { $0 = instance }
        update {
            $0.pluginVersion = plugin.version
            $0.state = .running
            $0.healthy = true
            $0.reason = ""
        }
    }

    /// `prepareInstance()` on a thread of its own: creating and starting a sink blocks (a plugin's on_create and
    /// on_start, or a child process's spawn and start), and must not hold one of the few cooperative-pool threads.
    func prepareInstanceOffPool() async throws(PluginLoadError) {
        let outcome: Result<Void, PluginLoadError> = await onOwnThread("herald-sink-start") {
            do throws(PluginLoadError) {
                try self.prepareInstance()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try outcome.get()
    }

    /// Whether the registry now has other code for this worker's plugin than the code its instance runs.
    var pluginChanged: (from: String, to: String)? {
        guard let running = runningPlugin.withLock({ $0 }), case .success(let current) = registry.plugin(named: provider.plugin),
            current.sha256 != running.sha256
        else { return nil }
        return (running.version, current.version)
    }

    /// Delivers until stopped: the delivery loop runs as a child task, cancelled by `stop()`; then the
    /// sink instance is stopped. Called once, by `DeliveryService.run()`.
    func run() async {
        guard phase.compareExchange(expected: Phase.pending.rawValue, desired: Phase.running.rawValue, ordering: .acquiringAndReleasing).exchanged
        else { return }
        if destination.delivers {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.deliver() }
                group.addTask { await self.stopRequest.wait() }
                // Whichever ends first (the stop request, or the loop when the service's task is
                // cancelled) ends the other.
                _ = await group.next()
                group.cancelAll()
            }
        }
        await onOwnThread("herald-sink-stop") { self.shutDownInstance() }
        finished.open()
    }

    /// Stops after the round in flight is finished and recorded, then stops the plugin instance.
    func stop() async {
        stopRequest.open()
        if phase.compareExchange(
            expected: Phase.pending.rawValue, desired: Phase.stoppedBeforeRunning.rawValue, ordering: .acquiringAndReleasing
        ).exchanged {
            // `run()` never started (and now never will): only an instance a reload prepared is left.
            await onOwnThread("herald-sink-stop") { self.shutDownInstance() }
            return
        }
        await finished.wait()
    }

    private func shutDownInstance() {
        if let instance = instanceBox.withLock({ $0 }) {
            instance.stop(deadlineMs: UInt32(min(destination.sendTimeoutMs, 10_000)))
            instance.destroy()
        }
        instanceBox.withLock { $0 = nil }
        update { $0.state = destination.delivers ? .stopped : (destination.enabled ? .paused : .disabled) }
    }

    /// Starts the sink instance (retried with backoff until it starts: the rest of Herald keeps running),
    /// then runs the delivery loop until cancelled.
    private func deliver() async {
        var delay = 1.0
        while !Task.isCancelled && instanceBox.withLock({ $0 }) == nil {
            do {
                try await prepareInstanceOffPool()
            } catch {
                logger.error("destination disabled until its sink starts: \(error.message)")
                activity.error(key, code: "SINK_START_FAILED", message: error.message)
                update {
                    $0.state = .failed
                    $0.healthy = false
                    $0.reason = error.message
                }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 30)
            }
        }
        guard !Task.isCancelled, let instance = instanceBox.withLock({ $0 }) else { return }
        let ordered = destination.ordering == .perEntity || instance.limits.requiresKeyOrder
        if ordered && destination.ordering != .perEntity {
            logger.notice("the sink keeps each key's messages in order and needs them so: delivering as with ordering perEntity")
        }
        update { $0.ordering = ordered ? .perEntity : .none }
        var loop = DeliveryLoop(
            worker: self, instance: instance,
            decisions: DeliveryDecisions(key: key, destination: destination, plugin: provider.plugin, ordered: ordered))
        await loop.run()
    }

    var pluginVersion: String { status.withLock { $0.pluginVersion } }
}

/// Runs blocking work on a thread of its own and waits for it without holding a cooperative-pool thread.
func onOwnThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
        let thread = Thread { c.resume(returning: body()) }
        thread.name = name
        thread.start()
    }
}
