import GRDB
import HeraldStorage

extension StoreError {
    /// SQLite errors that say the storage cannot take writes become `storageFull` or `unavailable`; any other
    /// error (a constraint, a bug, a domain error thrown by a write job) is returned unchanged.
    static func classify(_ error: any Error) -> any Error {
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
