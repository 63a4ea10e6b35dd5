import Foundation
import HeraldModel
import HeraldStorage
import HeraldTestSupport
import Testing

/// Delivery leases and their fencing, on SQLite and on PostgreSQL: one holder at a time, takeover only after the
/// lease lapsed (by the database's clock) with a larger token, and no delivery write under a token that is no
/// longer the holder's.
@Suite(.timeLimit(.minutes(2)))
struct LeaseContractTests {
    let key = DestinationKey(tenant: "t", destination: "q/events")
    let a = NodeID("node-a")
    let b = NodeID("node-b")

    @Test(arguments: Backend.allCases)
    func oneHolderAtATimeAndATakeoverAfterExpiryIncrementsTheToken(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        defer { Task { await store.close() } }

        let first = try #require(try await store.acquireLease(key, node: a, durationMs: 60_000))
        #expect(first.holder == a)
        #expect(first.key == key)
        #expect(first.expires - first.since == 60_000)
        // Held: the other node cannot take it, and the holder renews it with the same token.
        #expect(try await store.acquireLease(key, node: b, durationMs: 60_000) == nil)
        let again = try #require(try await store.acquireLease(key, node: a, durationMs: 60_000))
        #expect(again.token == first.token)
        #expect(again.since == first.since)
        #expect(try await store.renewLeases([key], node: b, durationMs: 60_000).isEmpty, "b holds nothing to renew")
        #expect(try await store.leases(tenant: "t").map(\.holder) == [a])
        #expect(try await store.leases(tenant: "other").isEmpty)
        // The last renewal sets the expiry: 200 ms from now.
        let renewed = try await store.renewLeases([key], node: a, durationMs: 200)
        #expect(renewed.map(\.token) == [first.token])

        // Lapsed: b takes it over, with a larger token; a can no longer renew it.
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await store.leases(tenant: nil).isEmpty, "a lapsed lease is not listed as held")
        let taken = try #require(try await store.acquireLease(key, node: b, durationMs: 60_000))
        #expect(taken.holder == b)
        #expect(taken.token > first.token)
        #expect(try await store.renewLeases([key], node: a, durationMs: 600).isEmpty)
        #expect(try await store.acquireLease(key, node: a, durationMs: 600) == nil)
        #expect(try await store.leases(tenant: nil).map(\.holder) == [b])
    }

    @Test(arguments: Backend.allCases)
    func aCursorWriteUnderAnOldTokenFailsWithLeaseLostAndChangesNothing(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        defer { Task { await store.close() } }
        let key = self.key

        let old = try #require(try await store.acquireLease(key, node: a, durationMs: 60_000)).fence
        try await store.write { tx in try tx.setCursor(key, seq: 10, now: 1, lease: old) }
        #expect(try await store.cursor(key) == 10)

        #expect(try await store.renewLeases([key], node: a, durationMs: 200).count == 1)
        try await Task.sleep(for: .milliseconds(400))
        // Lapsed and not yet taken: the old holder's write already fails.
        await #expect(throws: StoreError.self) {
            try await store.write { tx in try tx.setCursor(key, seq: 20, now: 2, lease: old) }
        }
        let new = try #require(try await store.acquireLease(key, node: b, durationMs: 60_000)).fence
        #expect(new.token > old.token)

        // The old token, with the retry and dead-letter writes of the same round: nothing of it is written.
        let message = DeliveryMessage(
            seq: 15, id: "m15", key: "entities/1", eventType: "ENTITY_CREATED", objectURI: "entities/1", headers: [], body: [1])
        do {
            try await store.write { tx in
                try tx.verifyLease(key, old)
                try tx.scheduleRetry(
                    key,
                    RetryEntry(
                        message: message, attempts: 1, nextAttempt: 5, firstAttempt: 1, lastAttempt: 1, lastStatus: "RETRY",
                        lastError: "x"))
                try tx.setCursor(key, seq: 30, now: 3)
            }
            Issue.record("a write under a lost lease went through")
        } catch let error as StoreError {
            #expect(error.code == .leaseLost)
            #expect(error.code.rawValue == "LEASE_LOST")
        }
        #expect(try await store.cursor(key) == 10)
        #expect(try await store.retries(key, limit: 10).isEmpty)

        // Another job in the same group commits: only the fenced-off job rolled back.
        let other = DestinationKey(tenant: "t", destination: "q/other")
        let stale = Task { try await store.write { tx in try tx.setCursor(key, seq: 40, now: 4, lease: old) } }
        let fine = Task { try await store.write { tx in try tx.setCursor(other, seq: 7, now: 4) } }
        if case .success = await stale.result { Issue.record("a write under a lost lease went through") }
        try await fine.value
        #expect(try await store.cursor(other) == 7)

        // The new holder writes.
        try await store.write { tx in try tx.setCursor(key, seq: 50, now: 5, lease: new) }
        #expect(try await store.cursor(key) == 50)
    }

    @Test(arguments: Backend.allCases)
    func releaseLetsAnotherNodeTakeTheLeaseAtOnce(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        defer { Task { await store.close() } }
        let key = self.key
        let other = DestinationKey(tenant: "u", destination: "q/events")

        let first = try #require(try await store.acquireLease(key, node: a, durationMs: 60_000))
        _ = try #require(try await store.acquireLease(other, node: a, durationMs: 60_000))
        #expect(try await store.acquireLease(key, node: b, durationMs: 60_000) == nil)
        try await store.releaseLeases([key], node: b)  // not b's: nothing happens
        #expect(try await store.acquireLease(key, node: b, durationMs: 60_000) == nil)

        try await store.releaseLeases([key], node: a)
        let taken = try #require(try await store.acquireLease(key, node: b, durationMs: 60_000))
        #expect(taken.token > first.token)
        await #expect(throws: StoreError.self) {
            try await store.write { tx in try tx.verifyLease(key, first.fence) }
        }
        #expect(try await store.leases(tenant: nil).map(\.holder) == [b, a], "ordered by key: t/…, u/…")

        // Leaving the cluster releases everything the node holds and forgets its heartbeat.
        // Bounds from this process's clock around the calls (the database runs on this machine): a loaded machine
        // may take seconds between the calls, so a fixed bound would fail for the wrong reason.
        let before = Int64(Date().timeIntervalSince1970 * 1000) - 5
        try await store.heartbeat(a)
        try await store.heartbeat(b)
        let nodes = try await store.clusterNodes()
        let after = Int64(Date().timeIntervalSince1970 * 1000) + 5
        #expect(nodes.map(\.id) == [a, b])
        for n in nodes {
            #expect(n.lastHeartbeat >= before && n.lastHeartbeat <= after, "\(n.id): heartbeat \(n.lastHeartbeat) not in [\(before), \(after)]")
            #expect(n.joined >= before && n.joined <= n.lastHeartbeat, "\(n.id): joined \(n.joined)")
            #expect(n.silentMs >= 0 && n.silentMs <= after - before, "\(n.id): silent \(n.silentMs) ms, calls took \(after - before) ms")
        }
        try await store.leaveCluster(a)
        #expect(try await store.clusterNodes().map(\.id) == [b])
        #expect(try await store.acquireLease(other, node: b, durationMs: 60_000) != nil)
    }
}
