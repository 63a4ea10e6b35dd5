import Dispatch
import HeraldStorage
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Writes a whole store into an empty PostgreSQL database, for `herald store migrate`.
///
/// Everything happens in **one transaction** on one connection: `begin()` takes the tables' locks and counts what
/// is there, `insert` adds batches (`INSERT … SELECT … FROM unnest(arrays)`, one statement per batch), `finish`
/// sets the counters that continue after the copied rows and counts again, and `commit()` makes it all visible at
/// once. A failure anywhere before the commit (an error, a lost connection, a killed process) leaves the database
/// as it was: empty, with only the schema, so the next run starts again from nothing.
///
/// Blocking: call it from a thread that is not an event loop. One insert is kept in flight while the caller
/// reads and encodes the next batch.
public final class PostgresImport {
    /// Why the import cannot go on; `kind` says whether anything could have been written.
    public struct Problem: Error, CustomStringConvertible {
        public enum Kind: Sendable {
            /// The server cannot be reached or refuses the login.
            case unreachable
            /// The schema cannot be brought to this Herald's version.
            case schema
            /// Another session holds the tables (a herald running on this database?).
            case busy
            /// A statement of the copy failed; the transaction is rolled back.
            case failed
        }
        public var kind: Kind
        public var message: String
        public var description: String { message }
    }

    public let settings: PostgresSettings
    private let connection: PostgresConnection
    private let logger: Logger
    /// The insert sent last, not waited for yet.
    private var pending: EventLoopFuture<PostgresQueryResult>?
    private var inTransaction = false

    private init(settings: PostgresSettings, connection: PostgresConnection, logger: Logger) {
        self.settings = settings
        self.connection = connection
        self.logger = logger
    }

