import Foundation
import GRDB
import GRDBSQLite
import HeraldStorage
import Logging

/// A SQLite store read whole, for `herald store migrate`: opened with an exclusive lock, which it keeps until
/// `close()`, so no herald can use the store while it is copied.
///
/// **Detecting a running herald.** In WAL mode every connection that has read the database keeps a shared lock on
/// the database file for as long as it is open, and a running `herald serve` keeps its connections open. This
/// connection uses `locking_mode = EXCLUSIVE`, so its first transaction needs an exclusive lock on the file: it is
/// refused (`SQLITE_BUSY`, at once: no busy timeout) while any other process has the store open, and once taken it
/// is held until the connection closes: a herald started meanwhile cannot open the store.
public final class SQLiteExport {
    /// Why the store cannot be exported (nothing was read).
    public struct Refusal: Error, CustomStringConvertible {
        public enum Kind: Sendable { case notFound, inUse, newerSchema, unreadable }
        public var kind: Kind
        public var message: String
        public var description: String { message }
    }

    /// `herald.db` in the data directory.
    public let path: String
    /// Whether opening upgraded the store's schema to this Herald's (as `herald serve` would have on start).
    public private(set) var upgraded = false
    private let queue: DatabaseQueue

    /// Opens `herald.db` in `directory` exclusively; throws a `Refusal` when it is missing, in use by another
    /// process, or written by a newer Herald. A store of an older Herald is upgraded first.
    public init(directory: String, logger: Logger = Logger(label: "herald.store")) throws {
        path = (directory as NSString).appendingPathComponent("herald.db")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Refusal(kind: .notFound, message: "the data directory '\(directory)' does not exist")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw Refusal(
                kind: .notFound, message: "there is no Herald SQLite store in '\(directory)' (no herald.db there)")
        }
        var configuration = Configuration()
        configuration.label = "herald.export"
        configuration.busyMode = .immediateError
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE")
        }
        let inUse = Refusal(
            kind: .inUse,
            message: "the SQLite store \(path) is open in another process (a running herald?): stop herald "
                + "(every process using this data directory) first, then migrate")
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            // Takes the exclusive lock; with locking_mode EXCLUSIVE it is kept after COMMIT.
            try queue.writeWithoutTransaction { db in try db.inTransaction(.exclusive) { .commit } }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw inUse
        } catch {
            throw Refusal(kind: .unreadable, message: "cannot open the SQLite store \(path): \(error)")
        }
        let migrator = SQLiteStore.migrator(logger: logger)
        do {
            if try queue.read({ try migrator.hasBeenSuperseded($0) }) {
                throw Refusal(
                    kind: .newerSchema,
                    message: "the SQLite store \(path) was written by a newer Herald (it has schema migrations this "
                        + "one does not know): migrate it with that Herald's `herald store migrate`")
            }
            if !(try queue.read { try migrator.hasCompletedMigrations($0) }) {
                try migrator.migrate(queue)
                upgraded = true
                logger.notice("the SQLite store \(path) was upgraded to this Herald's schema before the copy")
            }
        } catch let refusal as Refusal {
            throw refusal
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw inUse
        } catch {
            throw Refusal(kind: .unreadable, message: "cannot read the SQLite store \(path): \(error)")
        }
    }

    /// Rows in each table of `StoreCopy.tables`, by table name.
    public func counts() throws -> [String: Int64] {
        try queue.read { db in
            var out: [String: Int64] = [:]
            for table in StoreCopy.tables {
                out[table.name] = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table.name)") ?? 0
            }
            return out
        }
    }

    /// The highest event sequence number and dead-letter id ever handed out: SQLite's AUTOINCREMENT record of
    /// them (`sqlite_sequence`), or the highest in the table if that is higher.
    public func sequences() throws -> StoreCopy.Sequences {
        try queue.read { db in
            var recorded: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, seq FROM sqlite_sequence") {
                recorded[row[0]] = row[1]
            }
            let maxEvent = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events") ?? 0
            let maxDeadLetter = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM dead_letters") ?? 0
            return StoreCopy.Sequences(
                lastEvent: max(maxEvent, recorded["events"] ?? 0),
                lastDeadLetter: max(maxDeadLetter, recorded["dead_letters"] ?? 0))
        }
    }

    /// Reads every row of `table` in batches of at most `maxRows` rows (and about `maxBytes` bytes), in the
    /// table's storage order (events: by sequence number), and hands each batch to `body` before reading on.
    public func export(
        _ table: StoreCopy.Table, maxRows: Int, maxBytes: Int, _ body: (StoreCopy.Batch) throws -> Void
    ) throws {
        try queue.inDatabase { db in
            let columns = table.columns.map(\.name).joined(separator: ", ")
            let statement = try RawStatement(db, "SELECT \(columns) FROM \(table.name)")
            defer { statement.reset() }
            var builder = BatchBuilder(table)
            while try statement.step() {
                builder.append(statement)
                if builder.rows >= maxRows || builder.bytes >= maxBytes { try body(builder.take()) }
            }
            if builder.rows > 0 { try body(builder.take()) }
        }
    }

    /// Releases the lock (a herald may open the store again).
    public func close() {
        try? queue.close()
    }
}

