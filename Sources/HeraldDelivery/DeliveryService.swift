import Foundation
import HeraldConfig
import HeraldFilter
import HeraldModel
import HeraldPlugins
import HeraldStorage
import Logging
import ServiceLifecycle
import Synchronization

/// Runs one worker per destination this node holds the lease of (and one per disabled destination, which only
/// reports its state), for every tenant with streaming enabled, and replaces them on reload.
///
/// **Leases.** Several nodes may serve one store with the same configuration. Each enabled destination is
/// delivered by one node at a time, under a lease in the store (`DeliveryLeases`) whose fencing token every
/// delivery write checks. A lease loop runs every `leaseMs / 3`: it sends this node's heartbeat, renews its leases,
/// takes free or lapsed ones up to its fair share (⌈destinations / live nodes⌉; live: a heartbeat within
/// `leaseMs`), and releases those above it (after draining their workers), so leases spread again when a node
/// joins or leaves. `apply` runs one round itself, so a single node delivers from its first moment.
///
/// Every worker runs as a child task of `run()` (`apply` and the lease loop hand new workers to it): on graceful
/// shutdown each worker finishes and records its round and stops its sink, and the node releases its leases; if
/// `run()`'s task is cancelled, the cancellation reaches every worker's loop.
public final class DeliveryService: Service, Sendable {
    public let store: any Store
    public let registry: PluginRegistry
    let logger: Logger
    let metrics: any DeliveryMetrics
    /// What this node's workers did lately (throughput history, recent errors), in memory.
    public let activity: DeliveryActivity
    /// This node's id in the lease table.
    public let node: NodeID
    /// How long a lease lasts without renewal (`cluster.leaseMs`); also the heartbeat age up to which a node is live.
    public let leaseMs: Int
    /// Whether this process is the only one serving the store (SQLite).
    public let exclusiveStore: Bool
    /// How long a lease is taken or renewed for: `leaseMs`, or 30 days on a store only this process serves, so that a
    /// store that cannot be written for a while (locked, full) never costs a lease — and a window sent again — when
    /// no other node could take it anyway (`herald serve` voids them at its next start).
    var leaseDurationMs: Int64 { exclusiveStore ? 30 * 24 * 3_600_000 : Int64(leaseMs) }

    /// What one configured destination needs to run.
    struct Wanted: Sendable {
        var tenant: TenantConfiguration
        var destination: DestinationConfiguration
        var provider: ProviderConfiguration
        var filter: ObjectFilter?
    }

    /// Every configured destination (this node delivers those it holds the lease of).
    private let configured = Mutex<[DestinationKey: Wanted]>([:])
    private let workers = Mutex<[DestinationKey: DestinationWorker]>([:])
    /// The leases this node holds, as last taken or renewed.
    private let held = Mutex<[DestinationKey: DeliveryLease]>([:])
    /// Backlog figures the status reuses while fresh (counting a large backlog is not free).
    private let backlogCache = BacklogCache()
    /// Serializes reloads, lease rounds and the stop.
    private let reloadLock = AsyncMutex()
    /// Workers `apply` created, for `run()` to run as child tasks.
    private let starts: AsyncStream<DestinationWorker>
    private let startsContinuation: AsyncStream<DestinationWorker>.Continuation
    /// Set once every worker is stopped for good: a later `apply` starts nothing.
    private let closed = Atomic<Bool>(false)
    /// Opened by `stopAll`: ends the lease loop's wait.
    private let closing = Latch()