    /// Connects and applies the schema migrations (creating the `herald` schema and its tables if needed).
    public static func connect(_ settings: PostgresSettings, logger: Logger = Logger(label: "herald.store")) throws
        -> PostgresImport
    {
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(),
                configuration: PostgresStore.connectionConfiguration(settings), id: 0, logger: logger
            ).wait()
        } catch {
            throw Problem(
                kind: .unreachable,
                message: "cannot connect to PostgreSQL at \(settings.location): \(PostgresImport.describe(error))")
        }
        do {
            try blocking { try await PostgresSchema.migrate(connection, logger: logger) }
        } catch let error as PostgresSchema.MigrationError {
            try? connection.close().wait()
            throw Problem(kind: .schema, message: "cannot migrate the PostgreSQL schema at \(settings.location): \(error)")
        } catch {
            try? connection.close().wait()
            throw Problem(
                kind: .schema,
                message: "cannot migrate the PostgreSQL schema at \(settings.location): \(PostgresImport.describe(error))")
        }
        return PostgresImport(settings: settings, connection: connection, logger: logger)
    }

    /// Begins the transaction, locks every table against writers (other sessions may still read) and returns
    /// how many rows each already holds (by table name).
    public func begin(lockTimeoutSeconds: Int = 10) throws -> [String: Int64] {
        try run("BEGIN")
        inTransaction = true
        try run("SET LOCAL lock_timeout = '\(lockTimeoutSeconds)s'")
        let tables = (StoreCopy.tables.map(\.name) + ["event_counter"]).map { "\(PostgresSchema.name).\($0)" }
        do {
            try run("LOCK TABLE \(tables.joined(separator: ", ")) IN EXCLUSIVE MODE")
        } catch let problem as Problem where problem.message.contains("55P03") {
            rollback()
            throw Problem(
                kind: .busy,
                message: "the Herald tables at \(settings.location) are in use by another session (a herald running "
                    + "on this database?): stop it first")
        }
        return try counts()
    }

    /// Rows in each table of `StoreCopy.tables`, as this transaction sees them.
    public func counts() throws -> [String: Int64] {
        try flush()
        var out: [String: Int64] = [:]
        for table in StoreCopy.tables {
            let result = try run("SELECT COUNT(*)::int8 FROM \(PostgresSchema.name).\(table.name)")
            out[table.name] = try result.rows.first?.decode(Int64.self) ?? 0
        }
        return out
    }

    /// Sends one batch of `table`'s rows; waits for the previous batch's answer first (one insert in flight).
    public func insert(_ batch: StoreCopy.Batch, into table: StoreCopy.Table) throws {
        precondition(batch.columns.count == table.columns.count, "a batch of \(table.name) has the wrong columns")
        guard batch.rows > 0 else { return }
        var binds = PostgresBindings()
        var arrays: [String] = []  // "$n::type[]" for unnest
        var aliases: [String] = []  // unnest's column names
        var values: [String] = []  // what each target column gets
        for data in batch.columns {
            let alias = "c\(aliases.count)"
            switch data {
            case .text(let v):
                binds.append(v)
                arrays.append("$\(binds.count)::text[]")
                aliases.append(alias)
                values.append("u.\(alias)")
            case .nullableText(let v):
                // Arrays of optionals have no encoding here: the values (NULL as '') and a NULL mask.
                binds.append(v.map { $0 ?? "" })
                arrays.append("$\(binds.count)::text[]")
                binds.append(v.map { $0 == nil })
                arrays.append("$\(binds.count)::bool[]")
                aliases.append(alias)
                aliases.append(alias + "_null")
                values.append("CASE WHEN u.\(alias)_null THEN NULL ELSE u.\(alias) END")
            case .int64(let v):
                binds.append(v)
                arrays.append("$\(binds.count)::int8[]")
                aliases.append(alias)
                values.append("u.\(alias)")
            case .bool(let v):
                binds.append(v)
                arrays.append("$\(binds.count)::bool[]")
                aliases.append(alias)
                values.append("u.\(alias)")
            case .bytes(let data, let ends):
                // One buffer for the column; each row's value is a slice of it (no copy).
                let buffer = ByteBuffer(bytes: data)
                var start = 0
                var slices: [ByteBuffer] = []
                slices.reserveCapacity(ends.count)
                for end in ends {
                    slices.append(buffer.getSlice(at: start, length: end - start)!)
                    start = end
                }
                binds.append(slices)
                arrays.append("$\(binds.count)::bytea[]")
                aliases.append(alias)
                values.append("u.\(alias)")
            }
        }
        let sql = """
            INSERT INTO \(PostgresSchema.name).\(table.name) (\(table.columns.map(\.name).joined(separator: ", ")))
            SELECT \(values.joined(separator: ", "))
            FROM unnest(\(arrays.joined(separator: ", "))) AS u(\(aliases.joined(separator: ", ")))
            """
        try flush()
        pending = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
    }

    /// Waits for the insert in flight.
    public func flush() throws {
        guard let insert = pending else { return }
        pending = nil
        do {
            _ = try insert.wait()
        } catch {
            throw Problem(kind: .failed, message: PostgresImport.describe(error))
        }
    }

    /// After the last batch: continues the event sequence after `sequences.lastEvent` (or the highest copied
    /// sequence number, if higher) and the dead-letter ids after `sequences.lastDeadLetter`; returns the row counts
    /// and the event counter as this transaction sees them.
    public func finish(_ sequences: StoreCopy.Sequences) throws -> (counts: [String: Int64], lastEvent: Int64) {
        try flush()
        let schema = PostgresSchema.name
        try run(
            """
            UPDATE \(schema).event_counter
            SET last = GREATEST(last, \(sequences.lastEvent), (SELECT COALESCE(MAX(seq), 0) FROM \(schema).events))
            WHERE id = 1
            """)
        try run(
            """
            SELECT setval(pg_get_serial_sequence('\(schema).dead_letters', 'id'), GREATEST(v, 1), v > 0)
            FROM (SELECT GREATEST(\(sequences.lastDeadLetter), COALESCE(MAX(id), 0)) AS v FROM \(schema).dead_letters) m
            """)
        try run(
            """
            SELECT setval(pg_get_serial_sequence('\(schema).streaming_changes', 'id'), GREATEST(v, 1), v > 0)
            FROM (SELECT COALESCE(MAX(id), 0) AS v FROM \(schema).streaming_changes) m
            """)
        let last = try run("SELECT last FROM \(schema).event_counter WHERE id = 1").rows.first?.decode(Int64.self) ?? 0
        return (try counts(), last)
    }

    /// Commits the copy.
    public func commit() throws {
        try flush()
        try run("COMMIT")
        inTransaction = false
    }

    /// Undoes everything since `begin()`.
    public func rollback() {
        if let insert = pending {
            pending = nil
            _ = try? insert.wait()
        }
        guard inTransaction else { return }
        inTransaction = false
        _ = try? connection.query("ROLLBACK", logger: logger).wait()
    }

    public func close() {
        rollback()
        try? connection.close().wait()
    }

    @discardableResult
    private func run(_ sql: String) throws -> PostgresQueryResult {
        do {
            return try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait()
        } catch {
            throw Problem(kind: .failed, message: PostgresImport.describe(error))
        }
    }

    /// The server's message (postgres-nio hides it by default).
    static func describe(_ error: any Error) -> String {
        if let store = StoreError.classifyPostgres(error) as? StoreError { return store.message }
        return "\(error)"
    }

    /// Runs async work from a thread that may block (not an event loop, not the cooperative pool).
    private static func blocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        final class Outcome: @unchecked Sendable {
            // Written before `done` is signalled, read after it is waited for.
            var error: (any Error)?
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await body()
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}
