import Foundation
import GRDB
@testable import HeraldSQLite
import HeraldStorage
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
    /// Allocates 256 MiB in 1 KiB blocks (under the mmap threshold), frees all but the last one (which pins
    /// the top of the heap, so free() alone returns nothing) and returns how much RSS grew from before the
    /// allocation to after the frees. The last block is returned to free after the measurement.
    static func fragmentHeap() -> (grownBy: Int, pinned: UnsafeMutableRawPointer) {
        let blockBytes = 1024, blocks = 256 * 1024
        let start = ProcessMemory.residentBytes()
        var pointers: [UnsafeMutableRawPointer] = []
        pointers.reserveCapacity(blocks)
        for _ in 0..<blocks {
            let p = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 16)
            p.initializeMemory(as: UInt8.self, repeating: 1, count: blockBytes)
            pointers.append(p)
        }
        let pinned = pointers.removeLast()
        for p in pointers { p.deallocate() }
        return (ProcessMemory.residentBytes() - start, pinned)
    }

    @Test func trimGivesBackFreedMemoryThatFreeAloneKeeps() throws {
        #expect(ProcessMemory.residentBytes() > 0)
        // Other suites run in this process at the same time: they move its RSS by tens of MiB either way, and
        // their allocations can land above ours in the same arena or free below it. Up to three tries for the
        // scenario trim is for (free() kept the memory resident); the bounds still fail when free() always
        // returns the memory or trim does not.
        var grownBy = 0
        var released = 0
        for _ in 0..<3 {
            let (grown, pinned) = Self.fragmentHeap()
            grownBy = grown
            if grown > 128 << 20 {
                released = ProcessMemory.trim()
                pinned.deallocate()
                break
            }
            pinned.deallocate()
            ProcessMemory.trim()
        }
        #expect(grownBy > 128 << 20, "free() kept the memory resident: the scenario is the one trim is for")
        #expect(released > 96 << 20, "trim released \(released >> 20) MiB of the 256 MiB freed")
    }
}
