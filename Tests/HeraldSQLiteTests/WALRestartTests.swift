import Foundation
import GRDB
@testable import HeraldSQLite
import HeraldTestSupport
import Synchronization
import Testing

/// The WAL stays bounded under a steady write load while a reader is almost always reading (what delivery does
/// during ingest): the writer starts it over between groups (`WALRestarter`).
struct WALRestartTests {
    @Test func theWALStartsOverWhileAReaderKeepsReading() async throws {
        let dir = TemporaryDirectory()
        let pages = 64
        let store = try SQLiteStore(directory: dir.path, walPages: pages, walRetry: .milliseconds(20))
        defer { store.close() }
        // A reader that is reading most of the time: each read holds its snapshot for ~1 ms, with ~0.2 ms between reads.
        let stop = Atomic<Bool>(false)
        let reads = Atomic<Int>(0)
        let reader = Thread {
            while !stop.load(ordering: .relaxed) {
                _ = try? store.readSync { db in
                    let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM store_probe")
                    usleep(1000)
                    return n
                }
                reads.add(1, ordering: .relaxed)
                usleep(200)
            }
        }
        reader.start()
        // 400 commits of ~20 KiB each (5+ pages): ~2,000 frames, 30 times the restart size.
        var walBytes: [Int] = []
        for i in 0..<400 {
            _ = try await store.committer.submit { db in
                try db.execute(sql: "INSERT OR REPLACE INTO store_probe (id, filler) VALUES (?, randomblob(20000))", arguments: [i % 8])
            }
            if i % 20 == 19 {
                let size = (try? FileManager.default.attributesOfItem(atPath: dir.path + "/herald.db-wal")[.size] as? Int) ?? 0
                walBytes.append(size ?? 0)
            }
        }
        stop.store(true, ordering: .relaxed)
        while !reader.isFinished { usleep(1000) }
        let stats = try #require(store.walRestarts)
        print("WAL restarts \(stats.restarts), busy \(stats.busy), max frames \(stats.maxFrames), reads \(reads.load(ordering: .relaxed))")
        #expect(reads.load(ordering: .relaxed) > 50, "the reader read only \(reads.load(ordering: .relaxed)) times")
        #expect(stats.restarts >= 5, "restarts \(stats.restarts), busy \(stats.busy)")
        // Frames: the restart size plus what the commits since the last restart wrote (a failed attempt waits 1 s).
        #expect(stats.maxFrames < pages * 4, "restarts \(stats.restarts), busy \(stats.busy), max frames \(stats.maxFrames)")
        // The file: cut back to twice the restart size whenever the WAL starts over.
        let frame = 4096 + 24
        #expect(walBytes.max() ?? 0 < pages * 4 * frame, "WAL file sizes: \(walBytes), \(stats)")
    }
}
