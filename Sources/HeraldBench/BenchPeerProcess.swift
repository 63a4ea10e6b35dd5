import Foundation
import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import Logging

/// A peer program herald-bench runs as a child (the Kafka mock cluster, the SQS endpoint): it
/// prints one line when it is ready, answers commands written to its stdin one line each, and
/// exits when its stdin closes, so it never outlives the benchmark.
final class BenchPeerProcess {
    let name: String
    let process = Process()
    let input: FileHandle
    let output: FileHandle
    /// The first line the peer printed (its address).
    private(set) var ready = ""
    private var buffer = Data()

    init(
        name: String, binary: String, arguments: [String], environment: [String: String] = [:],
        standardError: FileHandle = .nullDevice
    ) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: binary)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.arguments = arguments
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = standardError
        try process.run()
        input = stdinPipe.fileHandleForWriting
        output = stdoutPipe.fileHandleForReading
        ready = try readLine()
    }

    func readLine() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = output.availableData
            if chunk.isEmpty { throw BenchError("the \(name) closed its output (exited?)") }
            buffer.append(chunk)
        }
    }

    /// Writes one command line and returns the peer's one-line answer.
    func ask(_ line: String) throws -> String {
        input.write(Data((line + "\n").utf8))
        return try readLine()
    }

    /// User + system CPU time the peer has used so far (/proc/PID/stat).
    var cpuSeconds: Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Closes the peer's stdin (it exits on its own), then SIGTERM after `grace` seconds and
    /// SIGKILL after as many again; `terminateAtOnce` sends SIGTERM right after closing stdin.
    func stop(grace: Double, terminateAtOnce: Bool = false) {
        guard process.isRunning else { return }
        try? input.close()
        if terminateAtOnce { kill(process.processIdentifier, SIGTERM) }
        for signal in [SIGTERM, SIGKILL] {
            let deadline = monotonicSeconds() + grace
            while process.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
            if !process.isRunning { break }
            kill(process.processIdentifier, signal)
        }
        process.waitUntilExit()
    }
}

