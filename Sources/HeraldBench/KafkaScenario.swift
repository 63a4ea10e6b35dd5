import Dispatch
import Foundation
import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import Logging

/// Herald's Kafka sink against `kcat -P`, the reference producer, into the same librdkafka mock
/// cluster (Tests/Fixtures/kafka-mock/mock_cluster.c, a separate process on 127.0.0.1).
///
/// Both sides produce the same N messages — sample people rendered by `PayloadRenderer` (SNAPSHOT,
/// JSON), the entity URI as key — with the librdkafka properties the sink sets by default
/// (`sinkDefaults`: acks=all, enable.idempotence=true, message.timeout.ms=25000, linger.ms=1; on
/// both, librdkafka's defaults for the rest: batch.size, batch.num.messages, no compression,
/// consistent_random partitioner), each run to a fresh topic with the same partitions. Both are timed from producer creation to the last
/// acknowledgement: kcat from spawn to exit (it flushes before exiting); Herald from creating the
/// plugin instance to the last batch completion.
///
/// Herald's side is the daemon's host code in process: the plugin `.so` loaded through
/// `PluginRegistry` from a manifest, a `SinkInstance`, batches sent as `DestinationWorker.send`
/// does (batches of `batchMessages`, up to `maxInFlight` outstanding), in two shapes:
/// - "continuous": a new batch goes out as soon as one completes (the sink's capacity);
/// - "windowed": like the delivery worker today, which reads a window of `batchMessages ×
///   maxInFlight` events, sends it and waits for every result before reading the next window.
/// Every message must complete OK, and each topic's end offsets must add up to N.
///
/// Runs alternate kcat and Herald so that load from elsewhere on the machine hits both alike.
struct KafkaScenario {
    var packageRoot: String
    var binDirectory: String
    var messages: Int
    var runs: Int
    var partitions: Int = 6
    var brokers: Int = 1
    var batchMessages: Int = 500
    var maxInFlight: Int = 4
    /// Distinct rendered messages, cycled through (keys repeat after this many).
    var distinct: Int = 10_000
    /// Give the mock brokers' connections TCP_NODELAY, as Kafka brokers do (`Acceptor.accept` sets
    /// it on every connection). librdkafka's mock cluster does not: its responses then wait for the
    /// client's delayed ACK (~40 ms) whenever few requests are outstanding, which caps a producer
    /// that keeps a few thousand messages in flight (Herald) far below one that queues 100,000 (kcat).
    var brokerNoDelay = true
    /// linger.ms for both producers (nil: the sink's default, in `sinkDefaults`).
    var lingerMs: Int?

    /// What `KafkaConfig.librdkafkaProperties` sets for a configuration with only
    /// `bootstrapServers` (Plugins/kafka/KafkaConfig.swift; keep the two in step): kcat gets the same.
    static let sinkDefaults: [(String, String)] = [
        ("acks", "all"), ("enable.idempotence", "true"), ("message.timeout.ms", "25000"), ("linger.ms", "1"),
    ]

    /// The librdkafka properties both producers run with.
    var producerProperties: [(String, String)] {
        KafkaScenario.sinkDefaults.map { name, value in
            (name, name == "linger.ms" ? lingerMs.map(String.init) ?? value : value)
        }
    }
    /// The destination's `payloadFields`: eight simple attributes of the sample people give bodies
    /// of ~1.5 KB (nil: the full snapshot, ~9 KB, two thirds of it the crosswalks' attribute URIs).
    var payloadFields: [String]? = [
        "uri", "type", "updatedTime", "attributes.FirstName", "attributes.MiddleName", "attributes.LastName",
        "attributes.Gender", "attributes.BirthDate", "attributes.Email", "attributes.Occupation", "attributes.Employer",
    ]

    /// What one producing run measured.
    struct RunFigures {
        var seconds: Double
        /// CPU time (user + system) of the producing process: kcat, or herald-bench for Herald.
        var cpuSeconds: Double
        /// CPU time of the mock cluster during the run.
        var brokerCPUSeconds: Double = 0
    }

    enum Side: String, CaseIterable {
        case kcat
        case continuous = "herald continuous"
        case windowed = "herald windowed"
    }