    /// - Parameters:
    ///   - metrics: receives the workers' outcome counters and the metrics their plugins register.
    ///   - node: this node's id in the lease table; `leaseMs`: how long a lease lasts without renewal.
    ///   - exclusiveStore: no other process serves the store (SQLite): leases are taken for 30 days.
    ///   - renewIntervalMs: the lease loop's period (default `leaseMs / 3`; tests make it shorter).
    ///   - activity: where workers keep their throughput history and recent errors (tests give shorter buckets).
    public init(
        store: any Store, registry: PluginRegistry, logger: Logger, metrics: any DeliveryMetrics = NoDeliveryMetrics(),
        node: NodeID = NodeID("local"), leaseMs: Int = 10_000, exclusiveStore: Bool = false, renewIntervalMs: Int? = nil,
        activity: DeliveryActivity = DeliveryActivity()
    ) {
        self.store = store
        self.registry = registry
        self.logger = logger
        self.metrics = metrics
        self.activity = activity
        self.node = node
        self.leaseMs = max(1, leaseMs)
        self.exclusiveStore = exclusiveStore
        self.renewIntervalMs = max(1, renewIntervalMs ?? self.leaseMs / 3)
        (starts, startsContinuation) = AsyncStream.makeStream(of: DestinationWorker.self)
    }

    /// The lease loop's period: `leaseMs / 3` (a lease is renewed about three times in its life) unless given.
    public let renewIntervalMs: Int

