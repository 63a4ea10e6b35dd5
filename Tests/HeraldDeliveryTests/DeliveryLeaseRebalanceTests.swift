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
@Suite(.timeLimit(.minutes(2)))
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

    /// Polls for up to 20 s. The leases last a minute and the loop runs every 100 ms: nothing lapses even when the
    /// test process is starved (other tests blocking the cooperative pool), and rebalancing is still quick.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<400 {
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
        let a = DeliveryService(store: store, registry: registry, logger: Logger(label: "a"), node: NodeID("a"), leaseMs: 60_000,
            renewIntervalMs: 100)
        let b = DeliveryService(store: store, registry: registry, logger: Logger(label: "b"), node: NodeID("b"), leaseMs: 60_000,
            renewIntervalMs: 100)

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

    /// A worker whose lease another node took stops at its next write: the round it had sent is not recorded, the
    /// cursor stays where the lease's last holder left it, and nothing more is sent.
    @Test func aWorkerWhoseLeaseWasTakenStopsWithoutMovingTheCursor() async throws {
        let dir = TemporaryDirectory()
        let output = dir.file("out.ndjson")
        let text = """
            {"dataDirectory": "d", "tenants": [{"id": "a",
              "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "FirstName"}]}],
              "streamingConfig": {"streamingEnabled": true,
                "messaging": {"providers": {"q": {"plugin": "test", "config": {"output": "\(output)"}}},
                              "destinations": [{"provider": "q", "name": "x", "batch": {"lingerMs": 0}}]}}}]}
            """
        let tenants = try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/").tenants
        let store = try SQLiteStore(directory: dir.file("data"))
        let registry = PluginRegistry(directories: [StreamingTestSupport.pluginDirectory(in: dir)])
        registry.scan()
        let key = DestinationKey(tenant: "a", destination: "q/x")
        // A long lease: the loop does not run again during the test.
        let a = DeliveryService(store: store, registry: registry, logger: Logger(label: "a"), node: NodeID("a"), leaseMs: 60_000)
        await a.apply(tenants: tenants)
        let run = Task { try await a.run() }

        func append(_ range: ClosedRange<Int>) async throws {
            try await store.write { tx in
                for i in range {
                    let e = Entity(id: "e\(i)", type: "configuration/entityTypes/I", createdBy: "t", createdTime: 1)
                    try tx.appendEvent(
                        tenant: "a",
                        NewEvent(
                            type: .entityCreated, objectURI: "entities/e\(i)", objectVersion: 1, time: 1,
                            snapshot: e.storedBytes(), delta: []))
                }
            }
        }
        try await append(1...5)
        #expect(try await Self.eventually { try await store.cursor(key) == 5 })

        // Another node takes the lease over (as after a lapse: the token grows).
        try await store.resetLeases()
        let thief = try #require(try await store.acquireLease(key, node: NodeID("thief"), durationMs: 60_000))
        try await append(6...10)
        #expect(try await Self.eventually { await a.status(tenant: "a").first?.state == .stopped })
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await store.cursor(key) == 5, "the stale worker did not move the cursor")
        let sent = StreamingTestSupport.readLines(output).count
        #expect(sent <= 10, "the round sent before the failed write went out once at most (\(sent) lines)")
        let status = try #require(await a.status(tenant: "a").first)
        #expect(status.holder == "thief")
        #expect(status.holderSince == thief.since)

        run.cancel()
        _ = try? await run.value
        store.close()
    }
}
