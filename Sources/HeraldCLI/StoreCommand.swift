import ArgumentParser
import Foundation
import HeraldConfig
import HeraldPostgres
import HeraldSQLite
import HeraldStorage
import Logging

/// `herald store …`: maintenance of the store itself.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Maintain the store: move its data to another backend.",
        subcommands: [Migrate.self])

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a SQLite store into an empty PostgreSQL database.",
            discussion: """
                Copies everything herald.db in the data directory holds — entities, crosswalks, match keys, \
                potential and not-matches, merges, relations, the event queue with its sequence numbers, \
                every destination's cursor, retry schedule and dead letters — into the `herald` schema of the \
                PostgreSQL database, creating the schema if needed. Then point `store` in the configuration at \
                PostgreSQL and start herald: every destination continues from its cursor.

                Stop herald first: the store is opened exclusively, and the command refuses while another \
                process has it open. The target must hold no Herald data. The copy is one PostgreSQL \
                transaction: if it fails or is interrupted, nothing is left in the target and it can simply be \
                run again. Before committing, the row count of every table is compared on both sides. The \
                SQLite store is not changed (unless it comes from an older Herald: its schema is upgraded \
                first, as `herald serve` would); keep it as a backup.

                Exit status: 0 when the copy is committed and verified, 2 when it was refused before copying \
                anything (a bad URL, a missing password variable, the store in use, the target not empty or \
                unreachable), 1 when the copy failed or did not verify (the target is left empty).
                """)

        @Option(help: "The data directory of the SQLite store (the one holding herald.db).")
        var from: String

        @Option(help: "The PostgreSQL database: postgres://USER@HOST:PORT/DATABASE (no password in it).")
        var to: String

        @Option(help: "The environment variable holding the PostgreSQL user's password (default: no password).")
        var passwordEnv: String?

        @Option(help: "Rows per INSERT statement (fewer when the rows are large).")
        var batch: Int = 2000

        @OptionGroup var progressOptions: ProgressOptions

        mutating func validate() throws {
            guard batch >= 1 && batch <= 100_000 else { throw ValidationError("--batch must be between 1 and 100000") }
        }

        func run() throws {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .notice
                return handler
            }
            let logger = Logger(label: "herald.migrate")
            let url: PostgresURL
            switch PostgresURL.parse(to) {
            case .success(let parsed): url = parsed
            case .failure(let problem):
                throw refuse(
                    "--to " + problem.message.replacingOccurrences(of: "name it in 'passwordEnv'", with: "name it with --password-env"))
            }
            var password: String?
            if let variable = passwordEnv {
                guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                    throw refuse(
                        "--password-env names the environment variable '\(variable)', which is "
                            + "\(ProcessInfo.processInfo.environment[variable] == nil ? "not set" : "empty")")
                }
                password = value
            }
            let settings = PostgresSettings(
                host: url.host, port: url.port, user: url.user, database: url.database, password: password)
            let (mode, interval) = progressOptions.display

            let migration = StoreMigration(directory: from, settings: settings, logger: logger)
            do {
                try migration.run(progress: mode, interval: interval, batchRows: batch)
            } catch let refusal as StoreMigration.Refusal {
                throw refuse(refusal.message)
            } catch let failure as StoreMigration.Failure {
                printError("herald store migrate: \(failure.message)")
                throw ExitCode(1)
            }
        }

        private func refuse(_ message: String) -> ExitCode {
            printError("herald store migrate: \(message)")
            return ExitCode(2)
        }
    }
}

/// One run of `herald store migrate`: SQLite store → empty PostgreSQL database, in one PostgreSQL transaction.
final class StoreMigration: ProgressSource, @unchecked Sendable {
    /// Nothing was copied: exit 2.
    struct Refusal: Error { var message: String }
    /// The copy failed or did not verify; the transaction was rolled back: exit 1.
    struct Failure: Error { var message: String }

    let directory: String
    let settings: PostgresSettings
    let logger: Logger

    private let lock = NSLock()
    private var copied = 0
    private var rowsInTable = 0
    private var currentTable = ""
    private var currentTableTotal: Int64 = 0
    private var started = Date()
    private(set) var total = 0

    init(directory: String, settings: PostgresSettings, logger: Logger) {
        self.directory = directory
        self.settings = settings
        self.logger = logger
    }

    // MARK: ProgressSource

    var progress: (done: Int, rejected: Int, seconds: Double) {
        lock.withLock { (copied, 0, Date().timeIntervalSince(started)) }
    }
    var unit: (plural: String, rate: String) { ("rows", "rows") }
    var detail: String {
        lock.withLock {
            currentTable.isEmpty ? "" : "\(currentTable) \(grouped(rowsInTable))/\(grouped(Int(currentTableTotal)))"
        }
    }

    // MARK: run

