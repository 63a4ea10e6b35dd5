/// What the store's SQLite connections may hold in memory: each connection has its own page cache,
/// filled up to its budget as pages are read and kept until the connection closes.
///
/// The store holds at most `writerCacheMiB + readerCount × readerCacheMiB` of page cache (plus the
/// checkpointer's connection, which keeps SQLite's default of 2 MiB).
public struct StoreMemory: Sendable, Equatable {
    /// Page cache of the writer connection (ingest, matching, delivery bookkeeping), in MiB.
    public var writerCacheMiB: Int
    /// Page cache of each reader connection (GETs, the events API, delivery reading the queue), in MiB.
    public var readerCacheMiB: Int
    /// Reader connections open at most; opened on demand and kept open.
    public var readerCount: Int

    public init(writerCacheMiB: Int = 64, readerCacheMiB: Int = 8, readerCount: Int = 8) {
        self.writerCacheMiB = writerCacheMiB
        self.readerCacheMiB = readerCacheMiB
        self.readerCount = readerCount
    }
}
