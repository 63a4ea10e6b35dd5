import GRDB
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

    /// SQLite errors that say the storage cannot take writes become `storageFull` or `unavailable`; any other
    /// error (a constraint, a bug, a domain error thrown by a write job) is returned unchanged.
    public static func classify(_ error: any Error) -> any Error {
        guard let db = error as? DatabaseError else { return error }
        switch db.resultCode {
        case .SQLITE_FULL:
            return StoreError(.storageFull, "the disk holding the data directory is full (\(db.message ?? "SQLITE_FULL"))")
        case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_BUSY,
            .SQLITE_LOCKED, .SQLITE_NOMEM, .SQLITE_PROTOCOL:
            return StoreError(.unavailable, "the database cannot be used: \(db.resultCode) (\(db.message ?? ""))")
        default:
            return error
        }
    }
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
    /// The disk (or the database's size limit) is full: nothing more can be written until space is freed.
    public static let storageFull = Self("STORAGE_FULL")
    /// The database cannot be read or written (I/O error, read-only, locked, corrupt): an operator must look.
    public static let unavailable = Self("STORE_UNAVAILABLE")
}