    func run(progress mode: ProgressDisplay.Mode, interval: Double, batchRows: Int = 2000) throws {
        let source: SQLiteExport
        do {
            source = try SQLiteExport(directory: directory, logger: logger)
        } catch let refusal as SQLiteExport.Refusal {
            throw Refusal(message: refusal.message)
        }
        defer { source.close() }
        let sourceCounts: [String: Int64]
        let sequences: StoreCopy.Sequences
        do {
            sourceCounts = try source.counts()
            sequences = try source.sequences()
        } catch {
            throw Refusal(message: "cannot read the SQLite store \(source.path): \(error)")
        }

        let target: PostgresImport
        do {
            target = try PostgresImport.connect(settings, logger: logger)
        } catch let problem as PostgresImport.Problem {
            throw Refusal(message: problem.message)
        }
        defer { target.close() }
        let existing: [String: Int64]
        do {
            existing = try target.begin()
        } catch let problem as PostgresImport.Problem {
            throw Refusal(message: problem.message)
        }
        let entities = existing["entities"] ?? 0
        let events = existing["events"] ?? 0
        let others = existing.filter { $0.key != "entities" && $0.key != "events" && $0.value > 0 }
        if entities > 0 || events > 0 || !others.isEmpty {
            target.rollback()
            var what = "\(grouped(Int(entities))) entities, \(grouped(Int(events))) events"
            if entities == 0 && events == 0 {
                what += "; also " + others.sorted { $0.key < $1.key }.map { "\($0.key) \(grouped(Int($0.value)))" }
                    .joined(separator: ", ")
            }
            throw Refusal(
                message: "the target database \(settings.location) already holds Herald data (\(what)); "
                    + "migrate into an empty database")
        }

        total = Int(sourceCounts.values.reduce(0, +))
        started = Date()
        printError("copying \(grouped(total)) rows from \(source.path) to \(settings.location) in one transaction")
        let display = ProgressDisplay(job: self, mode: mode, interval: interval)
        display.start()
        var verified: (counts: [String: Int64], lastEvent: Int64)
        var tableSeconds: [String: Double] = [:]
        do {
            for table in StoreCopy.tables {
                let tableStart = Date()
                lock.withLock {
                    currentTable = table.name
                    currentTableTotal = sourceCounts[table.name] ?? 0
                    rowsInTable = 0
                }
                try source.export(table, maxRows: batchRows, maxBytes: 16 << 20) { batch in
                    try target.insert(batch, into: table)
                    lock.withLock {
                        copied += batch.rows
                        rowsInTable += batch.rows
                    }
                }
                try target.flush()
                tableSeconds[table.name] = Date().timeIntervalSince(tableStart)
            }
            lock.withLock { currentTable = "" }
            verified = try target.finish(sequences)
        } catch {
            display.stop()
            target.rollback()
            throw Failure(
                message: "the copy failed and was rolled back (the target holds no Herald data; run the command "
                    + "again once the cause is fixed): \(error)")
        }
        display.stop()

        // Every table must hold as many rows as the store's (read under its exclusive lock: nothing changed it).
        let mismatches = StoreCopy.tables.compactMap { table -> String? in
            let expected = sourceCounts[table.name] ?? 0
            let found = verified.counts[table.name] ?? 0
            return expected == found ? nil : "\(table.name): \(expected) in SQLite, \(found) in PostgreSQL"
        }
        if !mismatches.isEmpty {
            target.rollback()
            throw Failure(
                message: "the copy did not verify, and was rolled back (the target holds no Herald data): "
                    + mismatches.joined(separator: "; "))
        }
        do {
            try target.commit()
        } catch {
            target.rollback()
            throw Failure(
                message: "COMMIT failed: \(error). If the connection was lost during the COMMIT, the copy may or may "
                    + "not be there: run the command again; it refuses if the copy is there")
        }
        let seconds = Date().timeIntervalSince(started)
        printSummary(
            counts: sourceCounts, tableSeconds: tableSeconds, sequences: sequences, lastEvent: verified.lastEvent,
            seconds: seconds)
    }

    private func printSummary(
        counts: [String: Int64], tableSeconds: [String: Double], sequences: StoreCopy.Sequences, lastEvent: Int64,
        seconds: Double
    ) {
        let width = StoreCopy.tables.map(\.name.count).max() ?? 0
        let numbers = StoreCopy.tables.map { grouped(Int(counts[$0.name] ?? 0)) }
        let numberWidth = numbers.map(\.count).max() ?? 0
        var lines = ["migrated \(directory) → \(settings.location)"]
        for (table, number) in zip(StoreCopy.tables, numbers) {
            let name = table.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let padded = String(repeating: " ", count: numberWidth - number.count) + number
            lines.append("  \(name)  \(padded) rows  \(String(format: "%6.1f", tableSeconds[table.name] ?? 0)) s")
        }
        let rate = seconds > 0 ? Double(total) / seconds : 0
        lines.append(
            "\(grouped(total)) rows in \(String(format: "%.1f", seconds)) s (\(grouped(Int(rate))) rows/s); "
                + "row counts verified on both sides")
        lines.append(
            "new events continue after seq \(lastEvent), dead-letter ids after \(sequences.lastDeadLetter)")
        lines.append(
            "next: set \"store\": {\"backend\": \"postgres\", \"url\": \"\(settings.location)\"…} in the "
                + "configuration and start herald; keep \(directory) as a backup")
        print(lines.joined(separator: "\n"))
    }
}

/// 12345678 → "12,345,678".
func grouped(_ n: Int) -> String {
    var s = String(n)
    var i = s.count - 3
    while i > (n < 0 ? 1 : 0) {
        s.insert(",", at: s.index(s.startIndex, offsetBy: i))
        i -= 3
    }
    return s
}
