import Foundation
import GRDB
import GRDBSQLite
import HeraldModel
@testable import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Testing

/// A destination's backlog (its lag in the status and `/metrics`) is read from the `events_tenant_seq` index and
/// one event, not from every queued event: a scrape of `/metrics` with 200,000 events queued read 410 MB.
struct BacklogReadTests {
    @Test func theBacklogReadsTheIndexAndOneEventNotEveryQueuedEvent() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        let key = DestinationKey(tenant: "alpha", destination: "q/events")
        // 2,000 events of 6 KB each: MIN(time) over the queued ones read the leaf page of every one of them.
        let snapshot = [UInt8](repeating: 0x61, count: 6_000)
        try await store.write { tx in
            for i in 1...2_000 {
                try tx.appendEvent(
                    tenant: i % 10 == 0 ? "beta" : "alpha",
                    NewEvent(
                        type: .entityCreated, objectURI: "entities/e\(i)", objectVersion: 1, time: Int64(10_000 + i),
                        snapshot: snapshot, delta: []))
            }
        }
        let (backlog, misses) = try store.readSync { db -> ((queued: Int64, retrying: Int, oldestTime: Int64?), Int32) in
            var current: Int32 = 0
            var highest: Int32 = 0
            // Reset the connection's count of pages read from the file, read, and take the count.
            sqlite3_db_status(db.sqliteConnection, SQLITE_DBSTATUS_CACHE_MISS, &current, &highest, 1)
            let backlog = try SQLiteStore.backlog(db, key, after: 100)
            sqlite3_db_status(db.sqliteConnection, SQLITE_DBSTATUS_CACHE_MISS, &current, &highest, 0)
            return (backlog, current)
        }
        #expect(backlog.queued == 1_710, "alpha's events after seq 100: 1,900 less beta's 190")
        #expect(backlog.oldestTime == 10_101, "the next event's time (seq 101)")
        #expect(backlog.retrying == 0)
        #expect(misses < 100, "pages read for the backlog: \(misses) (MIN(time) over the queued events read 963)")
    }
}