    func run(writer: ResultWriter) throws {
        let tools = try KafkaBenchTools.locate(packageRoot: packageRoot, binDirectory: binDirectory)
        let pool = try renderMessages(count: min(max(1, messages), distinct))
        let valueBytes = pool.reduce(0) { $0 + $1.message.body.count } / pool.count
        let keyBytes = pool.reduce(0) { $0 + $1.message.key.utf8.count } / pool.count
        let headerBytes =
            pool.reduce(0) { $0 + $1.message.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count } }
            / pool.count
        let messageBytes = Double(valueBytes + keyBytes + headerBytes)

        // kcat's input: KEY:VALUE lines, the same messages in the same order. kcat takes headers
        // from the command line only (the same for every message): the first message's six
        // headers, so that each record carries as many header bytes as Herald's.
        let scratch = NSTemporaryDirectory() + "herald-bench-kafka-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let input = scratch + "/messages.txt"
        try writeKcatInput(pool: pool, to: input)
        let kcatHeaders = pool[0].message.headers.flatMap { ["-H", "\($0.name)=\($0.value)"] }

        let noDelayLog = scratch + "/nodelay.log"
        var environment: [String: String] = [:]
        if brokerNoDelay {
            environment["LD_PRELOAD"] = try KafkaBenchTools.buildNoDelayShim(cc: tools.cc)
            environment["HERALD_BENCH_NODELAY_LOG"] = noDelayLog
        }
        let cluster = try BenchMockCluster(binary: tools.mockCluster, brokers: brokers, environment: environment)
        defer { cluster.stop() }
        let registry = PluginRegistry(directories: [tools.pluginDirectory])
        registry.scan()
        let plugin: LoadedPlugin
        switch registry.plugin(named: "kafka") {
        case .success(let p): plugin = p
        case .failure(let e): throw BenchError("cannot load the Kafka sink plugin: \(e.message)")
        }
        say(
            "  kafka: \(messages) messages of ~\(valueBytes) B (value) + \(keyBytes) B key + \(headerBytes) B headers, \(partitions) partitions, \(brokers) broker(s), mock cluster at \(cluster.bootstrap)"
        )

        var figures: [Side: [RunFigures]] = [:]
        var topicIndex = 0
        ProcessMemory.resetOwnPeak()
        let baselineRSS = ProcessMemory.read(pid: getpid()).current
        for runIndex in 0...runs {
            let label = runIndex == 0 ? "warm-up" : "run \(runIndex)"
            var line: [String] = []
            var seconds: [Side: Double] = [:]
            for side in Side.allCases {
                topicIndex += 1
                let topic = "bench-\(side == .kcat ? "kcat" : "herald")-\(topicIndex)"
                try cluster.command("topic \(topic) \(partitions)")
                var f: RunFigures
                let brokerCPU = cluster.cpuSeconds
                switch side {
                case .kcat:
                    f = try runKcat(
                        tools.kcat, bootstrap: cluster.bootstrap, topic: topic, input: input, headers: kcatHeaders)
                case .continuous, .windowed:
                    f = try runHerald(
                        plugin, bootstrap: cluster.bootstrap, topic: topic, pool: pool, windowed: side == .windowed)
                }
                f.brokerCPUSeconds = cluster.cpuSeconds - brokerCPU
                let delivered = try endOffsets(tools.kcat, bootstrap: cluster.bootstrap, topic: topic)
                guard delivered == messages else {
                    throw BenchError(
                        "\(side.rawValue) (\(label)): topic \(topic) holds \(delivered) records, expected \(messages)")
                }
                if brokerNoDelay && !FileManager.default.fileExists(atPath: noDelayLog) {
                    throw BenchError(
                        "the mock cluster's connections did not get TCP_NODELAY (the LD_PRELOAD shim did not run)")
                }
                if runIndex > 0 { figures[side, default: []].append(f) }
                line.append("\(side.rawValue) \(Int(Double(messages) / f.seconds)) msg/s")
                seconds[side] = f.seconds
            }
            // Paired with the kcat run just before it (same load from elsewhere on the machine).
            let paired = (seconds[.kcat] ?? 0) / (seconds[.continuous] ?? 1)
            say("  \(label): " + line.joined(separator: ", ") + String(format: " (herald/kcat %.2f)", paired))
        }

