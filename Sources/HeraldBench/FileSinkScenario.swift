import Foundation
import HeraldConfig
import HeraldPlugins
import Logging

/// Lines/s through the file sink, its `.so` loaded in process and driven as the daemon drives it
/// (`SinkDriver`), with the same rendered sample messages as the sqs and cloud scenarios (SNAPSHOT,
/// JSON, selected fields: ~1.5 KB bodies, six headers), in host batches of 100 into a file in the
/// temporary directory:
///
/// (a) one destination, `"fsync": false` (the default);
/// (b) one destination, `"fsync": true` (one fsync per batch; fewer messages);
/// (c) two destinations (two instances) writing one file at once, `"fsync": false`.
///
/// Every message must complete OK, and the file must then hold one line per message. Lines that are
/// not whole (not `{"headers":…}`: the lines of two writers interleaved) are counted and reported as
/// "torn lines", which must be 0.
struct FileSinkScenario {
    var packageRoot: String
    var binDirectory: String
    /// Messages per destination and run in (a) and (c).
    var messages: Int
    /// Messages per run in (b).
    var fsyncMessages: Int
    var runs: Int
    var batchMessages = 100
    var distinct = 10_000

    struct Case {
        var label: String
        var destinations: Int
        var fsync: Bool
        var messages: Int
    }

    func run(writer: ResultWriter) throws {
        let library = binDirectory + "/libherald-sink-file.so"
        guard FileManager.default.fileExists(atPath: library) else {
            throw BenchError(
                "\(library) is not built: build everything first (swift build -c release), then run herald-bench from .build/release"
            )
        }
        let scratch = NSTemporaryDirectory() + "herald-bench-file-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let plugin = try loadSinkPlugin(name: "file", library: library, scratch: scratch)
        var destination = DestinationConfiguration(id: "bench-file", provider: "file", name: "bench")
        destination.payloadFields = SQSScenario(packageRoot: "", binDirectory: "", messages: 0, runs: 0).payloadFields
        let pool = try renderSampleMessages(
            count: min(max(messages, fsyncMessages), distinct), packageRoot: packageRoot, destination: destination)
        let bodyBytes = pool.reduce(0) { $0 + $1.message.body.count } / pool.count
        let cases = [
            Case(label: "one destination, no fsync", destinations: 1, fsync: false, messages: messages),
            Case(label: "one destination, fsync per batch", destinations: 1, fsync: true, messages: fsyncMessages),
            Case(label: "two destinations, one file, no fsync", destinations: 2, fsync: false, messages: messages),
        ]
        for c in cases {
            let output = scratch + "/out.ndjson"
            var rates: [Double] = []
            var cpus: [Double] = []
            var fileBytes = 0
            var torn = 0
            for runIndex in 0...runs {
                try? FileManager.default.removeItem(atPath: output)
                let (seconds, cpu) = try time(c, plugin: plugin, pool: pool, output: output)
                let check = try checkLines(output, expected: c.destinations * c.messages)
                fileBytes = check.bytes
                torn = max(torn, check.torn)
                let lines = Double(c.destinations * c.messages)
                if runIndex > 0 {
                    rates.append(lines / seconds)
                    cpus.append(cpu / lines * 1e6)
                }
                say(
                    String(
                        format: "  file sink, %@ (%@): %.0f lines/s, %.1f MB/s, %.2f µs CPU per line, %d torn lines",
                        c.label, runIndex == 0 ? "warm-up" : "run \(runIndex)", lines / seconds,
                        Double(fileBytes) / seconds / 1e6, cpu / lines * 1e6, check.torn))
            }
            let r = Summary(values: rates)
            writer.emit(
                scenario: "file sink: \(c.label)",
                parameters: [
                    "messages": String(c.messages), "destinations": String(c.destinations), "fsync": String(c.fsync),
                    "batch": String(batchMessages), "bodyBytes": String(bodyBytes),
                    "lineBytes":
                        String(fileBytes / max(1, c.destinations * c.messages)),
                    "runs": String(runs), "file": "in \(NSTemporaryDirectory())",
                ],
                figures: [
                    ("lines/s (median)", r.median, "lines/s"), ("lines/s (min)", r.min, "lines/s"),
                    ("lines/s (max)", r.max, "lines/s"), ("CPU per line", Summary(values: cpus).median, "µs"),
                    ("torn lines (worst run)", Double(torn), "lines"),
                ])
        }
    }

    /// Creates and starts `c.destinations` instances on `output`, sends `c.messages` through each at
    /// once, and returns the seconds and CPU seconds from the first send to the last completion.
    private func time(_ c: Case, plugin: LoadedPlugin, pool: [OutboundMessage], output: String) throws
        -> (Double, Double)
    {
        var logger = Logger(label: "herald-bench.file")
        logger.logLevel = .warning
        let config = #"{"path": "\#(output)", "fsync": \#(c.fsync)}"#
        var instances: [SinkInstance] = []
        defer {
            for instance in instances {
                instance.stop(deadlineMs: 10_000)
                instance.destroy()
            }
        }
        for i in 0..<c.destinations {
            let instance = try SinkInstance(plugin: plugin, alias: "bench-file-\(i)", config: config, logger: logger)
            instances.append(instance)
            try instance.start()
        }
        let batch = max(1, min(batchMessages, Int(instances[0].limits.maxBatchMessages)))
        let inFlight = max(1, Int(instances[0].limits.maxInFlight))
        let total = c.messages
        let started = instances
        let cpu = processCPUSeconds()
        let start = monotonicSeconds()
        let tallies = try blockingAwait {
            await withTaskGroup(of: SinkDriver.Tally.self) { group in
                for instance in started {
                    group.addTask {
                        await SinkDriver.send(
                            instance: instance, topic: "bench", pool: pool, total: total, batch: batch,
                            inFlight: inFlight, window: total)
                    }
                }
                var all: [SinkDriver.Tally] = []
                for await t in group { all.append(t) }
                return all
            }
        }
        let elapsed = monotonicSeconds() - start
        let used = processCPUSeconds() - cpu
        for t in tallies where t.ok != total {
            throw BenchError(
                "the file sink completed \(t.ok) of \(total) messages OK; \(t.failed) failed, first: \(t.firstError ?? "?")"
            )
        }
        return (elapsed, used)
    }

    /// Checks that `path` holds `expected` lines; returns its size and how many lines are not whole.
    private func checkLines(_ path: String, expected: Int) throws -> (bytes: Int, torn: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("\(path) was not written") }
        let prefix = Array(#"{"headers":"#.utf8)
        var count = 0
        var torn = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            count += 1
            if !line.starts(with: prefix) || line.last != UInt8(ascii: "}") { torn += 1 }
        }
        guard data.last == 0x0A, count == expected else {
            throw BenchError(
                "\(path) holds \(count) lines (ends with a newline: \(data.last == 0x0A)), expected \(expected)")
        }
        return (data.count, torn)
    }
}
