import Foundation
import HeraldJSON
import HeraldPlugins

/// The cost of `isolation: "process"`: the same sink and load in process and in `herald sink-host`, in one run.
///
/// - the C test sink completing every batch at once (`libherald-sink-test.so`): the channel's cost alone;
/// - the Kafka sink into librdkafka's mock cluster, the setup of the kcat comparison (KafkaScenario).
///
/// Both are driven as the daemon drives a sink (`timeSinkInProcess`): the rendered sample messages, batches of
/// `batchMessages`, `maxInFlight` outstanding, every message OK. Runs alternate the two isolations, so that load
/// from elsewhere on the machine hits both alike. CPU is reported per message for the daemon's side (this
/// process) and the child's (reaped children's rusage).
struct IsolationScenario {
    var packageRoot: String
    var binDirectory: String
    var messages: Int
    var runs: Int
    var batchMessages = 500
    var maxInFlight = 4
    /// Which sinks (HERALD_BENCH_ISOLATION_SINKS=test to profile the channel alone).
    /// The test sink is fast: five times the messages, so that a run lasts long enough to time.
    var testMessages: Int { messages * 5 }
    var sinks = (ProcessInfo.processInfo.environment["HERALD_BENCH_ISOLATION_SINKS"] ?? "test,kafka").split(separator: ",").map(String.init)

    struct Figures {
        var rates: [Double] = []
        var cpu: [Double] = []
        var childCPU: [Double] = []
        /// The child's resident and virtual size (MiB) after the run, before it stops.
        var childRSS: [Double] = []
        var childVirtual: [Double] = []
    }

    var neighbourEvents: Int { max(2_000, messages / 4) }

