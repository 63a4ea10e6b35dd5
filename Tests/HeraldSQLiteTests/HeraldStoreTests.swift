import Foundation
import HeraldModel
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Testing

struct HeraldStoreTests {
    func entity(_ id: String) -> Entity {
        Entity(id: id, type: "configuration/entityTypes/Individual", createdBy: "t", createdTime: 1)
    }

    @Test func concurrentWritesAreGroupCommittedAndAllDurable() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await store.write { tx in
                        let e = self.entity("e\(i)")
                        try tx.insertEntity(tenant: "t", entity: e, body: e.storedBytes())
                        try tx.appendEvent(
                            tenant: "t",
                            NewEvent(
                                type: .entityCreated, objectURI: e.uri, objectVersion: 1, time: 1, snapshot: e.storedBytes(),
                                delta: []))
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = store.commitStatistics
        #expect(stats.jobs == 200)
        #expect(stats.commits <= 200)
        store.close()

        // Reopen: everything acknowledged is there, in sequence order.
        let reopened = try SQLiteStore(directory: dir.path)
        let events = try await reopened.events(tenant: "t", after: 0, limit: 1000)
        #expect(events.count == 200)
        #expect(Set(events.map(\.seq)).count == 200, "every event has its own sequence number")
        #expect(events.map(\.seq) == events.map(\.seq).sorted())
        #expect(try await reopened.entityCount(tenant: "t") == 200)
        reopened.close()
    }

    struct Boom: Error {}

    @Test func aFailingJobRollsBackOnlyItsOwnChanges() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        async let good: Void = store.write { tx in
            try tx.insertEntity(tenant: "t", entity: self.entity("good"), body: self.entity("x").storedBytes())
        }
        let bad = Task {
            try await store.write { tx in
            try tx.insertEntity(tenant: "t", entity: self.entity("bad"), body: self.entity("x").storedBytes())
            try tx.appendEvent(
                tenant: "t",
                NewEvent(type: .entityCreated, objectURI: "entities/bad", objectVersion: 1, time: 1, snapshot: [], delta: []))
            throw Boom()
            }
        }
        try await good
        await #expect(throws: Boom.self) { try await bad.value }
        #expect(try await store.entity(tenant: "t", id: "good") != nil)
        #expect(try await store.entity(tenant: "t", id: "bad") == nil)
        #expect(try await store.events(tenant: "t", after: 0, limit: 10).isEmpty, "the failed job's event is gone too")
        store.close()
    }

    @Test func savepointsInsideAJobAreIndependent() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        try await store.write { tx in
            try tx.inSavepoint { try tx.insertEntity(tenant: "t", entity: self.entity("a"), body: self.entity("x").storedBytes()) }
            _ = try? tx.inSavepoint {
                try tx.insertEntity(tenant: "t", entity: self.entity("b"), body: self.entity("x").storedBytes())
                throw Boom()
            }
        }
        #expect(try await store.entity(tenant: "t", id: "a") != nil)
        #expect(try await store.entity(tenant: "t", id: "b") == nil)
        store.close()
    }

    @Test func crosswalksAndCursorsRoundTrip() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        let key = CrosswalkKey(type: "configuration/sources/CRM", value: "42")
        try await store.write { tx in
            try tx.insertCrosswalk(tenant: "t", key: key, entityId: "e1")
            try tx.setCursor(DestinationKey(tenant: "t", destination: "q/events"), seq: 17, now: 5)
        }
        let found = try await store.write { tx in try tx.entityId(tenant: "t", crosswalk: key) }
        #expect(found == "e1")
        let other = try await store.write { tx in try tx.entityId(tenant: "u", crosswalk: key) }
        #expect(other == nil, "crosswalks are per tenant")
        #expect(try await store.cursor(DestinationKey(tenant: "t", destination: "q/events")) == 17)
        #expect(try await store.cursor(DestinationKey(tenant: "u", destination: "q/events")) == nil, "cursors are per tenant")
        store.close()
    }

    @Test func aClosedStoreRefusesWrites() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        store.close()
        await #expect(throws: StoreError.self) {
            try await store.write { _ in 1 }
        }
    }
}
