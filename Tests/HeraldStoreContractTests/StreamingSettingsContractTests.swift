import Foundation
import HeraldModel
import HeraldStorage
import HeraldTestSupport
import Testing

/// The management API's settings on SQLite and on PostgreSQL: overrides and pauses with their audit lines in one
/// write, the audit list per tenant, and a seek that writes nothing under a lease that is no longer the writer's.
@Suite(.timeLimit(.minutes(2)))
struct StreamingSettingsContractTests {
    static func change(_ tenant: String, _ action: String, _ target: String, at: Int64 = 1) -> StreamingChange {
        StreamingChange(
            tenant: tenant, at: at, actor: "alice", action: action, kind: "destination", target: target, before: nil,
            after: "{\"n\":1}")
    }

    @Test(arguments: Backend.allCases)
    func overridesPausesAndTheAuditListAreKeptPerTenant(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        defer { Task { await store.close() } }

        // Two tenants with the same destination id.
        for tenant in ["alpha", "beta"] {
            let key = StreamingSettingKey(tenant: tenant, kind: .destination, id: "q/events")
            try await store.saveStreamingOverride(
                key,
                StreamingOverride(key: key, body: "{\"tenant\":\"\(tenant)\"}", base: nil, updatedBy: "alice", updatedAt: 5),
                change: Self.change(tenant, "create", "q/events"))
        }
        let provider = StreamingSettingKey(tenant: "alpha", kind: .provider, id: "q")
        try await store.saveStreamingOverride(
            provider, StreamingOverride(key: provider, body: nil, base: "{\"plugin\":\"file\"}", updatedBy: "bob", updatedAt: 6),
            change: Self.change("alpha", "delete", "q"))
        try await store.savePause(
            DestinationKey(tenant: "beta", destination: "q/events"),
            DestinationPause(key: DestinationKey(tenant: "beta", destination: "q/events"), pausedBy: "carol", pausedAt: 7),
            change: Self.change("beta", "pause", "q/events"))

        var all = try await store.streamingOverrides()
        #expect(all.overrides.map(\.key.description) == ["alpha destination q/events", "alpha provider q", "beta destination q/events"])
        #expect(all.overrides[0].body == "{\"tenant\":\"alpha\"}" && all.overrides[2].body == "{\"tenant\":\"beta\"}")
        #expect(all.overrides[1].body == nil && all.overrides[1].base == "{\"plugin\":\"file\"}", "a removal is kept as such")
        #expect(all.pauses == [DestinationPause(key: DestinationKey(tenant: "beta", destination: "q/events"), pausedBy: "carol", pausedAt: 7)])

        // Replaced, then forgotten; resumed.
        let alpha = StreamingSettingKey(tenant: "alpha", kind: .destination, id: "q/events")
        try await store.saveStreamingOverride(
            alpha, StreamingOverride(key: alpha, body: "{\"v\":2}", base: "{}", updatedBy: "dan", updatedAt: 8),
            change: Self.change("alpha", "replace", "q/events"))
        #expect(try await store.streamingOverrides().overrides.first { $0.key == alpha }?.updatedBy == "dan")
        try await store.saveStreamingOverride(alpha, nil, change: Self.change("alpha", "superseded", "q/events"))
        try await store.savePause(DestinationKey(tenant: "beta", destination: "q/events"), nil, change: Self.change("beta", "resume", "q/events"))
        all = try await store.streamingOverrides()
        #expect(all.overrides.map(\.key.description) == ["alpha provider q", "beta destination q/events"])
        #expect(all.pauses.isEmpty)

        // The audit list: newest first, one tenant's only, paged by id.
        let alphaChanges = try await store.streamingChanges(tenant: "alpha", beforeId: nil, limit: 10)
        #expect(alphaChanges.map(\.action) == ["superseded", "replace", "delete", "create"])
        #expect(alphaChanges.allSatisfy { $0.tenant == "alpha" })
        #expect(alphaChanges.first?.after == "{\"n\":1}" && alphaChanges.first?.before == nil)
        let page = try await store.streamingChanges(tenant: "alpha", beforeId: alphaChanges[1].id, limit: 2)
        #expect(page.map(\.action) == ["delete", "create"])
        #expect(try await store.streamingChanges(tenant: "beta", beforeId: nil, limit: 10).map(\.action) == ["resume", "pause", "create"])
        #expect(try await store.streamingChanges(tenant: "gamma", beforeId: nil, limit: 10).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func aSeekMovesTheCursorEmptiesTheRetriesAndIsFenced(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        defer { Task { await store.close() } }
        let key = DestinationKey(tenant: "t", destination: "q/events")
        let other = DestinationKey(tenant: "u", destination: "q/events")
        let a = NodeID("a")
        let lease = try #require(try await store.acquireLease(key, node: a, durationMs: 60_000))
        let otherLease = try #require(try await store.acquireLease(other, node: a, durationMs: 60_000))
        try await store.write { tx in
            try tx.setCursor(key, seq: 40, now: 1, lease: lease.fence)
            try tx.setCursor(other, seq: 40, now: 1, lease: otherLease.fence)
            for seq: Int64 in [41, 42] {
                let entry = RetryEntry(
                    message: DeliveryMessage(
                        seq: seq, id: "m\(seq)", key: "entities/1", eventType: "ENTITY_CREATED", objectURI: "entities/1",
                        headers: [], body: [1]),
                    attempts: 1, nextAttempt: 5, firstAttempt: 1, lastAttempt: 1, lastStatus: "RETRY", lastError: "x")
                try tx.scheduleRetry(key, entry)
                try tx.scheduleRetry(other, entry)
            }
        }
        try await store.seekCursor(key, to: 7, lease: lease.fence, change: Self.change("t", "seek", "q/events"))
        #expect(try await store.cursor(key) == 7)
        #expect(try await store.retries(key, limit: 10).isEmpty)
        #expect(try await store.cursor(other) == 40, "another tenant's destination of the same id is untouched")
        #expect(try await store.retries(other, limit: 10).count == 2)
        #expect(try await store.streamingChanges(tenant: "t", beforeId: nil, limit: 5).map(\.action) == ["seek"])

        // Taken over (released, then taken by b with a new token): a seek under the old token writes nothing.
        try await store.releaseLeases([key], node: a)
        _ = try #require(try await store.acquireLease(key, node: NodeID("b"), durationMs: 60_000))
        await #expect(throws: StoreError.self) {
            try await store.seekCursor(key, to: 1, lease: lease.fence, change: Self.change("t", "seek", "q/events"))
        }
        #expect(try await store.cursor(key) == 7)
        #expect(try await store.streamingChanges(tenant: "t", beforeId: nil, limit: 5).count == 1, "no audit line for a refused seek")
    }
}
