import HeraldConfig
import HeraldModel
import HeraldStorage
import Logging
import ServiceLifecycle
import Synchronization

/// Deletes CRUD-queue events that every destination has passed and that are older than the
/// retention period; events no destination has read stay, however old.
///
/// Without destinations a tenant keeps its queue for the retention period (the events API and
/// destinations added later with `startFrom: beginning` can still read it).
public final class QueueCompactor: Service, Sendable {
    let store: any Store
    let delivery: DeliveryService
    let logger: Logger
    let interval: Duration
    private let tenants = Mutex<[TenantConfiguration]>([])
    private let retentionMs = Mutex<Int64>(7 * 86_400_000)

    public init(store: any Store, delivery: DeliveryService, logger: Logger, interval: Duration = .seconds(60)) {
        self.store = store
        self.delivery = delivery
        self.logger = logger
        self.interval = interval
    }

    /// The tenants and the retention to apply (called at start and on reload).
    public func configure(tenants: [TenantConfiguration], retentionHours: Int) {
        self.tenants.withLock { $0 = tenants }
        retentionMs.withLock { $0 = Int64(retentionHours) * 3_600_000 }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await compactOnce()
            // The wait ends at once on graceful shutdown (a plain sleep would hold the shutdown up).
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// One pass over every tenant. Returns events deleted per tenant.
    @discardableResult
    public func compactOnce() async -> [String: Int] {
        var out: [String: Int] = [:]
        let cutoff = epochMilliseconds() - retentionMs.withLock { $0 }
        for tenant in tenants.withLock({ $0 }) {
            do {
                let statuses = await delivery.status(tenant: tenant.id)
                let last = try await store.lastSequence(tenant: tenant.id)
                // The lowest cursor of any destination (removed destinations no longer hold the queue).
                let upTo = statuses.isEmpty ? last : statuses.map(\.cursor).min() ?? last
                let deleted = try await store.compactQueue(tenant: tenant.id, upTo: upTo, olderThan: cutoff)
                if deleted > 0 { logger.info("compacted \(deleted) events of tenant \(tenant.id) up to seq \(upTo)") }
                out[tenant.id] = deleted
            } catch {
                logger.error("queue compaction of tenant \(tenant.id) failed: \(error)")
            }
        }
        return out
    }
}
