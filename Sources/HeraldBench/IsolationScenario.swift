import Foundation
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
        var out: [(String, Double, String)] = []
        for sink in sinks {
            let inProcess = figures["\(sink) inProcess"] ?? Figures()
            let process = figures["\(sink) process"] ?? Figures()
            let a = Summary(values: inProcess.rates).median
            let b = Summary(values: process.rates).median
            out += [
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
        writer.emit(
            scenario: "Sink isolation: in process vs herald sink-host",
            parameters: [
                "messages": "\(messages) (test sink: \(testMessages))", "runs": String(runs), "batch": String(batchMessages),
                "maxInFlight": String(maxInFlight), "bodyBytes": String(bodyBytes),
                "sinks": "C test sink (completes at once); Kafka sink into librdkafka's mock cluster (1 broker, \(kafka.partitions) partitions)",
            ],
            figures: out)
    }
}
