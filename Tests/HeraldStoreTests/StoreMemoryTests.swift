import Foundation
import GRDB
@testable import HeraldStore
import HeraldTestSupport
import Testing

/// The store's memory settings reach its SQLite connections.
struct StoreMemoryTests {
    /// `PRAGMA cache_size` as SQLite reports it: negative, in KiB.
    static func cacheKiB(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0
    }

    @Test func theWriterAndEveryReaderGetTheirPageCacheBudget() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(
            directory: dir.path, memory: StoreMemory(writerCacheMiB: 24, readerCacheMiB: 3, readerCount: 3))
        defer { store.close() }
        let writer = try await store.pool.write { try StoreMemoryTests.cacheKiB($0) }
        #expect(writer == -24 * 1024)
        // Reads that overlap use different reader connections: each has the readers' budget.
        let budgets = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await store.pool.read { db in
                        Thread.sleep(forTimeInterval: 0.05)
                        return try StoreMemoryTests.cacheKiB(db)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(budgets == [-3 * 1024, -3 * 1024, -3 * 1024])
        #expect(store.pool.configuration.maximumReaderCount == 3)
    }

    @Test func theDefaultsAreTheDocumentedOnes() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        let writer = try await store.pool.write { try StoreMemoryTests.cacheKiB($0) }
        let reader = try await store.pool.read { try StoreMemoryTests.cacheKiB($0) }
        #expect(writer == -64 * 1024)
        #expect(reader == -8 * 1024)
        #expect(store.pool.configuration.maximumReaderCount == 8)
    }
}

/// `ProcessMemory.trim` gives back what glibc keeps free below a live allocation.
struct ProcessMemoryTests {
    @Test func trimGivesBackFreedMemoryThatFreeAloneKeeps() throws {
        let blockBytes = 1024, blocks = 256 * 1024  // 256 MiB in blocks under the mmap threshold
        let start = ProcessMemory.residentBytes()
        #expect(start > 0)
        var pointers: [UnsafeMutableRawPointer] = []
        pointers.reserveCapacity(blocks)
        for _ in 0..<blocks {
            let p = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 16)
            p.initializeMemory(as: UInt8.self, repeating: 1, count: blockBytes)
            pointers.append(p)
        }
        // Free all but the last block: it pins the top of the heap, so free() alone returns nothing.
        let pinned = pointers.removeLast()
        defer { pinned.deallocate() }
        for p in pointers { p.deallocate() }
        pointers = []
        let afterFree = ProcessMemory.residentBytes()
        // Other suites run in this process at the same time and move its RSS by tens of MiB either way:
        // the bounds leave room for that and still fail when free() returns the memory or trim does not.
        #expect(afterFree - start > 128 << 20, "free() kept the memory resident: the scenario is the one trim is for")
        let released = ProcessMemory.trim()
        #expect(released > 96 << 20, "trim released \(released >> 20) MiB of the 256 MiB freed")
    }
}
