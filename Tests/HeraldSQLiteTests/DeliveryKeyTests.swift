import Foundation
import GRDB
import HeraldModel
@testable import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Testing

/// Delivery state (cursors, retry schedule, dead letters) is keyed by (tenant, destination id): two tenants with
/// the same destination id never see each other's rows.
struct DeliveryKeyTests {
    let alpha = DestinationKey(tenant: "alpha", destination: "q/events")
    let beta = DestinationKey(tenant: "beta", destination: "q/events")

    func message(_ seq: Int64, tenant: String) -> DeliveryMessage {
        DeliveryMessage(
            seq: seq, id: "\(seq)-m", key: "entities/e\(seq)", eventType: "ENTITY_CREATED", objectURI: "entities/e\(seq)",
            headers: [MessageHeader("tenantId", tenant)], body: Array("{\"seq\":\(seq)}".utf8))
    }

    func entry(_ m: DeliveryMessage, next: Int64 = 1) -> RetryEntry {
        RetryEntry(message: m, attempts: 1, nextAttempt: next, firstAttempt: 1, lastAttempt: 1, lastStatus: "RETRY", lastError: "x")
    }

    @Test func theSameDestinationIdInTwoTenantsHasTwoRetrySchedules() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        let (alpha, beta) = (self.alpha, self.beta)
        try await store.write { tx in
            for seq in 1...3 { try tx.scheduleRetry(alpha, self.entry(self.message(Int64(seq), tenant: "alpha"))) }
            try tx.scheduleRetry(beta, self.entry(self.message(9, tenant: "beta"), next: 5))
            try tx.setCursor(alpha, seq: 3, now: 1)
        }
        #expect(try await store.dueRetries(alpha, now: 10, headsOnly: false, limit: 100).map(\.message.seq) == [1, 2, 3])
        #expect(try await store.dueRetries(beta, now: 10, headsOnly: true, limit: 100).map(\.message.seq) == [9])
        #expect(try await store.backlog(alpha, after: .max).retrying == 3)
        #expect(try await store.backlog(beta, after: .max).retrying == 1)
        #expect(try await store.nextRetryTime(alpha) == 1)
        #expect(try await store.nextRetryTime(beta) == 5)
        #expect(try await store.cursor(alpha) == 3)
        #expect(try await store.cursor(beta) == nil)