    /// Starts, replaces or stops workers so that they match `tenants`; `filters` are the destinations'
    /// compiled object filters (a destination without one sends every event its type filter lets through).
    ///
    /// A destination whose configuration (or provider configuration, or plugin code) changed gets a new sink
    /// instance first; the old worker then finishes and records its window, and the new one
    /// continues from the durable cursor. Unchanged destinations are not touched. Then one lease round runs:
    /// new destinations start here if this node gets their leases.
    public func apply(tenants: [TenantConfiguration], filters: [DestinationKey: ObjectFilter] = [:]) async {
        await reloadLock.withLock {
            if closed.load(ordering: .acquiring) { return }
            var wanted: [DestinationKey: Wanted] = [:]
            for tenant in tenants where tenant.streaming.streamingEnabled {
                for d in tenant.streaming.destinations {
                    guard let provider = tenant.streaming.providers[d.provider] else { continue }
                    let key = DestinationKey(tenant: tenant.id, destination: d.id)
                    wanted[key] = Wanted(tenant: tenant, destination: d, provider: provider, filter: filters[key])
                }
            }
            configured.withLock { $0 = wanted }
            activity.track(Set(wanted.keys))
            let current = workers.withLock { $0 }
            var release: [DestinationKey] = []
            // Stop removed destinations.
            for (key, worker) in current where wanted[key] == nil {
                logger.info("stopping destination \(key.destination) of \(key.tenant) (removed)")
                await worker.stop()
                _ = workers.withLock { $0.removeValue(forKey: key) }
            }
            for key in held.withLock({ Array($0.keys) }) where wanted[key].map({ !$0.destination.delivers }) ?? true {
                release.append(key)
            }
            for (key, want) in wanted.sorted(by: { $0.key < $1.key }) {
                let (tenant, destination, provider) = (want.tenant, want.destination, want.provider)
                let upgrade = current[key]?.pluginChanged
                if let existing = current[key], existing.destination == destination, existing.provider == provider,
                    sameSchema(existing.tenant, tenant), upgrade == nil
                {
                    continue
                }
                let lease = destination.delivers ? held.withLock({ $0[key] })?.fence : nil
                if destination.delivers && lease == nil {
                    // Not this node's (yet): the lease round below may take it.
                    if let existing = current[key] {
                        await existing.stop()
                        _ = workers.withLock { $0.removeValue(forKey: key) }
                    }
                    continue
                }
                if let upgrade {
                    logger.info(
                        "destination \(destination.id) of \(tenant.id): plugin \(provider.plugin) changed (\(upgrade.from) → \(upgrade.to))")
                }
                let worker = makeWorker(want, lease: lease)
                if let existing = current[key] {
                    if destination.delivers {
                        do {
                            try await worker.prepareInstanceOffPool()
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
            await releaseLeases(release)
            await leaseRound()
        }
    }

    private func sameSchema(_ a: TenantConfiguration, _ b: TenantConfiguration) -> Bool {
        a.streaming.largeObjectsSupport == b.streaming.largeObjectsSupport
            && a.streaming.analyzeOvChanges == b.streaming.analyzeOvChanges
    }

    private func makeWorker(_ want: Wanted, lease: LeaseFence?) -> DestinationWorker {
        DestinationWorker(
            tenant: want.tenant, destination: want.destination, provider: want.provider, store: store, registry: registry,
            predicate: want.filter.map { DestinationFilters.predicate($0, destination: want.destination) }, logger: logger,
            metrics: metrics, activity: activity, lease: lease,
            onLeaseLost: { [weak self] key, fence in
                // Forget it unless it was taken again meanwhile: the next round decides.
                self?.held.withLock { held in
                    if held[key]?.fence == fence { held.removeValue(forKey: key) }
                }
            })
    }

    // MARK: leases

    /// One lease round (called with `reloadLock` held): heartbeat, renew, take up to the fair share, start and stop
    /// workers to match the leases held, release what is above the share. A store that cannot be reached leaves
    /// everything as it is: workers keep delivering while their leases last (their writes check them).
    private func leaseRound() async {
        if closed.load(ordering: .acquiring) { return }
        let all = configured.withLock { c in c.filter { $0.value.destination.delivers } }
        let keys = all.keys.sorted()
        let duration = leaseDurationMs
        do {
            try await store.heartbeat(node)
            // 1. Renew what is held (first: draining a worker below can take a while).
            let mine = held.withLock { Array($0.keys) }.filter { all[$0] != nil }
            let renewed = try await store.renewLeases(mine, node: node, durationMs: duration)
            held.withLock { held in
                held = Dictionary(uniqueKeysWithValues: renewed.map { ($0.key, $0) })
            }
            for lost in Set(mine).subtracting(renewed.map(\.key)).sorted() {
                logger.warning("lease on \(lost) lapsed or taken by another node: stopping its worker")
            }
            // 2. The fair share, and what is free.
            let nodes = try await store.clusterNodes()
            let live = max(1, nodes.filter { $0.silentMs < Int64(leaseMs) && $0.id != node }.count + 1)
            let share = (keys.count + live - 1) / live
            var count = renewed.count
            if count < share {
                let busy = Set(try await store.leases(tenant: nil).filter { $0.holder != node }.map(\.key))
                for key in keys where count < share && !busy.contains(key) && held.withLock({ $0[key] }) == nil {
                    if let lease = try await store.acquireLease(key, node: node, durationMs: duration) {
                        logger.info("took the lease on \(key) (token \(lease.token))")
                        held.withLock { $0[key] = lease }
                        count += 1
                    }
                }
            }
            // 3. Workers for exactly the leases held.
            await startWorkers(all)
            // 4. Above the share: drain and release the last ones, so that other nodes can take them.
            let extra = held.withLock { Array($0.keys) }.sorted().dropFirst(share)
            if !extra.isEmpty {
                logger.info("releasing \(extra.count) lease(s) above this node's share of \(share) (\(live) live nodes)")
                for key in extra { _ = held.withLock { $0.removeValue(forKey: key) } }
                await startWorkers(all)
                await releaseLeases(Array(extra))
                // Draining may have taken a while: renew what stays (a lease that lapsed meanwhile is taken again,
                // with a new token, on the next round).
                let kept = try await store.renewLeases(held.withLock { Array($0.keys) }, node: node, durationMs: duration)
                held.withLock { held in
                    for lease in kept where held[lease.key] != nil { held[lease.key] = lease }
                }
            }
        } catch {
            logger.warning("lease round failed (workers keep their leases until they lapse): \(error)")
        }
    }

    /// Starts a worker for every lease held that has none (or one under an older token, or one that lost it), and
    /// stops enabled destinations' workers whose lease is not held.
    /// Workers are drained together (each finishes and records its round), so one slow sink does not hold the others.
    private func startWorkers(_ all: [DestinationKey: Wanted]) async {
        let leases = held.withLock { $0 }
        var stopping: [DestinationKey: DestinationWorker] = [:]
        for (key, worker) in workers.withLock({ $0 }) where worker.destination.delivers {
            if let lease = leases[key], lease.fence == worker.lease, !worker.hasLostLease { continue }
            stopping[key] = worker
        }
        if !stopping.isEmpty {
            await withTaskGroup(of: Void.self) { group in
                for worker in stopping.values { group.addTask { await worker.stop() } }
            }
            workers.withLock { w in
                for (key, worker) in stopping where w[key] === worker { w.removeValue(forKey: key) }
            }
        }
        for (key, lease) in leases.sorted(by: { $0.key < $1.key }) {
            guard let want = all[key], workers.withLock({ $0[key] }) == nil else { continue }
            let worker = makeWorker(want, lease: lease.fence)
            workers.withLock { $0[key] = worker }
            startsContinuation.yield(worker)
        }
    }

    private func releaseLeases(_ keys: [DestinationKey]) async {
        if keys.isEmpty { return }
        for key in keys { _ = held.withLock { $0.removeValue(forKey: key) } }
        do {
            try await store.releaseLeases(keys, node: node)
        } catch {
            logger.warning("cannot release \(keys.count) lease(s) (they lapse after \(leaseMs) ms): \(error)")
        }
    }

    /// Runs lease rounds every `renewIntervalMs` until `stopAll` (or cancellation).
    private func leaseLoop() async {
        while !Task.isCancelled && !closed.load(ordering: .acquiring) {
            let interval = renewIntervalMs
            let closing = self.closing
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: .milliseconds(interval)) }
                group.addTask { await closing.wait() }
                _ = await group.next()
                group.cancelAll()
            }
            if Task.isCancelled || closed.load(ordering: .acquiring) { return }
            await reloadLock.withLock { await leaseRound() }
        }
    }

    /// Stops every worker (each finishes and records its window) and its sink instance, then releases this node's
    /// leases and leaves the cluster, so that other nodes take its destinations at once.
    public func stopAll() async {
        closing.open()
        await reloadLock.withLock {
            closed.store(true, ordering: .releasing)
            configured.withLock { $0.removeAll() }
            let all = workers.withLock { w -> [DestinationWorker] in
                let list = Array(w.values)
                w.removeAll()
                return list
            }
            await withTaskGroup(of: Void.self) { group in
                for worker in all { group.addTask { await worker.stop() } }
            }
            let hadLeases = !held.withLock { $0.isEmpty }
            held.withLock { $0.removeAll() }
            do {
                try await store.leaveCluster(node)
                if hadLeases { logger.info("released this node's delivery leases") }
            } catch {
                logger.warning("cannot release this node's leases (they lapse after \(leaseMs) ms): \(error)")
            }
        }
    }

    /// Runs every worker as a child task, and the lease loop, until graceful shutdown (or cancellation), then stops
    /// them all.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                self.logger.info("delivery: stopping every destination")
                await self.stopAll()
                self.startsContinuation.finish()
            }
            group.addTask { await self.leaseLoop() }
            for await worker in starts {
                group.addTask { await worker.run() }
            }
        }
    }

    /// Status of every destination of a tenant (nil: all tenants), with the node holding its lease. Destinations
    /// another node delivers are `STANDBY` here, with the cursor from the store.
    public func status(tenant: String? = nil) async -> [DestinationStatus] {
        let running = workers.withLock { $0 }
        let wanted = configured.withLock { $0 }.filter { tenant == nil || $0.key.tenant == tenant }
        let leases = (try? await store.leases(tenant: tenant)) ?? []
        let holders = Dictionary(leases.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [DestinationStatus] = []
        for (key, want) in wanted {
            var s: DestinationStatus
            if let worker = running[key] {
                s = worker.snapshot
                // A paused or disabled destination's worker never reads its cursor: the store has it.
                if !want.destination.delivers { s.cursor = (try? await store.cursor(key)) ?? 0 }
            } else {
                s = DestinationStatus.idle(
                    tenant: key.tenant, destination: want.destination, provider: want.provider, standby: .standby)
                s.cursor = (try? await store.cursor(key)) ?? 0
            }
            if want.destination.delivers {
                if let lease = holders[key] {
                    s.holder = lease.holder.rawValue
                    s.holderSince = lease.since
                } else if running[key] == nil {
                    s.healthy = false
                    s.reason = "no node holds its lease"
                }
            }
            if let backlog = try? await backlogFigures(key, cursor: s.cursor) {
                // Lag counts what is neither delivered nor dead-lettered: the tenant's events after the cursor
                // and the retry schedule (an outage shows as lag, so that alerts on it work).
                s.lagEvents = backlog.queued + Int64(backlog.retrying)
                s.retryBacklog = backlog.retrying
                if let oldest = backlog.oldestTime {
                    s.lagSeconds = max(0, Double(epochMilliseconds() - oldest) / 1000)
                }
            }
            s.deadLetterCount = (try? await store.deadLetterCount(key)) ?? 0
            s.recentErrors = activity.recentErrors(key)
            out.append(s)
        }
        return out.sorted { ($0.tenant, $0.id) < ($1.tenant, $1.id) }
    }

    /// A destination's backlog for the status: read from the store, or reused while fresh (`BacklogCache`).
    func backlogFigures(_ key: DestinationKey, cursor: Int64) async throws -> BacklogCache.Figures {
        if let reused = backlogCache.figures(key, cursor: cursor, now: .now) { return reused }
        let started = ContinuousClock.now
        let figures = try await store.backlog(key, after: cursor)
        let now = ContinuousClock.now
        backlogCache.keep(figures, for: key, cursor: cursor, cost: now - started, now: now)
        return figures
    }

    /// The nodes sharing the store, with their last heartbeat, and the leases held now.
    public func cluster() async throws -> (nodes: [ClusterNode], leases: [DeliveryLease]) {
        (try await store.clusterNodes(), try await store.leases(tenant: nil))
    }

    /// Whether `key` names a configured destination.
    public func hasDestination(_ key: DestinationKey) -> Bool {
        configured.withLock { $0[key] != nil }
    }

    /// Why `seek` refused.
    public enum SeekRefusal: Error, Sendable {
        /// The destination is not configured (on this node's configuration).
        case unknownDestination
        /// It is not paused: a worker may be delivering it.
        case notPaused
        /// Another node still holds its delivery lease (it has not applied the pause yet).
        case busy(holder: NodeID)
    }

    /// Moves a paused destination's cursor to `seq` (the next event delivered after resuming is the first one
    /// above it) and empties its retry schedule; `change` is recorded with it.
    ///
    /// The move is fenced like a delivery write: this node takes the destination's lease (its token grows, so a
    /// worker elsewhere that missed the pause can no longer move the cursor), writes under it, and releases it.
    public func seek(_ key: DestinationKey, to seq: Int64, change: StreamingChange) async throws {
        try await reloadLock.withLock {
            guard let want = configured.withLock({ $0[key] }) else { throw SeekRefusal.unknownDestination }
            guard want.destination.paused else { throw SeekRefusal.notPaused }
            guard let lease = try await store.acquireLease(key, node: node, durationMs: Int64(leaseMs)) else {
                let holder = try await store.leases(tenant: key.tenant).first { $0.key == key }?.holder
                throw SeekRefusal.busy(holder: holder ?? NodeID("?"))
            }
            do {
                try await store.seekCursor(key, to: seq, lease: lease.fence, change: change)
            } catch {
                try? await store.releaseLeases([key], node: node)
                throw error
            }
            try? await store.releaseLeases([key], node: node)
            logger.info("destination \(key): cursor set to \(seq) by \(change.actor)")
        }
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