        let memory = ProcessMemory.read(pid: getpid())
        topicIndex += 1
        let daemon = try daemonDrain(tools: tools, cluster: cluster, topic: "bench-daemon-\(topicIndex)")
        say("  through the daemon: \(Int(daemon.rate)) events/s (render + delivery engine + sink)")
        func rates(_ side: Side) -> Summary {
            Summary(values: figures[side, default: []].map { Double(messages) / $0.seconds })
        }
        func cpuPerMessage(_ side: Side) -> Double {
            Summary(values: figures[side, default: []].map { $0.cpuSeconds / Double(messages) * 1e6 }).median
        }
        func brokerCPUPerMessage(_ side: Side) -> Double {
            Summary(values: figures[side, default: []].map { $0.brokerCPUSeconds / Double(messages) * 1e6 }).median
        }
        let kcat = rates(.kcat)
        let continuous = rates(.continuous)
        let windowed = rates(.windowed)
        let megabytes = messageBytes / 1_048_576
        writer.emit(
            scenario: "Kafka sink vs kcat -P (librdkafka mock cluster)",
            parameters: [
                "messages": String(messages), "runs": String(runs), "partitions": String(partitions),
                "brokers": String(brokers), "brokerTcpNoDelay": String(brokerNoDelay), "valueBytes": String(valueBytes),
                "keyBytes": String(keyBytes),
                "headerBytes": String(headerBytes), "distinctMessages": String(pool.count),
                "batch": String(batchMessages), "maxInFlight": String(maxInFlight),
                "window": String(batchMessages * maxInFlight),
                "producer": producerProperties.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
                    + " (librdkafka's defaults for the rest: batch.size=1000000 batch.num.messages=10000 compression=none partitioner=consistent_random)",
                "librdkafka": tools.librdkafkaVersion,
                "payload": "SNAPSHOT JSON, "
                    + (payloadFields.map { "payloadFields " + $0.joined(separator: ",") } ?? "all fields"),
            ],
            figures: [
                ("kcat msgs/s (median)", kcat.median, "msg/s"), ("kcat msgs/s (min)", kcat.min, "msg/s"),
                ("kcat msgs/s (max)", kcat.max, "msg/s"), ("kcat MB/s (median)", kcat.median * megabytes, "MiB/s"),
                ("herald msgs/s (median)", continuous.median, "msg/s"),
                ("herald msgs/s (min)", continuous.min, "msg/s"), ("herald msgs/s (max)", continuous.max, "msg/s"),
                ("herald MB/s (median)", continuous.median * megabytes, "MiB/s"),
                ("ratio herald/kcat (median)", continuous.median / max(1, kcat.median), "x"),
                ("herald windowed msgs/s (med)", windowed.median, "msg/s"),
                ("herald windowed msgs/s (min)", windowed.min, "msg/s"),
                ("herald windowed msgs/s (max)", windowed.max, "msg/s"),
                ("ratio windowed/kcat (median)", windowed.median / max(1, kcat.median), "x"),
                ("kcat CPU per message", cpuPerMessage(.kcat), "µs"),
                ("herald CPU per message", cpuPerMessage(.continuous), "µs"),
                ("mock CPU/msg (kcat runs)", brokerCPUPerMessage(.kcat), "µs"),
                ("mock CPU/msg (herald runs)", brokerCPUPerMessage(.continuous), "µs"),
                ("daemon → Kafka events/s", daemon.rate, "events/s"),
                ("daemon/kcat", daemon.rate / max(1, kcat.median), "x"),
                ("daemon peak RSS", daemon.peakRSS, "MiB"),
                ("bench RSS before Herald runs", baselineRSS, "MiB"),
                ("bench peak RSS (Herald side)", memory.peak, "MiB"),
            ])
    }

    // MARK: through the daemon

    /// The whole delivery path in a `herald serve` process: `messages` sample people ingested with a
    /// Kafka destination disabled (same `payloadFields`, batches of `batchMessages`, `maxInFlight`),
    /// then the destination enabled by a reload and timed until its lag is zero; the topic's end
    /// offsets must add up to `messages`. Here the renderer, not the sink, sets the pace.
    func daemonDrain(tools: KafkaBenchTools, cluster: BenchMockCluster, topic: String) throws -> (
        rate: Double, peakRSS: Double
    ) {
        try cluster.command("topic \(topic) \(partitions)")
        let fields = payloadFields.map { ", \"payloadFields\": [" + $0.map { "\"\($0)\"" }.joined(separator: ", ") + "]" } ?? ""
        func streaming(enabled: Bool) -> String {
            """
            {"messaging": {"providers": {"kafka": {"plugin": "kafka", "config": {"bootstrapServers": "\(cluster.bootstrap)"}}},
             "destinations": [{"provider": "kafka", "name": "\(topic)", "enabled": \(enabled), "startFrom": "beginning"\(fields),
                               "batch": {"maxMessages": \(batchMessages), "maxInFlight": \(maxInFlight), "lingerMs": 5}}]}}
            """
        }
        let herald = binDirectory + "/herald"
        let server = try ServerUnderTest(
            herald: herald, packageRoot: packageRoot, pluginDirectory: tools.pluginDirectory,
            streaming: streaming(enabled: false))
        defer { server.stop() }
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: messages, batch: 100, connections: 4, runs: 1,
            synchronous: "FULL")
        try ingest.post(ingest.makeBodies(IngestScenario.people(messages, seed: 41)), to: server.baseURL, connections: 4)
        try server.writeConfig(streaming: streaming(enabled: true))
        let start = monotonicSeconds()
        server.reload()
        try server.waitForDelivery(timeout: Double(max(120, messages / 1000)))
        let elapsed = monotonicSeconds() - start
        let delivered = try endOffsets(tools.kcat, bootstrap: cluster.bootstrap, topic: topic)
        guard delivered == messages else {
            throw BenchError("through the daemon: topic \(topic) holds \(delivered) records, expected \(messages)")
        }
        return (Double(messages) / elapsed, ProcessMemory.read(pid: server.pid).peak)
    }

    // MARK: messages

    /// Sample people, rendered as a Kafka destination would send them (SNAPSHOT, JSON, all headers).
    func renderMessages(count: Int) throws -> [OutboundMessage] {
        var destination = DestinationConfiguration(id: "bench-kafka", provider: "kafka", name: "bench")
        destination.payloadFields = payloadFields
        return try renderSampleMessages(count: count, packageRoot: packageRoot, destination: destination)
    }

    /// `KEY:VALUE\n` per message (kcat -K:); keys must not contain ':', values no newline.
    func writeKcatInput(pool: [OutboundMessage], to path: String) throws {
        var lines: [[UInt8]] = []
        for m in pool {
            let key = Array(m.message.key.utf8)
            guard !key.contains(UInt8(ascii: ":")), !key.contains(0x0A) else {
                throw BenchError("key '\(m.message.key)' contains ':' or a newline: kcat -K: cannot carry it")
            }
            guard !m.message.body.contains(0x0A) else {
                throw BenchError("the body of \(m.message.key) contains a newline: kcat reads one message per line")
            }
            lines.append(key + [UInt8(ascii: ":")] + m.message.body + [0x0A])
        }
        guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path): errno \(errno)") }
        defer { fclose(file) }
        for i in 0..<messages {
            let line = lines[i % lines.count]
            guard line.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == line.count else {
                throw BenchError("cannot write \(path): errno \(errno)")
            }
        }
    }

    // MARK: kcat

    func runKcat(_ kcat: String, bootstrap: String, topic: String, input: String, headers: [String]) throws
        -> RunFigures
    {
        // Under timeout(1), which waits for kcat: wait4's usage figures include kcat's.
        let limit = max(120, messages / 1000)
        let args =
            [
                "/usr/bin/timeout", String(limit), kcat, "-b", bootstrap, "-P", "-t", topic, "-K:",
            ] + producerProperties.flatMap { ["-X", "\($0.0)=\($0.1)"] } + headers
        let errors = input + ".stderr"
        let start = monotonicSeconds()
        let (status, usage) = try spawnAndWait(args, stdin: input, stdout: "/dev/null", stderr: errors)
        let elapsed = monotonicSeconds() - start
        guard status == 0 else {
            let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            if status == 124 { throw BenchError("kcat -P did not finish within \(limit) s: \(text.suffix(2000))") }
            throw BenchError(
                "kcat -P exited with status \(status): \(text.suffix(2000))\ncommand: \(args.joined(separator: " "))")
        }
        return RunFigures(
            seconds: elapsed, cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }

    /// The sum of the end offsets of every partition of `topic` (`kcat -Q` with timestamp -1).
    func endOffsets(_ kcat: String, bootstrap: String, topic: String) throws -> Int {
        var args = ["30", kcat, "-b", bootstrap, "-Q"]
        for p in 0..<partitions { args += ["-t", "\(topic):\(p):-1"] }
        let r = try runAndCapture("/usr/bin/timeout", args)
        guard r.status == 0 else { throw BenchError("kcat -Q failed (\(r.status)): \(r.output)") }
        var total = 0
        var seen = 0
        for line in r.output.split(separator: "\n") {
            guard let range = line.range(of: " offset "), let n = Int(line[range.upperBound...]) else { continue }
            total += n
            seen += 1
        }
        guard seen == partitions else {
            throw BenchError("kcat -Q answered for \(seen) of \(partitions) partitions of \(topic): \(r.output)")
        }
        return total
    }

    // MARK: Herald

    func runHerald(_ plugin: LoadedPlugin, bootstrap: String, topic: String, pool: [OutboundMessage], windowed: Bool)
        throws -> RunFigures
    {
        let linger = lingerMs.map { #", "lingerMs": \#($0)"# } ?? ""
        let config = #"{"bootstrapServers": "\#(bootstrap)"\#(linger)}"#
        let t = try timeSinkInProcess(
            plugin, sink: "Kafka", config: config, destination: topic, pool: pool, total: messages, batch: batchMessages,
            inFlight: maxInFlight, windowed: windowed, timeCreate: true)
        return RunFigures(seconds: t.seconds, cpuSeconds: t.cpuSeconds)
    }
}

// MARK: tools and the mock cluster

struct KafkaBenchTools {
    var kcat: String
    var cc: String
    var mockCluster: String
    var pluginDirectory: String
    var librdkafkaVersion: String

    static let mockHeader = "/usr/include/librdkafka/rdkafka_mock.h"

    /// Finds kcat, cc, librdkafka's mock header and the built plugin; builds the mock cluster.
    static func locate(packageRoot: String, binDirectory: String) throws -> KafkaBenchTools {
        let install = "install them with: apt-get install -y librdkafka-dev kcat"
        guard let kcat = findExecutable("kcat") else {
            throw BenchError("the kafka scenario needs kcat (the reference producer), which is not on PATH; \(install)")
        }
        guard let cc = findExecutable("cc") else {
            throw BenchError(
                "the kafka scenario builds librdkafka's mock cluster with cc, which is not on PATH; install a C compiler (apt-get install -y gcc)"
            )
        }
        guard FileManager.default.fileExists(atPath: mockHeader) else {
            throw BenchError("\(mockHeader) is missing: the kafka scenario needs librdkafka's mock cluster; \(install)")
        }
        let library = binDirectory + "/libherald-sink-kafka.so"
        guard FileManager.default.fileExists(atPath: library) else {
            throw BenchError(
                "\(library) is not built: build everything first (swift build -c release), then run herald-bench from .build/release"
            )
        }
        let source = packageRoot + "/Tests/Fixtures/kafka-mock/mock_cluster.c"
        let binary = try buildMockCluster(cc: cc, source: source)
        let version = (try? runAndCapture(kcat, ["-V"]))?.output.split(separator: "\n")
            .first { $0.contains("librdkafka") }
            .flatMap { line -> String? in
                guard let r = line.range(of: "librdkafka ") else { return nil }
                return String(line[r.upperBound...].prefix { $0 != " " })
            }
        return KafkaBenchTools(
            kcat: kcat, cc: cc, mockCluster: binary,
            pluginDirectory: try benchPluginDirectory(binDirectory: binDirectory),
            librdkafkaVersion: version ?? "unknown")
    }

    /// `cc -O1 -o … mock_cluster.c -lrdkafka`, once per version of the source (as the Kafka tests do).
    static func buildMockCluster(cc: String, source: String) throws -> String {
        guard let text = FileManager.default.contents(atPath: source) else {
            throw BenchError("cannot read \(source) (the mock cluster's source)")
        }
        return try buildCProgramOnce(
            cc: cc, directory: "herald-kafka-mock", name: "mock_cluster", suffix: "", source: Array(text),
            flags: ["-O1"], libraries: ["-lrdkafka"],
            failure: "cc could not build mock_cluster for the Kafka mock cluster (is librdkafka-dev installed?)")
    }

    /// An LD_PRELOAD library for the mock cluster: every accepted connection gets TCP_NODELAY, and
    /// the first one leaves a mark in $HERALD_BENCH_NODELAY_LOG (the scenario checks it is there).
    static let noDelaySource = #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <fcntl.h>
        #include <netinet/in.h>
        #include <netinet/tcp.h>
        #include <stdlib.h>
        #include <sys/socket.h>
        #include <unistd.h>
        static int nodelay(int s) {
            int one = 1;
            if (s >= 0 && setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) {
                const char *log = getenv("HERALD_BENCH_NODELAY_LOG");
                int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
                if (fd >= 0) { (void)write(fd, "nodelay\n", 8); close(fd); }
            }
            return s;
        }
        int accept(int fd, struct sockaddr *a, socklen_t *l) {
            static int (*real)(int, struct sockaddr *, socklen_t *);
            if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
            return nodelay(real(fd, a, l));
        }
        int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags) {
            static int (*real)(int, struct sockaddr *, socklen_t *, int);
            if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
            return nodelay(real(fd, a, l, flags));
        }

        """#

    static func buildNoDelayShim(cc: String) throws -> String {
        try buildCProgramOnce(
            cc: cc, directory: "herald-kafka-mock", name: "nodelay", suffix: ".so", source: Array(noDelaySource.utf8),
            flags: ["-O1", "-shared", "-fPIC"], libraries: ["-ldl"],
            failure: "cc could not build the mock cluster's TCP_NODELAY shim")
    }

}

/// librdkafka's mock cluster as a child process (see Tests/HeraldKafkaSinkTests/KafkaTestSupport.swift):
/// prints its bootstrap servers, takes commands on stdin, exits when its stdin closes.
final class BenchMockCluster {
    let peer: BenchPeerProcess
    var bootstrap: String { peer.ready }
    var cpuSeconds: Double { peer.cpuSeconds }

    init(binary: String, brokers: Int, environment: [String: String] = [:]) throws {
        peer = try BenchPeerProcess(
            name: "mock cluster", binary: binary, arguments: ["--brokers", String(brokers), "--exit-on-eof"],
            environment: environment)
        guard peer.ready.contains(":") else {
            peer.stop(grace: 1, terminateAtOnce: true)
            throw BenchError("the mock cluster printed '\(peer.ready)' instead of its bootstrap servers")
        }
    }

    /// Sends one command ("topic NAME 6") and throws unless the answer starts with "ok".
    func command(_ line: String) throws {
        let answer = try peer.ask(line)
        guard answer.hasPrefix("ok") else { throw BenchError("mock cluster: '\(line)' → \(answer)") }
    }

    func stop() { peer.stop(grace: 5, terminateAtOnce: true) }
}

// MARK: process helpers

/// Runs a command to its end; stdout and stderr together.
func runAndCapture(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// posix_spawn + wait4: the exit status and the child's resource usage (CPU time, peak RSS).
func spawnAndWait(_ argv: [String], stdin: String, stdout: String, stderr: String) throws -> (Int32, rusage) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for a in cArgs { free(a) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
    guard rc == 0 else { throw BenchError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw BenchError("wait4 for \(argv[0]) failed: errno \(errno)") }
    }
    // WIFEXITED / WEXITSTATUS; a signal is reported as 128 + its number.
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, usage)
}

func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }

/// User + system CPU time of this process so far (every thread, librdkafka's included).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Runs async code from the synchronous command and waits for it (the main thread is not part of
/// the cooperative pool, so blocking it is safe).
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async -> T) throws -> T {
    let box = AwaitBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    guard let value = box.value else { throw BenchError("async work finished without a result") }
    return value
}

/// Written by the task before it signals, read by the waiting thread after: the semaphore orders them.
private final class AwaitBox<T>: @unchecked Sendable {
    var value: T?
}