    /// The healthy destination's drain rate in a `herald serve`, alone and beside a destination whose sink process
    /// crashes on every second batch (restarting after 50 ms): what a crash loop costs the others.
    func neighbourDrain() throws -> (alone: Double, beside: Double, restarts: Int) {
        let plugins = try benchPluginDirectory(binDirectory: binDirectory)
        let herald = binDirectory + "/herald"
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: neighbourEvents, batch: 100, connections: 4, runs: 1,
            synchronous: "FULL")
        let bodies = ingest.makeBodies(IngestScenario.people(neighbourEvents, seed: 7))
        func streaming(enabled: Bool, neighbour: Bool) -> String {
            let bad = #", "bad": {"plugin": "test", "isolation": "process", "process": {"restartBackoffMs": {"initial": 50, "max": 50}}, "config": {"crashOnBatch": 2}}"#
            let badDestination =
                #", {"provider": "bad", "name": "crashing", "enabled": \#(enabled), "batch": {"maxMessages": 100, "lingerMs": 5}, "retry": {"initialDelayMs": 10, "maxDelayMs": 100, "maxAttempts": 100000}}"#
            return """
                {"messaging": {"providers": {"null": {"plugin": "test", "isolation": "inProcess", "config": {"async": false, "maxBatchMessages": 1000}}\(neighbour ? bad : "")},
                 "destinations": [{"provider": "null", "name": "healthy", "enabled": \(enabled), "startFrom": "beginning",
                                   "batch": {"maxMessages": 500, "maxInFlight": 4, "lingerMs": 5}}\(neighbour ? badDestination : "")]}}
                """
        }
        var rates: [Double] = []
        var restarts = 0
        for neighbour in [false, true] {
            let server = try ServerUnderTest(
                herald: herald, packageRoot: packageRoot, pluginDirectory: plugins, streaming: streaming(enabled: false, neighbour: neighbour))
            defer { server.stop() }
            try ingest.post(bodies, to: server.baseURL, connections: 4)
            try server.writeConfig(streaming: streaming(enabled: true, neighbour: neighbour))
            let start = monotonicSeconds()
            server.reload()
            let deadline = start + 120
            while true {
                let healthy = try server.streamingStatus().first { $0["name"]?.stringValue == "healthy" }
                if (healthy?["cursor"]?.int64Value ?? 0) >= Int64(neighbourEvents) { break }
                guard monotonicSeconds() < deadline else {
                    throw BenchError("the healthy destination did not reach seq \(neighbourEvents) within 120 s\n\(server.logTail)")
                }
                usleep(20_000)
            }
            rates.append(Double(neighbourEvents) / (monotonicSeconds() - start))
            if neighbour {
                let crashing = try server.streamingStatus().first { $0["name"]?.stringValue == "crashing" }
                restarts = Int(crashing?["sinkProcess"]?["restarts"]?.int64Value ?? 0)
                guard restarts > 0 else { throw BenchError("the crashing neighbour never restarted:\n\(server.logTail)") }
            }
        }
        return (rates[0], rates[1], restarts)
    }

    /// VmRSS and VmSize of a process, in MiB.
    static func memory(of pid: pid_t) -> (rss: Double, virtual: Double) {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
            else { return 0 }
            return kb / 1024
        }
        return (field("VmRSS"), field("VmSize"))
    }

    func run(writer: ResultWriter) throws {
        let tools = try KafkaBenchTools.locate(packageRoot: packageRoot, binDirectory: binDirectory)
        SinkHostExecutable.use(binDirectory + "/herald")
        let kafka = KafkaScenario(packageRoot: packageRoot, binDirectory: binDirectory, messages: messages, runs: runs)
        let pool = try kafka.renderMessages(count: min(messages, kafka.distinct))
        let cluster = try BenchMockCluster(
            binary: tools.mockCluster, brokers: 1,
            environment: ["LD_PRELOAD": try KafkaBenchTools.buildNoDelayShim(cc: tools.cc)])
        defer { cluster.stop() }
        let registry = PluginRegistry(directories: [tools.pluginDirectory])
        registry.scan()
        guard case .success(let kafkaPlugin) = registry.plugin(named: "kafka") else {
            throw BenchError("cannot load the Kafka sink plugin from \(tools.pluginDirectory)")
        }
        let testPlugin: LoadedPlugin
        do {
            testPlugin = try PluginLoader.load(library: binDirectory + "/libherald-sink-test.so")
        } catch {
            throw BenchError("cannot load the C test sink (\(binDirectory)/libherald-sink-test.so): \(error.message)")
        }
        let bodyBytes = pool.reduce(0) { $0 + $1.message.body.count } / max(1, pool.count)
        say("  isolation: \(messages) messages of ~\(bodyBytes) B per run, batches of \(batchMessages), \(maxInFlight) in flight")

        var figures: [String: Figures] = [:]
        var topic = 0
        for runIndex in 0...runs {
            var line: [String] = []
            for sink in sinks {
                for isolation in [SinkIsolationMode.inProcess, .process] {
                    let t: (seconds: Double, cpuSeconds: Double, childCPUSeconds: Double)
                    var childMemory = (rss: 0.0, virtual: 0.0)
                    let probe: (any SinkHandle) -> Void = { sink in
                        if let pid = (sink as? ProcessSink)?.childPID { childMemory = Self.memory(of: pid) }
                    }
                    if sink == "kafka" {
                        topic += 1
                        let name = "bench-isolation-\(topic)"
                        try cluster.command("topic \(name) \(kafka.partitions)")
                        t = try timeSinkInProcess(
                            kafkaPlugin, sink: "kafka", config: #"{"bootstrapServers": "\#(cluster.bootstrap)"}"#, destination: name,
                            pool: pool, total: messages, batch: batchMessages, inFlight: maxInFlight, windowed: false,
                            timeCreate: false, isolation: isolation, afterSending: probe)
                        let delivered = try kafka.endOffsets(tools.kcat, bootstrap: cluster.bootstrap, topic: name)
                        guard delivered == messages else {
                            throw BenchError("kafka \(isolation): topic \(name) holds \(delivered) records, expected \(messages)")
                        }
                    } else {
                        t = try timeSinkInProcess(
                            testPlugin, sink: "test", config: #"{"maxBatchMessages": \#(batchMessages), "maxInFlight": \#(maxInFlight)}"#,
                            destination: "bench", pool: pool, total: testMessages, batch: batchMessages, inFlight: maxInFlight,
                            windowed: false, timeCreate: false, isolation: isolation, afterSending: probe)
                    }
                    let sent = sink == "test" ? testMessages : messages
                    let rate = Double(sent) / t.seconds
                    line.append("\(sink) \(isolation.rawValue) \(Int(rate)) msg/s")
                    if runIndex > 0 {
                        let key = "\(sink) \(isolation.rawValue)"
                        figures[key, default: Figures()].rates.append(rate)
                        figures[key, default: Figures()].cpu.append(t.cpuSeconds / Double(sent) * 1e6)
                        figures[key, default: Figures()].childCPU.append(t.childCPUSeconds / Double(sent) * 1e6)
                        figures[key, default: Figures()].childRSS.append(childMemory.rss)
                        figures[key, default: Figures()].childVirtual.append(childMemory.virtual)
                    }
                }
            }
            say("  \(runIndex == 0 ? "warm-up" : "run \(runIndex)"): " + line.joined(separator: ", "))
        }
        // 3. A healthy destination beside a crash-looping one, in the daemon.
        let neighbour = try neighbourDrain()
        var out: [(String, Double, String)] = [
            ("healthy drain alone", neighbour.alone, "events/s"),
            ("healthy drain beside crash loop", neighbour.beside, "events/s"),
            ("ratio beside/alone", neighbour.beside / max(1, neighbour.alone), "x"),
            ("crash-looping child restarts", Double(neighbour.restarts), "restarts"),
        ]
        for sink in sinks {
            let inProcess = figures["\(sink) inProcess"] ?? Figures()
            let process = figures["\(sink) process"] ?? Figures()
            let a = Summary(values: inProcess.rates).median
            let b = Summary(values: process.rates).median
            // Each run's process rate against the in-process rate just before it (the same load from elsewhere).
            let paired = Summary(values: zip(process.rates, inProcess.rates).map { $0 / max(1, $1) })
            say(
                "  \(sink): process/in process by run " + paired.values.map { String(format: "%.2f", $0) }.joined(separator: ", "))
            out += [
                ("\(sink) paired ratio (median)", paired.median, "x"),
                ("\(sink) in process msgs/s (median)", a, "msg/s"),
                ("\(sink) process msgs/s (median)", b, "msg/s"),
                ("\(sink) process msgs/s (min)", Summary(values: process.rates).min, "msg/s"),
                ("\(sink) ratio process/in process", b / max(1, a), "x"),
                ("\(sink) in process CPU/msg", Summary(values: inProcess.cpu).median, "µs"),
                ("\(sink) process CPU/msg, daemon", Summary(values: process.cpu).median, "µs"),
                ("\(sink) process CPU/msg, child", Summary(values: process.childCPU).median, "µs"),
                ("\(sink) child resident memory", Summary(values: process.childRSS).median, "MiB"),
                ("\(sink) child virtual size", Summary(values: process.childVirtual).median, "MiB"),
            ]
        }
        say("  healthy destination: \(Int(neighbour.alone)) events/s alone, \(Int(neighbour.beside)) events/s beside a child that segfaults on every 2nd batch (\(neighbour.restarts) restarts)")
        writer.emit(
            scenario: "Sink isolation: in process vs herald sink-host",
            parameters: [
                "messages": "\(messages) (test sink: \(testMessages))", "runs": String(runs), "batch": String(batchMessages),
                "maxInFlight": String(maxInFlight), "bodyBytes": String(bodyBytes),
                "sinks": "C test sink (completes at once); Kafka sink into librdkafka's mock cluster (1 broker, \(kafka.partitions) partitions)",
                "neighbour": "\(neighbourEvents) people queued, then a healthy destination (C test sink in process) drained alone and beside a destination whose child segfaults on every 2nd batch",
            ],
            figures: out)
    }
}
