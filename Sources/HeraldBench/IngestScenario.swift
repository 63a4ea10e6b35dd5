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
    /// The generated data's errors (`realistic`: tagged error kinds and twins, what richer match rules are for).
    var errorProfile: SampleDataGenerator.ErrorProfile = .classic

    /// Match rules a run uses: the demo tenant's, or a rules file's members (`{"matchGroups": [...]}`) in place of
    /// the Individual type's.
    struct MatchRules {
        /// What the output calls them: `demo rules` or the file's path.
        var name: String
        /// nil: the demo tenant's own.
        var members: JSONValue?

        static let demo = MatchRules(name: "demo rules", members: nil)

        /// `demo`, or the path of a rules file (relative to the package root or the working directory).
        static func parse(_ spec: String, packageRoot: String) throws -> MatchRules {
            if spec == "demo" { return .demo }
            let candidates =
                spec.hasPrefix("/")
                ? [spec] : [FileManager.default.currentDirectoryPath + "/" + spec, packageRoot + "/" + spec]
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
                let data = FileManager.default.contents(atPath: path)
            else { throw BenchError("--match-rules: no file '\(spec)' (tried \(candidates.joined(separator: ", ")))") }
            let json: JSONValue
            do { json = try JSONParser.parse(Array(data)) } catch {
                throw BenchError("--match-rules: '\(spec)': \(error)")
            }
            guard case .object = json, json["matchGroups"] != nil else {
                throw BenchError("--match-rules: '\(spec)' must be an object with matchGroups")
            }
            return MatchRules(name: spec, members: json)
        }
    }

    /// The request lines (pre-rendered so that the client costs as little as possible): warm-up first, then
    /// `entities` measured ones.
    func makeLines() -> [[UInt8]] {
        var options = SampleDataGenerator.Options()
        options.people = max(1, (entities + entities / 10) * 100 / Int(100 + duplicateRate * 150))
        options.duplicateRate = duplicateRate
        options.seed = 99
        options.errorProfile = errorProfile
        var lines: [[UInt8]] = []
        SampleDataGenerator(options: options).generate { lines.append($0.json) }
        while lines.count < entities + entities / 10 { lines.append(lines[lines.count % max(1, lines.count)]) }
        return lines
    }

    /// What the output says about the data.
    var dataDescription: String {
        "\(errorProfile.rawValue) sample data, duplicateRate \(duplicateRate), seed 99"
    }

    /// The figures of one run.
    struct RunFigures {
        var rate: Double
        var p50: Double
        var p99: Double
        var p999: Double
        var peak: Double
        var databaseMemory: Double
        var mergesPerSecond: Double
        var merges: Int
    }

    /// One run: a new server (with `rules` when matching), the warm-up lines, then the measured ones.
    func measure(_ lines: [[UInt8]], rules: MatchRules?) throws -> RunFigures {
        let server = try ServerUnderTest(
            herald: herald, packageRoot: packageRoot, synchronous: synchronous, matching: matching || rules != nil,
            matchRules: rules?.members)
        defer { server.stop() }
        let warmup = lines.count - entities
        let bodies = makeBodies(Array(lines[warmup...]))
        // Warm-up: connections, caches, SQLite pages.
        try post(makeBodies(Array(lines[..<warmup])), to: server.baseURL, connections: connections)
        let start = monotonicSeconds()
        let latencies = try post(bodies, to: server.baseURL, connections: connections)
        let elapsed = monotonicSeconds() - start
        let merged = try countMerges(server.baseURL)
        return RunFigures(
            rate: Double(entities) / elapsed, p50: latencies.percentile(50), p99: latencies.percentile(99),
            p999: latencies.percentile(99.9), peak: ProcessMemory.read(pid: server.pid).peak,
            databaseMemory: BenchStore.serverMemoryMiB(), mergesPerSecond: Double(merged) / elapsed, merges: merged)
    }

    func run(writer: ResultWriter) throws {
        let lines = makeLines()
        var figures: [RunFigures] = []
        for runIndex in 0..<runs {
            let f = try measure(lines, rules: matching ? .demo : nil)
            figures.append(f)
            say(
                "  run \(runIndex + 1): \(Int(f.rate)) entities/s, p99 \(String(format: "%.1f", f.p99)) ms, \(f.merges) merges"
            )
        }
        emit(
            figures, lines: lines,
            scenario: matching ? "ingest (REST, with the demo match rules)" : "ingest (REST, no match rules)",
            writer: writer)
    }

    /// The same data with each of `ruleSets`, alternating per run (run 1 with each, then run 2 with each, …), so
    /// that the machine's drift affects them alike; one result per rule set.
    func runComparing(_ ruleSets: [MatchRules], writer: ResultWriter) throws {
        let lines = makeLines()
        say("  data: \(dataDescription); rules: \(ruleSets.map(\.name).joined(separator: " and "))")
        var figures = Array(repeating: [RunFigures](), count: ruleSets.count)
        for runIndex in 0..<runs {
            for (i, rules) in ruleSets.enumerated() {
                let f = try measure(lines, rules: rules)
                figures[i].append(f)
                say(
                    "  run \(runIndex + 1), \(rules.name): \(Int(f.rate)) entities/s, "
                        + "p99 \(String(format: "%.1f", f.p99)) ms, \(f.merges) merges")
            }
        }
        for (i, rules) in ruleSets.enumerated() {
            emit(
                figures[i], lines: lines, scenario: "ingest (REST, with \(rules.name), \(errorProfile.rawValue) data)",
                writer: writer, extra: ["matchRules": rules.name, "data": dataDescription])
        }
        if ruleSets.count > 1 {
            let medians = figures.map { Summary(values: $0.map(\.rate)).median }
            say(
                "  entities/s (median): "
                    + zip(ruleSets, medians).map { "\($0.name) \(Int($1))" }.joined(separator: ", ")
                    + " (same \(dataDescription))")
        }
    }

    private func emit(
        _ runs: [RunFigures], lines: [[UInt8]], scenario: String, writer: ResultWriter, extra: [String: String] = [:]
    ) {
        let averageBytes = lines.reduce(0) { $0 + $1.count } / max(1, lines.count)
        let r = Summary(values: runs.map(\.rate))
        writer.emit(
            scenario: scenario,
            parameters: [
                "entities": String(entities), "batch": String(batch), "connections": String(connections),
                "runs": String(self.runs), "entityBytes": String(averageBytes), "synchronous": synchronous,
                "duplicateRate": String(duplicateRate), "errorProfile": errorProfile.rawValue,
            ].merging(extra) { _, b in b },
            figures: [
                ("entities/s (median)", r.median, "entities/s"), ("entities/s (min)", r.min, "entities/s"),
                ("entities/s (max)", r.max, "entities/s"),
                ("request p50", Summary(values: runs.map(\.p50)).median, "ms"),
                ("request p99", Summary(values: runs.map(\.p99)).median, "ms"),
                ("request p99.9", Summary(values: runs.map(\.p999)).median, "ms"),
                ("merges/s (median)", Summary(values: runs.map(\.mergesPerSecond)).median, "merges/s"),
                ("server peak RSS", Summary(values: runs.map(\.peak)).max, "MiB"),
            ]
                + (BenchStore.current == .postgres
                    ? [("PostgreSQL PSS (all processes)", Summary(values: runs.map(\.databaseMemory)).max, "MiB")] : [])
        )
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
