import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldSampleData

/// Scenario 1: entities posted through REST in batches, durable commits.
struct IngestScenario {
    var herald: String
    var packageRoot: String
    var entities: Int
    var batch: Int
    var connections: Int
    var runs: Int
    var synchronous: String
    var matching: Bool = false
    var duplicateRate: Double = 0

    func run(writer: ResultWriter) throws {
        // Pre-render request bodies so that the client costs as little as possible.
        var options = SampleDataGenerator.Options()
        options.people = max(1, (entities + entities / 10) * 100 / Int(100 + duplicateRate * 150))
        options.duplicateRate = duplicateRate
        options.seed = 99
        var lines: [[UInt8]] = []
        SampleDataGenerator(options: options).generate { lines.append($0.json) }
        while lines.count < entities + entities / 10 { lines.append(lines[lines.count % max(1, lines.count)]) }
        let averageBytes = lines.reduce(0) { $0 + $1.count } / max(1, lines.count)

        var rates: [Double] = []
        var p50s: [Double] = []
        var p99s: [Double] = []
        var p999s: [Double] = []
        var peaks: [Double] = []
        var merges: [Double] = []
        var databaseMemory: [Double] = []
        for runIndex in 0..<runs {
            let server = try ServerUnderTest(
                herald: herald, packageRoot: packageRoot, synchronous: synchronous, matching: matching)
            defer { server.stop() }
            let warmup = lines.count - entities
            let bodies = makeBodies(Array(lines[warmup...]))
            // Warm-up: connections, caches, SQLite pages.
            try post(makeBodies(Array(lines[..<warmup])), to: server.baseURL, connections: connections)
            let start = monotonicSeconds()
            let latencies = try post(bodies, to: server.baseURL, connections: connections)
            let elapsed = monotonicSeconds() - start
            let rate = Double(entities) / elapsed
            rates.append(rate)
            p50s.append(latencies.percentile(50))
            p99s.append(latencies.percentile(99))
            p999s.append(latencies.percentile(99.9))
            peaks.append(ProcessMemory.read(pid: server.pid).peak)
            databaseMemory.append(BenchStore.serverMemoryMiB())
            let merged = try countMerges(server.baseURL)
            merges.append(Double(merged) / elapsed)
            say("  run \(runIndex + 1): \(Int(rate)) entities/s, p99 \(String(format: "%.1f", latencies.percentile(99))) ms, \(merged) merges")
        }
        let r = Summary(values: rates)
        writer.emit(
            scenario: matching ? "ingest (REST, with the demo match rules)" : "ingest (REST, no match rules)",
            parameters: [
                "entities": String(entities), "batch": String(batch), "connections": String(connections),
                "runs": String(runs), "entityBytes": String(averageBytes), "synchronous": synchronous,
                "duplicateRate": String(duplicateRate),
            ],
            figures: [
                ("entities/s (median)", r.median, "entities/s"), ("entities/s (min)", r.min, "entities/s"),
                ("entities/s (max)", r.max, "entities/s"),
                ("request p50", Summary(values: p50s).median, "ms"), ("request p99", Summary(values: p99s).median, "ms"),
                ("request p99.9", Summary(values: p999s).median, "ms"),
                ("merges/s (median)", Summary(values: merges).median, "merges/s"),
                ("server peak RSS", Summary(values: peaks).max, "MiB"),
            ] + (BenchStore.current == .postgres
                ? [("PostgreSQL PSS (all processes)", Summary(values: databaseMemory).max, "MiB")] : []))
    }

    /// ENTITIES_MERGED events in the queue (read through the events API).
    func countMerges(_ baseURL: String) throws -> Int {
        let client = HTTPClient(timeout: 120)
        var after: Int64 = 0
        var merges = 0
        while true {
            let r = try client.send(method: "GET", url: baseURL + "/api/demo/events?after=\(after)&limit=10000")
            guard let json = try? JSONParser.parse(r.body), let events = json["events"]?.arrayValue, !events.isEmpty else {
                return merges
            }
            merges += events.filter { $0["type"]?.stringValue == "ENTITIES_MERGED" }.count
            after = json["next"]?.int64Value ?? after
        }
    }

    static func people(_ count: Int, seed: UInt64 = 99) -> [[UInt8]] {
        var options = SampleDataGenerator.Options()
        options.people = count
        options.duplicateRate = 0
        options.seed = seed
        var lines: [[UInt8]] = []
        SampleDataGenerator(options: options).generate { lines.append($0.json) }
        return lines
    }

    func makeBodies(_ lines: [[UInt8]]) -> [[UInt8]] {
        stride(from: 0, to: lines.count, by: batch).map { start in
            var body: [UInt8] = [UInt8(ascii: "[")]
            for (i, line) in lines[start..<min(start + batch, lines.count)].enumerated() {
                if i > 0 { body.append(UInt8(ascii: ",")) }
                body.append(contentsOf: line)
            }
            body.append(UInt8(ascii: "]"))
            return body
        }
    }

    /// Posts `bodies` one after another on one connection, paced so that entities arrive at `entitiesPerSecond`.
    func postPaced(_ bodies: [[UInt8]], entitiesPerSecond: Int, to baseURL: String) throws {
        let client = HTTPClient(timeout: 60)
        let interval = Double(batch) / Double(entitiesPerSecond)
        let start = monotonicSeconds()
        for (i, body) in bodies.enumerated() {
            let wait = start + Double(i) * interval - monotonicSeconds()
            if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
            let r = try client.send(
                method: "POST", url: baseURL + "/api/demo/entities", headers: [("Content-Type", "application/json")],
                body: body)
            guard r.status == 200 else { throw BenchError("ingest failed: HTTP \(r.status) \(r.bodyText.prefix(300))") }
        }
    }

    /// Posts `bodies` from `connections` threads (one connection each); `progress` gets the entity count of each
    /// body once it is answered.
    @discardableResult
    func post(
        _ bodies: [[UInt8]], to baseURL: String, connections: Int, progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> LatencyRecorder {
        let url = baseURL + "/api/demo/entities"
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var next = 0
            var merged = LatencyRecorder()
            var failure: String?
        }
        let shared = Shared()
        let group = DispatchGroup()
        for _ in 0..<connections {
            group.enter()
            Thread {
                let client = HTTPClient(timeout: 120)
                var local = LatencyRecorder()
                while true {
                    let index: Int? = shared.lock.withLock {
                        guard shared.next < bodies.count, shared.failure == nil else { return nil }
                        shared.next += 1
                        return shared.next - 1
                    }
                    guard let index else { break }
                    let t0 = monotonicSeconds()
                    do {
                        let response = try client.send(
                            method: "POST", url: url, headers: [("Content-Type", "application/json")], body: bodies[index])
                        if response.status != 200 {
                            shared.lock.withLock { shared.failure = "HTTP \(response.status): \(response.bodyText.prefix(300))" }
                        }
                    } catch {
                        shared.lock.withLock { shared.failure = "\(error)" }
                    }
                    local.record(monotonicSeconds() - t0)
                    progress?(self.batch)
                }
                shared.lock.withLock { shared.merged.merge(local) }
                group.leave()
            }.start()
        }
        group.wait()
        let failure = shared.failure
        let merged = shared.merged
        if let failure { throw BenchError("ingest failed: \(failure)") }
        return merged
    }
}
