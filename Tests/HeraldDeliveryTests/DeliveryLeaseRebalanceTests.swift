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

/// The lease loop of `DeliveryService`, with two services (two node ids) on one store: a single node takes every
/// lease at once, a node that joins gets its fair share, and a node that leaves hands its leases back.
@Suite(.timeLimit(.minutes(1)))
struct DeliveryLeaseRebalanceTests {
    static func tenants() throws -> [TenantConfiguration] {
        let text = """
            {"dataDirectory": "d", "tenants": [{"id": "a",
              "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "FirstName"}]}],
              "streamingConfig": {"messaging": {"providers": {"q": {"plugin": "not-installed"}},
                                                "destinations": [{"provider": "q", "name": "w"}, {"provider": "q", "name": "x"},
                                                                 {"provider": "q", "name": "y"}, {"provider": "q", "name": "z"}]}}}]}
            """
        return try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/").tenants
    }

    static func holders(_ store: any Store) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for lease in try await store.leases(tenant: "a") { out[lease.holder.rawValue, default: 0] += 1 }
        return out
    }

    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test func leasesSpreadWhenANodeJoinsAndComeBackWhenItLeaves() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        let registry = PluginRegistry(directories: [])
        let tenants = try Self.tenants()
        let a = DeliveryService(store: store, registry: registry, logger: Logger(label: "a"), node: NodeID("a"), leaseMs: 600)
        let b = DeliveryService(store: store, registry: registry, logger: Logger(label: "b"), node: NodeID("b"), leaseMs: 600)

        // Alone: every lease at once (apply runs a round itself), before run() has started anything.
        await a.apply(tenants: tenants)
        #expect(try await Self.holders(store) == ["a": 4])
        let runA = Task { try await a.run() }

        // b joins: a releases what is above its share, b takes it.
        await b.apply(tenants: tenants)
        let runB = Task { try await b.run() }
        #expect(try await Self.eventually { try await Self.holders(store) == ["a": 2, "b": 2] })
        let statuses = await b.status(tenant: "a")
        #expect(statuses.count == 4)
        #expect(Set(statuses.compactMap(\.holder)) == ["a", "b"])
        #expect(statuses.filter { $0.holder == "a" }.allSatisfy { $0.state == .standby }, "b does not run a's destinations")

        // b leaves gracefully: its leases are released, and a takes them on its next round.
        await b.stopAll()
        runB.cancel()
        _ = try? await runB.value
        #expect(try await Self.eventually { try await Self.holders(store) == ["a": 4] })
        #expect(try await store.clusterNodes().map(\.id) == [NodeID("a")])

        runA.cancel()
        _ = try? await runA.value
        #expect(try await store.leases(tenant: nil).isEmpty, "a released everything when it stopped")
        store.close()
    }
}