        // Deleting or releasing in one tenant leaves the other's rows alone.
        try await store.write { tx in
            try tx.deleteRetry(beta, seq: 1)
            try tx.deleteRetry(alpha, seq: 9)
        }
        #expect(try await store.backlog(alpha, after: .max).retrying == 3)
        #expect(try await store.backlog(beta, after: .max).retrying == 1)
    }

    /// Sequence numbers are global: the backlog counts the tenant's own events after the cursor (interleaved
    /// with another tenant's) and its retry schedule, and dates it by the oldest of them.
    @Test func theBacklogCountsTheTenantsEventsAndItsRetries() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        let alpha = self.alpha
        try await store.write { tx in
            for seq in 1...10 {
                let tenant = seq % 2 == 0 ? "beta" : "alpha"
                try tx.appendEvent(
                    tenant: tenant,
                    NewEvent(
                        type: .entityCreated, objectURI: "entities/e\(seq)", objectVersion: 1, time: Int64(1000 + seq),
                        snapshot: [], delta: []))
            }
            try tx.scheduleRetry(alpha, self.entry(self.message(1, tenant: "alpha")))
        }
        let backlog = try await store.backlog(alpha, after: 5)
        #expect(backlog.queued == 2, "alpha's seq 7 and 9, not beta's 6, 8 and 10")
        #expect(backlog.retrying == 1)
        #expect(backlog.oldestTime == 1001, "the retried event (seq 1) is the oldest")
        let none = try await store.backlog(DestinationKey(tenant: "gamma", destination: "q/events"), after: 0)
        #expect(none.queued == 0 && none.retrying == 0 && none.oldestTime == nil)
    }

    @Test func deadLetterScopesAlwaysCarryTheTenant() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        let (alpha, beta) = (self.alpha, self.beta)
        func letter(_ key: DestinationKey, _ seq: Int64) -> DeadLetter {
            DeadLetter(
                key: key, message: message(seq, tenant: key.tenant), status: "PERMANENT", reason: "r", attempts: 1,
                firstAttempt: 1, lastAttempt: 1, plugin: "test", pluginVersion: "1", created: 1)
        }
        let ids = try await store.write { tx in
            [try tx.deadLetter(letter(alpha, 1)), try tx.deadLetter(letter(beta, 2)), try tx.deadLetter(letter(beta, 3))]
        }
        #expect(try await store.deadLetters(.tenant("alpha"), afterId: 0, limit: 10).map(\.message.seq) == [1])
        #expect(try await store.deadLetters(.destination(beta), afterId: 0, limit: 10).map(\.message.seq) == [2, 3])
        #expect(try await store.deadLetter(.tenant("alpha"), id: ids[1]) == nil, "beta's dead letter is not alpha's")
        #expect(try await store.deadLetterCount(alpha) == 1)

        // Replaying and purging alpha's whole DLQ, naming beta's ids too, touches only alpha's.
        let replayed = try await store.write { tx in try tx.replayDeadLetters(.tenant("alpha"), ids: ids, now: 7) }
        #expect(replayed == 1)
        #expect(try await store.retries(alpha, limit: 10).map(\.message.seq) == [1])
        #expect(try await store.backlog(beta, after: .max).retrying == 0)
        let purged = try await store.write { tx in try tx.purgeDeadLetters(.destination(alpha), ids: ids) }
        #expect(purged == 0)
        #expect(try await store.deadLetterCount(beta) == 2)
    }

    /// A data directory written before v5: retries keyed by destination alone, cursors named
    /// `destination:{tenant}/{id}`. After the upgrade each retry belongs to its event's tenant (or, when the
    /// event was compacted, to its tenantId header), and each cursor to its tenant.
    @Test func aVersion4DatabaseGivesEachRetryItsTenant() async throws {
        let dir = TemporaryDirectory()
        do {
            let queue = try DatabaseQueue(path: dir.path + "/herald.db")
            try SQLiteStore.migrator().migrate(queue, upTo: "v4-match-keys")
            try await queue.write { db in
                for (seq, tenant) in [(1, "alpha"), (2, "beta"), (3, "alpha")] {
                    try db.execute(
                        sql: """
                            INSERT INTO events (seq, tenant, type, object_uri, object_version, time, snapshot, delta)
                            VALUES (?, ?, 'ENTITY_CREATED', 'entities/x', 1, 1, x'', x'')
                            """, arguments: [seq, tenant])
                }
                // seq 1 and 2: events present; seq 0: compacted, known by its header; seq 3 held for alpha's key.
                let rows: [(Int64, String, String)] = [
                    (1, "[[\"tenantId\",\"alpha\"]]", "RETRY"), (2, "[]", "RETRY"), (3, "[]", "HELD"),
                    (0, "[[\"tenantId\",\"beta\"]]", "RETRY"),
                ]
                for (seq, headers, status) in rows {
                    try db.execute(
                        sql: """
                            INSERT INTO delivery_retries (destination, seq, message_id, message_key, event_type, object_uri,
                                headers, body, attempts, next_attempt, first_attempt, last_attempt, last_status, last_error)
                            VALUES ('q/events', ?, 'id', 'k', 'ENTITY_CREATED', 'entities/x', ?, x'7b7d', 1, 1, 1, 1, ?, '')
                            """, arguments: [seq, headers, status])
                }
                try db.execute(
                    sql: """
                        INSERT INTO cursors (consumer, seq, updated_time) VALUES
                            ('destination:alpha/q/events', 3, 1), ('destination:beta/q/events#2', 2, 1)
                        """)
            }
            try queue.close()
        }
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        #expect(try await store.retries(alpha, limit: 10).map(\.message.seq) == [1, 3])
        #expect(try await store.retries(beta, limit: 10).map(\.message.seq) == [0, 2])
        #expect(try await store.retries(alpha, limit: 10).last?.lastStatus == "HELD")
        #expect(try await store.cursor(alpha) == 3)
        #expect(try await store.cursor(DestinationKey(tenant: "beta", destination: "q/events#2")) == 2)
        #expect(try await store.cursor(beta) == nil)
    }
}