/// Collects rows column by column.
private struct BatchBuilder {
    let types: [StoreCopy.ColumnType]
    /// For each column, its index in the array of its type below.
    private var slots: [Int] = []
    private var texts: [[String]] = []
    private var nullableTexts: [[String?]] = []
    private var ints: [[Int64]] = []
    private var bools: [[Bool]] = []
    private var data: [[UInt8]] = []
    private var ends: [[Int]] = []
    private(set) var rows = 0
    private(set) var bytes = 0

    init(_ table: StoreCopy.Table) {
        types = table.columns.map(\.type)
        for type in types {
            switch type {
            case .text:
                slots.append(texts.count)
                texts.append([])
            case .nullableText:
                slots.append(nullableTexts.count)
                nullableTexts.append([])
            case .int64:
                slots.append(ints.count)
                ints.append([])
            case .bool:
                slots.append(bools.count)
                bools.append([])
            case .bytes:
                slots.append(data.count)
                data.append([])
                ends.append([])
            }
        }
    }

    mutating func append(_ statement: RawStatement) {
        for (i, type) in types.enumerated() {
            let column = Int32(i)
            let slot = slots[i]
            switch type {
            case .text:
                let text = statement.text(column) ?? ""
                bytes += text.utf8.count
                texts[slot].append(text)
            case .nullableText:
                let text = statement.isNull(column) ? nil : statement.text(column) ?? ""
                bytes += text?.utf8.count ?? 0
                nullableTexts[slot].append(text)
            case .int64:
                ints[slot].append(statement.int64(column))
            case .bool:
                bools[slot].append(statement.int64(column) != 0)
            case .bytes:
                let blob = statement.blob(column)
                data[slot].append(contentsOf: blob)
                ends[slot].append(data[slot].count)
                bytes += blob.count
            }
        }
        rows += 1
    }

    /// The rows collected so far, as a batch; starts over.
    mutating func take() -> StoreCopy.Batch {
        var columns: [StoreCopy.Values] = []
        for (i, type) in types.enumerated() {
            let slot = slots[i]
            switch type {
            case .text:
                columns.append(.text(texts[slot]))
                texts[slot] = []
            case .nullableText:
                columns.append(.nullableText(nullableTexts[slot]))
                nullableTexts[slot] = []
            case .int64:
                columns.append(.int64(ints[slot]))
                ints[slot] = []
            case .bool:
                columns.append(.bool(bools[slot]))
                bools[slot] = []
            case .bytes:
                columns.append(.bytes(data: data[slot], ends: ends[slot]))
                data[slot] = []
                ends[slot] = []
            }
        }
        let batch = StoreCopy.Batch(columns: columns, rows: rows, bytes: bytes)
        rows = 0
        bytes = 0
        return batch
    }
}
