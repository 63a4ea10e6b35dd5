import ArgumentParser
import Foundation
import HeraldHTTPClient
import HeraldJSON

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Bulk-load newline-delimited JSON entities through the REST API.",
        discussion: """
            Each non-empty line of FILE is one entity. Lines are sent in batches to \
            POST /api/{tenant}/entities, several batches in parallel. On a terminal a progress bar \
            shows records, rate and ETA; otherwise a plain line is printed every few seconds.

            Exit status: 0 when every record was accepted, 3 when some records were rejected \
            (each is listed with its line number and reason), 1 when the load stopped early \
            (the message says which line was last committed and how to resume).
            """)

    @Argument(help: "Newline-delimited JSON file, one entity per line.")
    var file: String

    @Option(help: "Tenant id.")
    var tenant: String

    @Option(help: "Base URL of the Herald server.")
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Entities per request.")
    var batch: Int = 100

    @Option(help: "Requests in flight at once (group commit makes parallel batches cheaper).")
    var parallel: Int = 4

    @Option(help: "Bearer token (default: the HERALD_TOKEN environment variable).")
    var token: String?

    @Option(help: "Retries of a batch after a transport error or a 5xx/429 answer (with backoff).")
    var retries: Int = 5

    @Option(help: "First line to load (1-based), to resume an interrupted load.")
    var startLine: Int = 1

    @OptionGroup var progressOptions: ProgressOptions

    mutating func validate() throws {
        guard batch >= 1 && batch <= 100_000 else { throw ValidationError("--batch must be between 1 and 100000") }
        guard parallel >= 1 && parallel <= 64 else { throw ValidationError("--parallel must be between 1 and 64") }
        guard retries >= 0 && retries <= 100 else { throw ValidationError("--retries must be between 0 and 100") }
        guard startLine >= 1 else { throw ValidationError("--start-line is 1-based") }
    }

    func run() throws {
        guard let reader = LineReader(path: file) else {
            throw ValidationError("cannot open '\(file)'")
        }
        let totalRecords = LineReader.countRecords(path: file)
        let bearer = token ?? ProcessInfo.processInfo.environment["HERALD_TOKEN"]
        let endpoint = url.trimmingSuffix("/") + "/api/\(tenant)/entities"
        let (mode, interval) = progressOptions.display

        let job = LoadJob(
            reader: reader, endpoint: endpoint, token: bearer, batchSize: batch, retries: retries, startLine: startLine,
            total: startLine == 1 ? totalRecords : max(0, totalRecords - startLine + 1))
        let display = ProgressDisplay(job: job, mode: mode, interval: interval)
        display.start()
        job.run(parallel: parallel)
        display.stop()

        let summary = job.summary()
        for failure in summary.failures.prefix(50) {
            printError("line \(failure.line): \(failure.message)")
        }
        if summary.failures.count > 50 { printError("… and \(summary.failures.count - 50) more rejected records") }
        let rate = summary.seconds > 0 ? Double(summary.sent) / summary.seconds : 0
        printError(
            "loaded \(summary.accepted) of \(summary.sent) records in \(String(format: "%.1f", summary.seconds)) s "
                + "(\(Int(rate)) records/s): \(summary.created) created, \(summary.updated) updated, "
                + "\(summary.unchanged) unchanged, \(summary.failures.count) rejected")
        if let stop = summary.stopReason {
            let resume = summary.committedThrough + 1
            printError(
                "stopped: \(stop)\nevery line up to \(summary.committedThrough) is committed; resume with:\n"
                    + "  herald load \(file) --tenant \(tenant) --url \(url) --start-line \(resume)")
            throw ExitCode(1)
        }
        if !summary.failures.isEmpty { throw ExitCode(3) }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}
