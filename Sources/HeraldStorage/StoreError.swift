import HeraldModel

/// Errors of the storage layer.
public struct StoreError: CodedError {
    public var code: ErrorCode<StoreError>
    public var message: String

    public init(_ code: ErrorCode<StoreError>, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Whether the error is about the storage itself (full, unavailable) rather than about what was written.
    public var isStorageFailure: Bool { code == .storageFull || code == .unavailable }
}

/// Whether writes are going through, as the last write found.
public enum StoreHealth: Sendable, Equatable {
    case up
    /// Writes fail for this reason (since the given epoch ms); a successful commit 5 s after the last failure clears it.
    case failing(StoreError.Code, String, since: Int64)
}

extension ErrorCode where Domain == StoreError {
    public static let openFailed = Self("STORE_OPEN_FAILED")
    public static let corruptRow = Self("STORE_CORRUPT_ROW")
    public static let closed = Self("STORE_CLOSED")
    public static let commitFailed = Self("STORE_COMMIT_FAILED")
    /// The database refused a statement (a constraint, a bug): the request that sent it failed, nothing else.
    public static let queryFailed = Self("STORE_QUERY_FAILED")
    /// A write collided with a row committed meanwhile (a generated id taken): running the job again may succeed.
    public static let conflict = Self("STORE_CONFLICT")
    /// The disk (or the database's size limit) is full: nothing more can be written until space is freed.
    public static let storageFull = Self("STORAGE_FULL")
    /// The database cannot be read or written (I/O error, read-only, locked, corrupt): an operator must look.
    public static let unavailable = Self("STORE_UNAVAILABLE")
}
