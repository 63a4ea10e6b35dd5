import Foundation
import HeraldConfig
import HeraldFilter
import HeraldModel
import HeraldPlugins
import HeraldStorage
import Logging
import ServiceLifecycle
import Synchronization

/// Runs one worker per enabled destination of every tenant with streaming enabled, and
/// replaces them on reload.
///
/// Every worker runs as a child task of `run()` (`apply` hands new workers to it): on graceful
/// shutdown each worker finishes and records its round and stops its sink; if `run()`'s task is
/// cancelled, the cancellation reaches every worker's loop.
public final class DeliveryService: Service, Sendable {
    public let store: any Store
    public let registry: PluginRegistry
    let logger: Logger
    let metrics: any DeliveryMetrics
    private let workers = Mutex<[DestinationKey: DestinationWorker]>([:])
    private let reloadLock = AsyncMutex()
    /// Workers `apply` created, for `run()` to run as child tasks.
    private let starts: AsyncStream<DestinationWorker>
    private let startsContinuation: AsyncStream<DestinationWorker>.Continuation
    /// Set once every worker is stopped for good: a later `apply` starts nothing.
    private let closed = Atomic<Bool>(false)

    /// - Parameters:
    ///   - metrics: receives the workers' outcome counters and the metrics their plugins register.
    public init(
        store: any Store, registry: PluginRegistry, logger: Logger, metrics: any DeliveryMetrics = NoDeliveryMetrics()
    ) {
        self.store = store
        self.registry = registry
        self.logger = logger
        self.metrics = metrics
        (starts, startsContinuation) = AsyncStream.makeStream(of: DestinationWorker.self)
    }

    /// Starts, replaces or stops workers so that they match `tenants`; `filters` are the destinations'
    /// compiled object filters (a destination without one sends every event its type filter lets through).
    ///
    /// A destination whose configuration (or provider configuration, or plugin code) changed gets a new sink
    /// instance first; the old worker then finishes and records its window, and the new one
    /// continues from the durable cursor. Unchanged destinations are not touched.
    public func apply(tenants: [TenantConfiguration], filters: [DestinationKey: ObjectFilter] = [:]) async {
        await reloadLock.withLock {
            if closed.load(ordering: .acquiring) { return }
            var wanted: [DestinationKey: (TenantConfiguration, DestinationConfiguration, ProviderConfiguration)] = [:]
            for tenant in tenants where tenant.streaming.streamingEnabled {
                for d in tenant.streaming.destinations {
                    guard let provider = tenant.streaming.providers[d.provider] else { continue }
                    wanted[DestinationKey(tenant: tenant.id, destination: d.id)] = (tenant, d, provider)
                }
            }
            let current = workers.withLock { $0 }
            // Stop removed destinations.
            for (key, worker) in current where wanted[key] == nil {
                logger.info("stopping destination \(key.destination) of \(key.tenant) (removed)")
                await worker.stop()
                _ = workers.withLock { $0.removeValue(forKey: key) }
            }
            for (key, (tenant, destination, provider)) in wanted.sorted(by: { $0.key < $1.key }) {
                let upgrade = current[key]?.pluginChanged
                if let existing = current[key], existing.destination == destination, existing.provider == provider,
                    sameSchema(existing.tenant, tenant), upgrade == nil
                {
                    continue
                }
                if let upgrade {
                    logger.info(
                        "destination \(destination.id) of \(tenant.id): plugin \(provider.plugin) changed (\(upgrade.from) → \(upgrade.to))")
                }
                let worker = makeWorker(tenant, destination, provider, filter: filters[key])
                if let existing = current[key] {
                    if destination.enabled {
                        do {
                            try worker.prepareInstance()
                        } catch {
                            logger.error(
                                "new configuration of destination \(destination.id) does not start (\(error)); keeping the running one")
                            continue
                        }
                    }
                    logger.info("replacing destination \(destination.id) of \(tenant.id): draining the old instance")
                    await existing.stop()
                }
                workers.withLock { $0[key] = worker }
                startsContinuation.yield(worker)
            }
        }
    }

    private func sameSchema(_ a: TenantConfiguration, _ b: TenantConfiguration) -> Bool {
        a.streaming.largeObjectsSupport == b.streaming.largeObjectsSupport
            && a.streaming.analyzeOvChanges == b.streaming.analyzeOvChanges
    }

    private func makeWorker(
        _ tenant: TenantConfiguration, _ destination: DestinationConfiguration, _ provider: ProviderConfiguration,
        filter: ObjectFilter?
    ) -> DestinationWorker {
        DestinationWorker(
            tenant: tenant, destination: destination, provider: provider, store: store, registry: registry,
            predicate: filter.map { DestinationFilters.predicate($0, destination: destination) }, logger: logger,
            metrics: metrics)
    }

    /// Stops every worker (each finishes and records its window) and its sink instance.
    public func stopAll() async {
        await reloadLock.withLock {
            closed.store(true, ordering: .releasing)
            let all = workers.withLock { w -> [DestinationWorker] in
                let list = Array(w.values)
                w.removeAll()
                return list
            }
            await withTaskGroup(of: Void.self) { group in
                for worker in all { group.addTask { await worker.stop() } }
            }
        }
    }

    /// Runs every worker as a child task until graceful shutdown (or cancellation), then stops them all.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                self.logger.info("delivery: stopping every destination")
                await self.stopAll()
                self.startsContinuation.finish()
            }
            for await worker in starts {
                group.addTask { await worker.run() }
            }
        }
    }

    /// Status of every destination of a tenant (nil: all tenants).
    public func status(tenant: String? = nil) async -> [DestinationStatus] {
        let list = workers.withLock { Array($0.values) }.filter { tenant == nil || $0.tenant.id == tenant }
        var out: [DestinationStatus] = []
        for worker in list {
            var s = worker.snapshot
            if let backlog = try? await store.backlog(worker.key, after: s.cursor) {
                // Lag counts what is neither delivered nor dead-lettered: the tenant's events after the cursor
                // and the retry schedule (an outage shows as lag, so that alerts on it work).
                s.lagEvents = backlog.queued + Int64(backlog.retrying)
                s.retryBacklog = backlog.retrying
                if let oldest = backlog.oldestTime {
                    s.lagSeconds = max(0, Double(epochMilliseconds() - oldest) / 1000)
                }
            }
            s.deadLetterCount = (try? await store.deadLetterCount(worker.key)) ?? 0
            out.append(s)
        }
        return out.sorted { ($0.tenant, $0.id) < ($1.tenant, $1.id) }
    }

    /// Whether `key` names a configured destination.
    public func hasDestination(_ key: DestinationKey) -> Bool {
        workers.withLock { $0[key] != nil }
    }
}

/// A gate that opens once; `wait()` returns when it is open, or when the waiting task is cancelled.
final class Latch: Sendable {
    private struct State {
        var open = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter &+= 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Checked under the lock the cancellation handler takes (see CommitSignal.wait).
                let now = state.withLock { s -> Bool in
                    if s.open || Task.isCancelled { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// A mutex for async code (reloads must not interleave).
final class AsyncMutex: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func withLock<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }

    private func lock() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if !s.locked {
                    s.locked = true
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if acquired { c.resume() }
        }
    }

    private func unlock() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.locked = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
