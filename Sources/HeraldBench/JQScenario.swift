import Foundation
import HeraldJSON
import HeraldModel
import HeraldSampleData

#if canImport(Glibc)
import Glibc
#endif

/// Scenario: `herald filter apply` (object filter + field selection over NDJSON) against `jq` doing the
/// same on the same file, both as subprocesses, reporting the throughput ratio.
///
/// The input is sample people taken through the real ingest rules and written in the API form (what
/// `GET /api/{tenant}/entities/{id}` returns). Each case pairs a filter and `payloadFields` with a jq
/// program written to mean the same thing (any value of a multi-valued attribute, case-insensitive
/// `equals`/`startsWith`, sub-attributes of nested values, attributes absent from an entity left out
/// of the output); before timing, both outputs are compared line by line and the scenario fails when
/// they differ. Timings are never asserted on. The ratios are herald's speed over jq's: above 1,
/// herald is faster. Peak RSS is each child's VmHWM.
struct JQScenario {
    var herald: String
    var packageRoot: String
    var entities: Int
    var runs: Int
    /// The jq executable (default: `$JQ`, else `jq` on the PATH).
    var jq: String? = nil

    struct Case {
        var label: String
        var filter: String
        var fields: [String]
        var jqProgram: String
    }

    /// The jq programs hold for this data, not in general: `ascii_downcase` folds ASCII only (the filter
    /// language lowercases all of Unicode), values are not cut to 256 characters, and the date range
    /// is a string comparison valid for `yyyy-MM-dd` values only. Sample people are ASCII, short and
    /// have such dates; the output check would catch a disagreement.
    static let cases: [Case] = [
        Case(
            label: "simple equals, 4 fields",
            filter: "equals(attributes.LastName, 'smith')",
            fields: ["uri", "updatedTime", "attributes.FirstName", "attributes.Email"],
            jqProgram: """
                select(any(.attributes.LastName[]?; .value | ascii_downcase == "smith")) \
                | {uri, updatedTime, attributes: (.attributes | with_entries(select((.key == "FirstName" or .key == "Email") \
                and (.value | length > 0))))}
                """),
        Case(
            label: "and/or of five, 7 fields",
            filter: FilterRenderScenario.filters[1].1,
            fields: [
                "uri", "type", "createdTime", "attributes.FirstName", "attributes.LastName", "attributes.BirthDate",
                "crosswalks",
            ],
            jqProgram: """
                select((any(.attributes.LastName[]?; .value | ascii_downcase == "smith") \
                or any(.attributes.FirstName[]?; .value | ascii_downcase | startswith("jo"))) \
                and ((.attributes.Email // []) | length > 0) \
                and (any(.attributes.Gender[]?; .value | ascii_downcase == "unknown") | not) \
                and any(.attributes.BirthDate[]?; .value | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$") \
                and . >= "1950-01-01" and . <= "2000-12-31")) \
                | {uri, type, createdTime, attributes: (.attributes | with_entries(select((.key == "FirstName" \
                or .key == "LastName" or .key == "BirthDate") and (.value | length > 0)))), crosswalks}
                """),
        Case(
            label: "inSameAttributeValue on a nested attribute, sub-attribute fields",
            filter: "inSameAttributeValue(equals(attributes.Address.AddressType, 'work') and startsWith(attributes.Address.AddressLine1, '1'))",
            fields: ["uri", "attributes.Address.AddressLine1", "attributes.Address.City", "attributes.Phone"],
            jqProgram: """
                select(any(.attributes.Address[]?.value; any(.AddressType[]?; .value | ascii_downcase == "work") \
                and any(.AddressLine1[]?; .value | ascii_downcase | startswith("1")))) \
                | {uri, attributes: (.attributes | with_entries(select((.key == "Address" or .key == "Phone") \
                and (.value | length > 0))) | if has("Address") then .Address |= map(.value |= with_entries(select(.key \
                == "AddressLine1" or .key == "City"))) else . end)}
                """),
    ]

