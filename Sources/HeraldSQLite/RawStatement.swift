import GRDB
import GRDBSQLite

/// A cached statement driven through SQLite's C API, for the writer's per-entity hot path (match
/// keys and lookups, a dozen statements per matched entity). GRDB's `StatementArguments` (an array
/// of existentials per call) and `Row` decoding cost more there than the queries themselves.
///
/// The SQL texts used here are used only through `RawStatement`, and every use resets the
/// statement when it is done (and GRDB resets a statement before each use anyway).
struct RawStatement {
    let handle: OpaquePointer
    let db: Database
    let sql: String

    init(_ db: Database, _ sql: String) throws {
        handle = try db.cachedStatement(sql: sql).sqliteStatement
        self.db = db
        self.sql = sql
    }

    /// SQLite copies the bound bytes (SQLITE_TRANSIENT): nothing has to outlive the call.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    func bind(_ index: Int32, _ text: String) {
        // The byte count, not -1 (read up to a NUL): a NUL inside the text must not cut it short.
        _ = sqlite3_bind_text(handle, index, text, Int32(text.utf8.count), RawStatement.transient)
    }

    func bind(_ index: Int32, _ value: Int64) {
        _ = sqlite3_bind_int64(handle, index, value)
    }

    /// An empty array binds a zero-length blob, not NULL (as GRDB binds an empty `Data`; `sqlite3_bind_blob` with
    /// no pointer would bind NULL, which the queue's `NOT NULL` blob columns refuse).
    func bind(_ index: Int32, blob: [UInt8]) {
        if blob.isEmpty {
            _ = sqlite3_bind_zeroblob(handle, index, 0)
            return
        }
        blob.withUnsafeBytes { raw in
            _ = sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), RawStatement.transient)
        }
    }

    /// One step: true when a row is available, false when the statement is done.
    func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
        sqlite3_reset(handle)
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws {
        defer { reset() }
        _ = try step()
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The column's bytes, valid until the next step or reset.
    func blob(_ column: Int32) -> UnsafeRawBufferPointer {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: bytes, count: count)
    }
}
