import Foundation
import HeraldHTTPClient
import HeraldJSON

/// Scenario 3: ingest → CRUD queue → filter → payload → file sink, all in the daemon.
///
/// Two runs against one destination on the built-in file sink (an object filter and selected
/// fields, so every stage does its work):
/// - full speed: entities posted as fast as 4 connections go, with delivery running; reports the
///   ingest rate and the end-to-end rate (entities until the last line is in the file);
/// - steady: entities posted at a fixed rate; reports the latency from each event's time (taken
///   just before its commit) to the moment its line appears in the sink's file.
struct EndToEndScenario {
    var herald: String
    var packageRoot: String
    var binDirectory: String
    var entities: Int
    var runs: Int
    var steadyRate: Int
    var steadySeconds: Int

    static let filter = "equals(attributes.Gender, 'Female') and exists(attributes.Email)"

    func streaming(output: String) -> String {
        """
        {"messaging": {"providers": {"file": {"plugin": "file", "config": {"path": "\(output)"}}},
         "destinations": [{"provider": "file", "name": "e2e", "enabled": true, "startFrom": "beginning",
                           "objectFilter": "\(EndToEndScenario.filter)",
                           "payloadFields": \(DeliveryScenario.selectedFields),
                           "batch": {"maxMessages": 500, "maxInFlight": 4, "lingerMs": 5}}]}}
        """
    }

    func run(writer: ResultWriter) throws {
        let plugins = try benchPluginDirectory(binDirectory: binDirectory)
        guard FileManager.default.fileExists(atPath: plugins + "/file.json") else {
            throw BenchError("libherald-sink-file.so is not built next to herald-bench (\(binDirectory))")
        }
        try fullSpeed(writer: writer, plugins: plugins)
        try steady(writer: writer, plugins: plugins)
    }

    func fullSpeed(writer: ResultWriter, plugins: String) throws {
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: entities, batch: 100, connections: 4, runs: 1,
            synchronous: "FULL")
        let bodies = ingest.makeBodies(IngestScenario.people(entities, seed: 21))
        var ingestRates: [Double] = []
        var endToEnd: [Double] = []
        var p50s: [Double] = []
        var p99s: [Double] = []
        var peaks: [Double] = []
        var written = 0
        var filtered: Int64 = 0
        for runIndex in 0..<runs {
            let output = NSTemporaryDirectory() + "herald-bench-e2e-\(getpid())-\(runIndex).ndjson"
            try? FileManager.default.removeItem(atPath: output)
            defer { try? FileManager.default.removeItem(atPath: output) }
            let server = try ServerUnderTest(
                herald: herald, packageRoot: packageRoot, pluginDirectory: plugins, streaming: streaming(output: output))
            defer { server.stop() }
            let tail = FileTailer(path: output)
            let start = monotonicSeconds()
            try ingest.post(bodies, to: server.baseURL, connections: 4)
            let ingested = monotonicSeconds() - start
            try server.waitForDelivery(timeout: Double(max(120, entities / 500)))
            let delivered = monotonicSeconds() - start
            let lines = tail.stop()
            let status = try server.destinationStatus()
            guard lines.count + Int(status.filtered) == entities else {
                throw BenchError("the file holds \(lines.count) lines and \(status.filtered) were filtered, for \(entities) events")
            }
            ingestRates.append(Double(entities) / ingested)
            endToEnd.append(Double(entities) / delivered)
            p50s.append(lines.percentile(50))
            p99s.append(lines.percentile(99))
            peaks.append(ProcessMemory.read(pid: server.pid).peak)
            written = lines.count
            filtered = status.filtered
            say("  run \(runIndex + 1): ingest \(Int(Double(entities) / ingested))/s, end to end \(Int(Double(entities) / delivered))/s")
        }
        let e = Summary(values: endToEnd)
        writer.emit(
            scenario: "end to end at full speed: REST ingest → queue → filter → fields → file sink",
            parameters: [
                "entities": String(entities), "runs": String(runs), "batch": "100", "connections": "4", "synchronous": "FULL",
                "objectFilter": EndToEndScenario.filter, "payload": "selected fields", "sink": "file (no fsync)",
            ],
            figures: [
                ("ingest entities/s (median)", Summary(values: ingestRates).median, "entities/s"),
                ("end-to-end entities/s (median)", e.median, "entities/s"),
                ("end-to-end entities/s (min)", e.min, "entities/s"),
                ("end-to-end entities/s (max)", e.max, "entities/s"),
                ("lines written", Double(written), "lines"),
                ("filtered out", Double(filtered), "events"),
                ("commit → line p50 (median)", Summary(values: p50s).median, "ms"),
                ("commit → line p99 (median)", Summary(values: p99s).median, "ms"),
                ("server peak RSS", Summary(values: peaks).max, "MiB"),
            ])
    }

    func steady(writer: ResultWriter, plugins: String) throws {
        let output = NSTemporaryDirectory() + "herald-bench-e2e-steady-\(getpid()).ndjson"
        try? FileManager.default.removeItem(atPath: output)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let server = try ServerUnderTest(
            herald: herald, packageRoot: packageRoot, pluginDirectory: plugins, streaming: streaming(output: output))
        defer { server.stop() }
        let total = steadyRate * steadySeconds
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: total, batch: 10, connections: 1, runs: 1,
            synchronous: "FULL")
        let bodies = ingest.makeBodies(IngestScenario.people(total, seed: 22))
        let tail = FileTailer(path: output)
        try ingest.postPaced(bodies, entitiesPerSecond: steadyRate, to: server.baseURL)
        try server.waitForDelivery(timeout: 120)
        let lines = tail.stop()
        writer.emit(
            scenario: "end to end at a steady rate: commit → line in the file sink's output",
            parameters: [
                "entitiesPerSecond": String(steadyRate), "seconds": String(steadySeconds), "batch": "10",
                "samples": String(lines.count), "batchLingerMs": "5", "synchronous": "FULL", "sink": "file (no fsync)",
            ],
            figures: [
                ("latency p50", lines.percentile(50), "ms"), ("latency p99", lines.percentile(99), "ms"),
                ("latency p99.9", lines.percentile(99.9), "ms"),
                ("server peak RSS", ProcessMemory.read(pid: server.pid).peak, "MiB"),
            ])
    }
}