    func run(writer: ResultWriter) throws {
        let jqPath = try resolveJQ()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herald-bench-jq-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Child.run(jqPath, ["--version"], stdout: dir + "/jq.version", stderr: "/dev/null")
        let jqVersion = ((try? String(contentsOfFile: dir + "/jq.version", encoding: .utf8)) ?? "?")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let input = dir + "/entities.ndjson"
        let t0 = monotonicSeconds()
        let bytes = try writeEntities(to: input)
        let bytesPerRecord = bytes / max(1, entities)
        say("  \(entities) entities in the API form, \(bytesPerRecord) bytes each (\(String(format: "%.1f", Double(bytes) / 1e6)) MB), generated in \(String(format: "%.1f", monotonicSeconds() - t0)) s")

        for c in JQScenario.cases {
            let heraldArgs = ["filter", "apply", input, "--filter", c.filter, "--fields", c.fields.joined(separator: ",")]
            let jqArgs = ["-c", c.jqProgram, input]
            // Check run (also the warm-up): both outputs must agree.
            let heraldOut = dir + "/herald.out"
            let jqOut = dir + "/jq.out"
            let h = try Child.run(herald, heraldArgs, stdout: heraldOut, stderr: dir + "/herald.err")
            guard h.status == 0 else {
                throw BenchError("herald \(heraldArgs.joined(separator: " ")) failed (\(h.status)): \(tail(dir + "/herald.err"))")
            }
            let j = try Child.run(jqPath, jqArgs, stdout: jqOut, stderr: dir + "/jq.err")
            guard j.status == 0 else { throw BenchError("jq failed (\(j.status)): \(tail(dir + "/jq.err"))") }
            let (kept, agreement) = try compareOutputs(heraldOut, jqOut, label: c.label)
            try? FileManager.default.removeItem(atPath: heraldOut)
            try? FileManager.default.removeItem(atPath: jqOut)

            var heraldTimes: [Double] = []
            var jqTimes: [Double] = []
            var heraldCPU: [Double] = []
            var jqCPU: [Double] = []
            var heraldRSS = h.peakRSSMiB
            var jqRSS = j.peakRSSMiB
            for r in 0..<runs {
                // Alternate the two so that a noisy neighbour hurts both alike.
                let hr = try Child.run(herald, heraldArgs, stdout: "/dev/null", stderr: dir + "/herald.err")
                let jr = try Child.run(jqPath, jqArgs, stdout: "/dev/null", stderr: dir + "/jq.err")
                guard hr.status == 0, jr.status == 0 else {
                    throw BenchError("run \(r + 1) failed: herald \(hr.status), jq \(jr.status)")
                }
                heraldTimes.append(hr.seconds)
                jqTimes.append(jr.seconds)
                heraldCPU.append(hr.userSeconds + hr.systemSeconds)
                jqCPU.append(jr.userSeconds + jr.systemSeconds)
                heraldRSS = max(heraldRSS, hr.peakRSSMiB)
                jqRSS = max(jqRSS, jr.peakRSSMiB)
                say(
                    "  run \(r + 1): herald \(String(format: "%.3f", hr.seconds)) s (user \(String(format: "%.2f", hr.userSeconds)), sys \(String(format: "%.2f", hr.systemSeconds))), jq \(String(format: "%.3f", jr.seconds)) s (user \(String(format: "%.2f", jr.userSeconds)), sys \(String(format: "%.2f", jr.systemSeconds)))"
                )
            }
            let hs = Summary(values: heraldTimes.map { Double(entities) / $0 })
            let js = Summary(values: jqTimes.map { Double(entities) / $0 })
            let megabytes = Double(bytes) / 1e6
            writer.emit(
                scenario: "herald filter apply vs jq: \(c.label)",
                parameters: [
                    "filter": c.filter, "fields": c.fields.joined(separator: ","), "jq": "jq -c '\(c.jqProgram)'", "jqVersion": jqVersion,
                    "entities": String(entities), "bytesPerRecord": String(bytesPerRecord), "kept": String(kept),
                    "runs": String(runs), "outputs": agreement,
                ],
                figures: [
                    ("herald records/s (median)", hs.median, "/s"), ("herald records/s (min)", hs.min, "/s"),
                    ("herald records/s (max)", hs.max, "/s"), ("herald MB/s (median)", hs.median / Double(entities) * megabytes, "MB/s"),
                    ("jq records/s (median)", js.median, "/s"), ("jq records/s (min)", js.min, "/s"),
                    ("jq records/s (max)", js.max, "/s"), ("jq MB/s (median)", js.median / Double(entities) * megabytes, "MB/s"),
                    ("ratio herald/jq (records/s)", hs.median / max(js.median, 1e-9), "x"),
                    // CPU time (user + system) is less disturbed than wall time by other work on the machine.
                    ("herald CPU s/run (median)", Summary(values: heraldCPU).median, "s"),
                    ("jq CPU s/run (median)", Summary(values: jqCPU).median, "s"),
                    ("ratio herald/jq (CPU time)", Summary(values: jqCPU).median / max(Summary(values: heraldCPU).median, 1e-9), "x"),
                    ("herald peak RSS", heraldRSS, "MiB"), ("jq peak RSS", jqRSS, "MiB"),
                ])
        }
    }

    func resolveJQ() throws -> String {
        if let jq { return jq }
        if let path = ProcessInfo.processInfo.environment["JQ"], !path.isEmpty { return path }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/jq"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw BenchError("jq is not installed (apt-get install jq, or set JQ=/path/to/jq)")
    }