/// The first `name` in a directory of PATH, then /usr/local/bin and /usr/bin.
func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    let directories: [String] = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin"]
    for dir in directories {
        let candidate = dir + "/" + name
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Compiles a benchmark peer's C `source` into `directory` under the temporary directory, once per
/// version of the source (named after its hash; built under a unique name, then renamed, so that
/// parallel runs never see half a binary). Returns the path of the program or library.
func buildCProgramOnce(
    cc: String, directory: String, name: String, suffix: String, source: [UInt8], flags: [String],
    libraries: [String], failure: String
) throws -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in source { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
    let dir = NSTemporaryDirectory() + directory
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let out = dir + "/\(name)-\(String(hash, radix: 16))\(suffix)"
    if FileManager.default.fileExists(atPath: out) { return out }
    let sourceFile = dir + "/\(name)-\(getpid()).c"
    _ = FileManager.default.createFile(atPath: sourceFile, contents: Data(source))
    defer { try? FileManager.default.removeItem(atPath: sourceFile) }
    let partial = out + ".\(getpid()).tmp"
    let r = try runAndCapture(cc, flags + ["-o", partial, sourceFile] + libraries)
    guard r.status == 0 else { throw BenchError("\(failure): \(r.output)") }
    guard rename(partial, out) == 0 else { throw BenchError("cannot rename \(partial): errno \(errno)") }
    return out
}

/// Sample people rendered as a destination of `destination`'s shape would send them (its payload
/// type, format and `payloadFields`; all headers), for the sink benchmarks.
func renderSampleMessages(count: Int, packageRoot: String, destination: DestinationConfiguration) throws
    -> [OutboundMessage]
{
    let records = try FilterRenderScenario.sampleRecords(count, packageRoot: packageRoot)
    let renderer = PayloadRenderer(
        tenant: "demo", destination: destination, streaming: StreamingConfiguration(), maxMessageBytes: 0)
    var out: [OutboundMessage] = []
    out.reserveCapacity(records.count)
    for r in records {
        let e = try r.event.entity()
        guard case .message(let m) = renderer.render(r, entity: e, delta: r.event.delta(for: e)) else {
            throw BenchError("sample event \(r.seq) did not render")
        }
        out.append(OutboundMessage(message: m, attempt: 1))
    }
    return out
}

/// Loads a sink plugin's `.so` through `PluginRegistry`, as the daemon does: a manifest for it in
/// `scratch/plugins`.
func loadSinkPlugin(name: String, library: String, scratch: String) throws -> LoadedPlugin {
    let dir = scratch + "/plugins"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let manifest = "{\"name\": \"\(name)\", \"library\": \"\(library)\", \"abi\": \"1.0\"}"
    try manifest.write(toFile: dir + "/\(name).json", atomically: true, encoding: .utf8)
    let registry = PluginRegistry(directories: [dir])
    registry.scan()
    switch registry.plugin(named: name) {
    case .success(let p): return p
    case .failure(let e): throw BenchError("cannot load the \(name) sink plugin (\(library)): \(e.message)")
    }
}

/// Times one sink plugin as the daemon drives it: a sink from `config` (in process, or in `herald sink-host` with
/// `isolation: .process`), `total` messages (cycling through `pool`) sent in batches of `batch` (capped by the
/// plugin's limits) with up to `inFlight` outstanding, continuously or in the delivery worker's windows (see
/// `SinkDriver.send`). With `timeCreate` the clock starts before the instance is created (like a producer process
/// timed from its start). Every message must complete OK. `childCPUSeconds`: the CPU time of the sink's child
/// process (0 in process), counted once it has been reaped.
func timeSinkInProcess(
    _ plugin: LoadedPlugin, sink: String, config: String, destination: String, pool: [OutboundMessage], total: Int,
    batch: Int, inFlight: Int, windowed: Bool, timeCreate: Bool, isolation: SinkIsolationMode = .inProcess,
    afterSending: (any SinkHandle) -> Void = { _ in }
) throws -> (seconds: Double, cpuSeconds: Double, childCPUSeconds: Double) {
    var logger = Logger(label: "herald-bench.\(sink)")
    logger.logLevel = .warning
    var cpu = processCPUSeconds()
    let childCPU = childrenCPUSeconds()
    var start = monotonicSeconds()
    let instance = try SinkFactory.make(
        plugin: plugin, alias: "bench-\(sink)", destination: destination, config: config, logger: logger, isolation: isolation)
    var destroyed = false
    defer { if !destroyed { instance.destroy() } }
    if !timeCreate {
        cpu = processCPUSeconds()
        start = monotonicSeconds()
    }
    let limits = instance.limits
    let batch = max(1, min(batch, limits.maxBatchMessages))
    let inFlight = max(1, min(inFlight, limits.maxInFlight))
    let tally = try blockingAwait {
        await SinkDriver.send(
            instance: instance, topic: destination, pool: pool, total: total, batch: batch, inFlight: inFlight,
            window: windowed ? batch * inFlight : total)
    }
    let elapsed = monotonicSeconds() - start
    let used = processCPUSeconds() - cpu
    afterSending(instance)
    instance.destroy()
    destroyed = true
    guard tally.ok == total else {
        throw BenchError(
            "the \(sink) sink completed \(tally.ok) of \(total) messages OK; \(tally.failed) failed, first: \(tally.firstError ?? "?")"
        )
    }
    return (elapsed, used, childrenCPUSeconds() - childCPU)
}

/// CPU time (user + system) of this process's children that have been reaped.
func childrenCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Drives a sink instance in process the way the delivery worker does (shared by the sink scenarios).
enum SinkDriver {
    struct Tally: Sendable {
        var ok = 0
        var failed = 0
        var firstError: String?
    }

    /// Sends `total` messages (cycling through `pool`) the way `DestinationWorker.send` does: the
    /// messages of each window are cut into batches, up to `inFlight` outstanding; the next window
    /// starts once every batch of this one has completed.
    static func send(
        instance: any SinkHandle, topic: String, pool: [OutboundMessage], total: Int, batch: Int, inFlight: Int,
        window: Int
    ) async -> Tally {
        var tally = Tally()
        var windowStart = 0
        while windowStart < total {
            let windowEnd = min(total, windowStart + window)
            var batches: [Range<Int>] = []
            var b = windowStart
            while b < windowEnd {
                batches.append(b..<min(windowEnd, b + batch))
                b += batch
            }
            await withTaskGroup(of: Tally.self) { group in
                var next = 0
                var running = 0
                while next < batches.count || running > 0 {
                    while running < inFlight && next < batches.count {
                        let slice = batches[next].map { pool[$0 % pool.count] }
                        group.addTask {
                            let results = await instance.send(
                                destination: topic, messages: slice, ordered: false, timeout: .seconds(30))
                            var t = Tally()
                            for r in results {
                                if r.status == .ok {
                                    t.ok += 1
                                } else {
                                    t.failed += 1
                                    if t.firstError == nil { t.firstError = "\(r.status): \(r.error ?? "")" }
                                }
                            }
                            return t
                        }
                        next += 1
                        running += 1
                    }
                    if let t = await group.next() {
                        running -= 1
                        tally.ok += t.ok
                        tally.failed += t.failed
                        if tally.firstError == nil { tally.firstError = t.firstError }
                    }
                }
            }
            windowStart = windowEnd
        }
        return tally
    }
}
