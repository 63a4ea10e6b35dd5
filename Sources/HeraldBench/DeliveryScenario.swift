import Foundation
import HeraldHTTPClient
import HeraldJSON

/// Delivery throughput into a sink that completes immediately, and commit → completion latency.
///
/// Throughput: N events are ingested with the destination disabled; the destination is then
/// enabled (configuration reload) and timed until its cursor reaches the end of the queue.
/// Latency: with the destination running, entities are posted at a steady rate; the test sink
/// records, per message, its `updatedTime` header (the event's time, taken just before the commit)
/// and the completion time.
struct DeliveryScenario {
    var herald: String
    var packageRoot: String
    var binDirectory: String
    var events: Int
    var runs: Int
    var latencyRate: Int
    var latencySeconds: Int

    static let selectedFields = #"["uri", "type", "updatedTime", "attributes.FirstName", "attributes.LastName", "attributes.Email", "crosswalks"]"#
    /// About half of the sample people pass it.
    static let objectFilter = "equals(attributes.Gender, 'Female') and exists(attributes.LastName)"

    /// The destination's configuration, with `members` (`"payloadFields": …`, `"objectFilter": …`) added.
    func streaming(enabled: Bool, members: String?, latencyFile: String) -> String {
        let payload = members.map { ", " + $0 } ?? ""
        return """
            {"messaging": {"providers": {"null": {"plugin": "test", "isolation": "inProcess", "config": {"async": false, "maxBatchMessages": 1000, "latencyFile": "\(latencyFile)"}}},
             "destinations": [{"provider": "null", "name": "bench", "enabled": \(enabled), "startFrom": "beginning",
                               "batch": {"maxMessages": 500, "maxInFlight": 4, "lingerMs": 5}\(payload)}]}}
            """
    }

    func run(writer: ResultWriter) throws {
        let plugins = try benchPluginDirectory(binDirectory: binDirectory)
        guard FileManager.default.fileExists(atPath: plugins + "/test.json") else {
            throw BenchError("libherald-sink-test.so is not built next to herald-bench (\(binDirectory))")
        }
        let lines = IngestScenario.people(events)
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: events, batch: 100, connections: 4, runs: 1,
            synchronous: "FULL")
        let cases: [(String, String?)] = [
            ("full snapshot", nil), ("selected fields", "\"payloadFields\": \(DeliveryScenario.selectedFields)"),
            ("object filter, full snapshot", "\"objectFilter\": \"\(DeliveryScenario.objectFilter)\""),
        ]
        for (label, members) in cases {
            var rates: [Double] = []
            var peaks: [Double] = []
            var databaseMemory: [Double] = []
            var bytes = 0
            for runIndex in 0..<runs {
                let latencyFile = NSTemporaryDirectory() + "herald-bench-latency-\(getpid())-\(runIndex)"
                try? FileManager.default.removeItem(atPath: latencyFile)
                let server = try ServerUnderTest(
                    herald: herald, packageRoot: packageRoot, pluginDirectory: plugins,
                    streaming: streaming(enabled: false, members: members, latencyFile: latencyFile))
                defer {
                    server.stop()
                    try? FileManager.default.removeItem(atPath: latencyFile)
                }
                try ingest.post(ingest.makeBodies(lines), to: server.baseURL, connections: 4)
                try server.writeConfig(streaming: streaming(enabled: true, members: members, latencyFile: latencyFile))
                let start = monotonicSeconds()
                server.reload()
                do {
                    try waitForCursor(server.baseURL, reaching: Int64(events), timeout: Double(max(60, events / 1000)))
                } catch {
                    throw BenchError("\(error)\nserver log:\n\(server.logTail)")
                }
                let elapsed = monotonicSeconds() - start
                rates.append(Double(events) / elapsed)
                peaks.append(ProcessMemory.read(pid: server.pid).peak)
                databaseMemory.append(BenchStore.serverMemoryMiB())
                bytes = averageBodyBytes(latencyFile)
                say("  \(label) run \(runIndex + 1): \(Int(Double(events) / elapsed)) events/s")
            }
            let r = Summary(values: rates)
            writer.emit(
                scenario: "delivery to a sink that completes immediately (\(label))",
                parameters: [
                    "events": String(events), "runs": String(runs), "bodyBytes": String(bytes), "batch": "500",
                    "maxInFlight": "4", "plugin": "test (C, synchronous)",
                ],
                figures: [
                    ("events/s (median)", r.median, "events/s"), ("events/s (min)", r.min, "events/s"),
                    ("events/s (max)", r.max, "events/s"), ("server peak RSS", Summary(values: peaks).max, "MiB"),
                ] + (BenchStore.current == .postgres
                    ? [("PostgreSQL PSS (all processes)", Summary(values: databaseMemory).max, "MiB")] : []))
        }
        try latency(writer: writer, plugins: plugins)
    }

    /// Steady ingest with delivery running; latency from the event's time to the sink's completion.
    func latency(writer: ResultWriter, plugins: String) throws {
        let latencyFile = NSTemporaryDirectory() + "herald-bench-latency-\(getpid())-steady"
        try? FileManager.default.removeItem(atPath: latencyFile)
        let total = latencyRate * latencySeconds
        let server = try ServerUnderTest(
            herald: herald, packageRoot: packageRoot, pluginDirectory: plugins,
            streaming: streaming(enabled: true, members: nil, latencyFile: latencyFile))
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: latencyFile)
        }
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: total, batch: 100, connections: 1, runs: 1,
            synchronous: "FULL")
        let bodies = ingest.makeBodies(IngestScenario.people(total, seed: 5))
        try ingest.postPaced(bodies, entitiesPerSecond: latencyRate, to: server.baseURL)
        try waitForCursor(server.baseURL, reaching: Int64(total), timeout: 120)
        var recorder = LatencyRecorder()
        let text = (try? String(contentsOfFile: latencyFile, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let t0 = Double(parts[0]), let t1 = Double(parts[1]) else { continue }
            recorder.record((t1 - t0) / 1000)
        }
        writer.emit(
            scenario: "commit → sink completion latency (steady ingest)",
            parameters: [
                "entitiesPerSecond": String(latencyRate), "seconds": String(latencySeconds), "samples": String(recorder.samples.count),
                "batchLingerMs": "5", "synchronous": "FULL",
            ],
            figures: [
                ("latency p50", recorder.percentile(50), "ms"), ("latency p99", recorder.percentile(99), "ms"),
                ("latency p99.9", recorder.percentile(99.9), "ms"),
                ("server peak RSS", ProcessMemory.read(pid: server.pid).peak, "MiB"),
            ] + (BenchStore.current == .postgres
                ? [("PostgreSQL PSS (all processes)", BenchStore.serverMemoryMiB(), "MiB")] : []))
    }

    func waitForCursor(_ baseURL: String, reaching target: Int64, timeout: Double) throws {
        let client = HTTPClient(timeout: 30)
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            let r = try client.send(method: "GET", url: baseURL + "/api/demo/streaming/status")
            if let d = (try? JSONParser.parse(r.body))?["destinations"]?.arrayValue?.first,
                let cursor = d["cursor"]?.int64Value, cursor >= target
            {
                return
            }
            usleep(20_000)
        }
        throw BenchError("delivery did not reach seq \(target) within \(Int(timeout)) s")
    }

    func averageBodyBytes(_ path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        var total = 0
        var count = 0
        for line in text.split(separator: "\n").prefix(1000) {
            let parts = line.split(separator: " ")
            if parts.count == 3, let n = Int(parts[2]) {
                total += n
                count += 1
            }
        }
        return count > 0 ? total / count : 0
    }
}