    /// Sample people through the ingest rules (as `FilterRenderScenario.sampleRecords`), rendered in the
    /// API form, one per line. Returns the file's size in bytes.
    func writeEntities(to path: String) throws -> Int {
        let schema = try FilterRenderScenario.demoSchema(packageRoot: packageRoot)
        let ingestor = EntityIngestor(schema: schema)
        var ids = IDGenerator(seed: 1)
        guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path)") }
        defer { fclose(file) }
        var options = SampleDataGenerator.Options()
        options.people = entities
        options.duplicateRate = 0
        options.seed = 7
        var w = JSONWriter(capacity: 1 << 20)
        var total = 0
        var index = 0
        var failure: Error?
        func flush() {
            w.bytes.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, file) }
            total += w.bytes.count
            w.reset()
        }
        SampleDataGenerator(options: options).generate { record in
            guard failure == nil else { return }
            do {
                let input = try EntityInput(json: try JSONParser.parse(record.json), schema: schema, at: JSONPath.root + 0)
                let outcome = try ingestor.apply(
                    input, to: nil, newEntityId: ids.entityId(), now: 1_795_000_000_000 + Int64(index), user: "bench",
                    ids: &ids, at: JSONPath.root + 0)
                w.reset(keepingContent: true)
                outcome.entity.render(into: &w)
                w.bytes.append(0x0A)
                index += 1
                if w.bytes.count >= 1 << 20 { flush() }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        flush()
        return total
    }

    /// Compares herald's and jq's outputs line by line: byte for byte, else after sorting object keys.
    /// Returns the number of lines and how they agreed; throws when they differ.
    func compareOutputs(_ heraldPath: String, _ jqPath: String, label: String) throws -> (Int, String) {
        let a = try lines(heraldPath)
        let b = try lines(jqPath)
        guard a.count == b.count else {
            throw BenchError("\(label): herald kept \(a.count) records, jq \(b.count): the two programs disagree")
        }
        var identical = 0
        for (i, (x, y)) in zip(a, b).enumerated() {
            if x == y {
                identical += 1
                continue
            }
            let cx = JQScenario.canonical(try JSONParser.parse(Array(x)))
            let cy = JQScenario.canonical(try JSONParser.parse(Array(y)))
            guard cx == cy else {
                throw BenchError(
                    "\(label): output line \(i + 1) differs\n  herald: \(String(decoding: x.prefix(600), as: UTF8.self))\n  jq:     \(String(decoding: y.prefix(600), as: UTF8.self))"
                )
            }
        }
        return (a.count, identical == a.count ? "identical bytes" : "equal after sorting keys (\(identical) of \(a.count) lines byte-identical)")
    }

    private func lines(_ path: String) throws -> [ArraySlice<UInt8>] {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("cannot read \(path)") }
        return [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: true)
    }

    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let elements): return .array(elements.map(canonical))
        case .object(let members):
            return .object(members.map { JSONMember(key: $0.key, value: canonical($0.value)) }.sorted { $0.key < $1.key })
        default: return value
        }
    }

    private func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }
}

/// A child process run to completion with its wall time, CPU time and peak memory.
struct Child {
    var status: Int32
    var seconds: Double
    var userSeconds: Double
    var systemSeconds: Double
    /// Peak resident set size of the child (VmHWM), sampled every few milliseconds while it runs.
    ///
    /// Not `ru_maxrss` from `wait4`: on Linux a child started with posix_spawn (or fork) inherits the
    /// parent's high-water mark at exec, so it reports at least this process's own RSS.
    var peakRSSMiB: Double

    /// Runs `path` with standard input from /dev/null and standard output and error to files.
    static func run(_ path: String, _ arguments: [String], stdout: String, stderr: String) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let start = monotonicSeconds()
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
        let sampler = PeakSampler(pid: pid)
        sampler.start()
        // Wait for the exit but leave the child unreaped, so that its pid cannot be reused while
        // the sampler still reads /proc/<pid>.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 {
            guard errno == EINTR else { throw BenchError("waitid: \(String(cString: strerror(errno)))") }
        }
        let elapsed = monotonicSeconds() - start
        let peak = sampler.stop()
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchError("wait4: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS, else 128 + the signal.
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return Child(
            status: code, seconds: elapsed, userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime),
            peakRSSMiB: peak)
    }
}

/// Reads a process's VmHWM every 5 ms on a thread of its own.
private final class PeakSampler: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var stopping = false
    private var peak = 0.0
    private let done = DispatchSemaphore(value: 0)

    init(pid: pid_t) { self.pid = pid }

    func start() {
        Thread { [self] in
            while !lock.withLock({ stopping }) {
                let p = ProcessMemory.read(pid: pid).peak
                lock.withLock { peak = max(peak, p) }
                usleep(5_000)
            }
            done.signal()
        }.start()
    }

    /// Stops sampling and returns the highest VmHWM seen, in MiB.
    func stop() -> Double {
        // A last look: an exited child that is not reaped yet has no VmHWM any more, which reads as 0.
        let last = ProcessMemory.read(pid: pid).peak
        lock.withLock { stopping = true }
        done.wait()
        return lock.withLock { max(peak, last) }
    }
}