/// Follows a file sink's output from a thread: for every new line, the time it was seen minus the
/// event's `updatedTime` header (epoch ms, taken just before the commit).
final class FileTailer: @unchecked Sendable {
    private let path: String
    private let lock = NSLock()
    private var stopping = false
    private var recorder = LatencyRecorder()
    private let done = DispatchSemaphore(value: 0)

    init(path: String) {
        self.path = path
        Thread { self.loop() }.start()
    }

    private func loop() {
        var fd: Int32 = -1
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var local = LatencyRecorder()
        while true {
            let stop = lock.withLock { stopping }
            if fd < 0 { fd = open(path, O_RDONLY) }
            var readSomething = false
            if fd >= 0 {
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    readSomething = true
                    let now = wallClockMilliseconds()
                    pending.append(contentsOf: buffer[0..<n])
                    var start = 0
                    while let newline = pending[start...].firstIndex(of: 0x0A) {
                        if let t = FileTailer.updatedTime(pending[start..<newline]) { local.record(Double(now - t) / 1000) }
                        start = newline + 1
                    }
                    pending.removeFirst(start)
                }
            }
            if stop && !readSomething { break }
            if !readSomething { usleep(1000) }
        }
        if fd >= 0 { close(fd) }
        lock.withLock { recorder = local }
        done.signal()
    }

    /// `"updatedTime": "…"` (the file sink writes header values as strings).
    static func updatedTime(_ line: ArraySlice<UInt8>) -> Int64? {
        let needle = Array(#""updatedTime":""#.utf8)
        var i = line.startIndex
        while i + needle.count < line.endIndex {
            if line[i] == needle[0] && line[i..<i + needle.count].elementsEqual(needle) {
                var j = i + needle.count
                var value: Int64 = 0
                while j < line.endIndex, line[j] >= 0x30, line[j] <= 0x39 {
                    value = value * 10 + Int64(line[j] - 0x30)
                    j += 1
                }
                return value
            }
            i += 1
        }
        return nil
    }

    /// Reads what is left, stops, and returns the latency of every line seen.
    func stop() -> LatencyRecorder {
        lock.withLock { stopping = true }
        done.wait()
        return lock.withLock { recorder }
    }
}

func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
