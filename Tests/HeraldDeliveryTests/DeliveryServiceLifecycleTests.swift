import Foundation
import HeraldConfig
@testable import HeraldDelivery
import HeraldModel
import HeraldPlugins
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Logging
import Testing

/// Workers are child tasks of `DeliveryService.run()`: what happens to a worker that `apply` created but `run()`
/// never started, and to workers when `run()`'s task is cancelled.
// The limit only catches a hang: alone these take milliseconds, but in a full run they can wait minutes for a
// thread of the cooperative pool (docs/testing.md).
@Suite(.timeLimit(.minutes(4)))
struct DeliveryServiceLifecycleTests {
    static func tenants() throws -> [TenantConfiguration] {
        let text = """
            {"dataDirectory": "d", "tenants": [{"id": "a",
              "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "FirstName"}]}],
              "streamingConfig": {"messaging": {"providers": {"q": {"plugin": "not-installed"}},
                                                "destinations": [{"provider": "q", "name": "x"}]}}}]}
            """
        return try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/").tenants
    }

    static func service(_ dir: TemporaryDirectory) throws -> DeliveryService {
        DeliveryService(
            store: try SQLiteStore(directory: dir.path), registry: PluginRegistry(directories: []),
            logger: Logger(label: "test"))
    }

    /// `stop` before `run()` reached the worker must not wait for a run that never comes.
    @Test func aWorkerThatNeverRanStopsAtOnce() async throws {
        let dir = TemporaryDirectory()
        let delivery = try Self.service(dir)
        await delivery.apply(tenants: try Self.tenants())
        #expect(delivery.hasDestination(DestinationKey(tenant: "a", destination: "q/x")))
        await delivery.stopAll()
        #expect(!delivery.hasDestination(DestinationKey(tenant: "a", destination: "q/x")))
        // After stopAll nothing starts again.
        await delivery.apply(tenants: try Self.tenants())
        #expect(!delivery.hasDestination(DestinationKey(tenant: "a", destination: "q/x")))
    }

    /// Cancelling `run()` reaches every worker: the worker (backing off before retrying its missing plugin) stops,
/// and run returns.
    @Test func cancellingRunStopsEveryWorker() async throws {
        let dir = TemporaryDirectory()
        let delivery = try Self.service(dir)
        await delivery.apply(tenants: try Self.tenants())
        let running = Task { try await delivery.run() }
        // The worker starts and fails to create its instance (the plugin is not installed), then backs off.
        var state: DestinationState?
        for _ in 0..<200 {
            state = await delivery.status(tenant: "a").first?.state
            if state == .failed { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(state == .failed)
        running.cancel()
        // run() returns only once every child task (every worker) has ended: it would hang here otherwise.
        try await running.value
        #expect(!delivery.hasDestination(DestinationKey(tenant: "a", destination: "q/x")))
    }
}
