import Foundation
import HeraldJSON

/// Scenarios 6 and 7: back-pressure and recovery.
///
/// A destination's sink completes slowly (the test sink, `completionDelayMs`) while entities are
/// ingested at full speed: the backlog grows in the CRUD queue on disk, and the server's memory must
/// not grow with it. RSS is read when the backlog first reaches `checkpoints` (e.g. 100k and 1M
/// events). Then the sink "comes back" (a configuration reload makes it complete at once) and the
/// time to drain the whole backlog is measured.
struct BacklogScenario {
    var herald: String
    var packageRoot: String
    var binDirectory: String
    var entities: Int
    var checkpoints: [Int]

    func streaming(slow: Bool) -> String {
        let provider =
            slow
            ? #"{"plugin": "test", "isolation": "inProcess", "config": {"async": true, "completionDelayMs": 200, "maxBatchMessages": 100, "maxInFlight": 1}}"#
            : #"{"plugin": "test", "isolation": "inProcess", "config": {"async": false, "maxBatchMessages": 1000}}"#
        let batch = slow ? #"{"maxMessages": 100, "maxInFlight": 1, "lingerMs": 5}"# : #"{"maxMessages": 500, "maxInFlight": 4, "lingerMs": 5}"#
        return """
            {"messaging": {"providers": {"sink": \(provider)},
             "destinations": [{"provider": "sink", "name": "backlog", "enabled": true, "startFrom": "beginning",
                               "batch": \(batch)}]}}
            """
    }

    func run(writer: ResultWriter) throws {
        let plugins = try benchPluginDirectory(binDirectory: binDirectory)
        guard FileManager.default.fileExists(atPath: plugins + "/test.json") else {
            throw BenchError("libherald-sink-test.so is not built next to herald-bench (\(binDirectory))")
        }
        say("  generating \(entities) entities…")
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: entities, batch: 100, connections: 4, runs: 1,
            synchronous: "FULL")
        let bodies = ingest.makeBodies(IngestScenario.people(entities, seed: 31))
        let server = try ServerUnderTest(
            herald: herald, packageRoot: packageRoot, pluginDirectory: plugins, streaming: streaming(slow: true))
        defer { server.stop() }

        // Ingest at full speed while a monitor thread reads the backlog and the server's RSS.
        final class Monitor: @unchecked Sendable {
            let lock = NSLock()
            var stop = false
            var atCheckpoint: [Int: (rss: Double, seconds: Double)] = [:]
            var maxRSS = 0.0
            var error: String?
        }
        let monitor = Monitor()
        let checkpoints = self.checkpoints
        let start = monotonicSeconds()
        let finished = DispatchSemaphore(value: 0)
        Thread {
            while !monitor.lock.withLock({ monitor.stop }) {
                do {
                    let lag = Int(try server.destinationStatus().lagEvents)
                    let rss = ProcessMemory.read(pid: server.pid).current
                    monitor.lock.withLock {
                        monitor.maxRSS = max(monitor.maxRSS, rss)
                        for c in checkpoints where lag >= c && monitor.atCheckpoint[c] == nil {
                            monitor.atCheckpoint[c] = (rss, monotonicSeconds() - start)
                        }
                    }
                } catch {
                    monitor.lock.withLock { monitor.error = "\(error)" }
                }
                usleep(100_000)
            }
            finished.signal()
        }.start()
        try ingest.post(bodies, to: server.baseURL, connections: 4)
        let ingestSeconds = monotonicSeconds() - start
        usleep(300_000)
        monitor.lock.withLock { monitor.stop = true }
        finished.wait()
        let before = try server.destinationStatus()
        let rssAtEnd = ProcessMemory.read(pid: server.pid).current

        // The sink comes back: reload with a sink that completes at once, and time the drain.
        try server.writeConfig(streaming: streaming(slow: false))
        let drainStart = monotonicSeconds()
        server.reload()
        try server.waitForDelivery(timeout: Double(max(300, entities / 2000)))
        let drainSeconds = monotonicSeconds() - drainStart
        let after = try server.destinationStatus()
        let drained = after.cursor - before.cursor

        var figures: [(String, Double, String)] = [
            ("ingest entities/s", Double(entities) / ingestSeconds, "entities/s"),
            ("backlog at end of ingest", Double(before.lagEvents), "events"),
        ]
        for c in checkpoints {
            if let point = monitor.atCheckpoint[c] {
                figures.append(("RSS at \(c) queued", point.rss, "MiB"))
            }
        }
        figures += [
            ("RSS at end of ingest", rssAtEnd, "MiB"),
            ("max RSS while ingesting", monitor.maxRSS, "MiB"),
            ("drain time", drainSeconds, "s"),
            ("drain events/s", Double(drained) / drainSeconds, "events/s"),
            ("server peak RSS (VmHWM)", ProcessMemory.read(pid: server.pid).peak, "MiB"),
        ]
        writer.emit(
            scenario: "back-pressure (slow sink under full-speed ingest) and recovery (drain the backlog)",
            parameters: [
                "entities": String(entities), "slowSink": "test, 100 msgs per 200 ms, 1 in flight",
                "fastSink": "test, synchronous, batches of 500, 4 in flight", "payload": "full snapshot",
                "synchronous": "FULL",
            ],
            figures: figures)
        if let error = monitor.error { say("  (monitor: \(error))") }
        guard drained >= before.lagEvents else {
            throw BenchError("drained \(drained) events but \(before.lagEvents) were queued")
        }
    }
}
