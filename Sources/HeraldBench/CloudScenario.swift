import Foundation
import HeraldConfig
import HeraldHTTPClient
import HeraldModel
import HeraldPlugins

/// Messages/s through the Pub/Sub and Service Bus sinks, each loaded in process from its plugin
/// `.so` and driven as the daemon drives it (`timeSinkInProcess`), with the same rendered sample
/// messages as the sqs scenario (SNAPSHOT, JSON, selected fields: ~1.5 KB bodies, six headers):
///
/// (a) to a local endpoint that answers at once — the sqs scenario's C server in `--mode pubsub`
///     (200 and one message id per message) or `--mode servicebus` (201, empty body) — so the
///     figures are the sink's own cost: msgs/s, requests/s, CPU per message of the sink and of the
///     endpoint (both share the machine's cores);
/// (b) to its real local peer (PEERS.md): the official Pub/Sub emulator (skipped, with a line
///     saying so, when it is not installed) and the tests' protocol-faithful Service Bus endpoint
///     (Python, checks every SAS signature). These are far slower than the sinks: the figure is
///     the peer's pace, not the sink's.
///
/// Host batches of `batchMessages` (the destination default `batch.maxMessages`), up to the sink's
/// default `maxInFlight` outstanding, sent continuously. Every message must
/// complete OK, and the endpoint/peer must have received exactly the messages sent (the emulator:
/// counted by pulling a subscription created before the run; the Service Bus endpoint: its
/// `/_test/received` list, one fresh endpoint per run).
struct CloudScenario {
    var packageRoot: String
    var binDirectory: String
    /// Messages per run to the fast endpoint.
    var messages: Int
    /// Messages per run to the real peers (they are much slower).
    var peerMessages: Int
    var runs: Int
    var batchMessages = 100
    var distinct = 10_000
    var endpointThreads = 2
    /// How long to wait for the Pub/Sub emulator to start.
    var emulatorStartSeconds = 60.0

    static let project = "herald-bench"
    static let entity = "herald-bench"
    /// PEERS.md's Service Bus test key (used as written, not base64-decoded).
    static let serviceBusKey = "c2VjcmV0LWtleS1iYXNlNjQ9PQ=="

    enum Sink: String, CaseIterable {
        case pubsub
        case servicebus

        var library: String { "libherald-sink-\(rawValue).so" }
        var title: String { self == .pubsub ? "Pub/Sub" : "Service Bus" }
        var peerName: String {
            self == .pubsub ? "Pub/Sub emulator" : "Service Bus test endpoint (Python, checks SAS)"
        }

        /// The sink's configuration for a local base URL (`host:port` for Pub/Sub's emulator mode).
        func config(hostPort: String) -> String {
            switch self {
            case .pubsub:
                return #"{"project": "\#(CloudScenario.project)", "emulatorHost": "\#(hostPort)"}"#
            case .servicebus:
                let cs =
                    "Endpoint=sb://herald-bench.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=\(CloudScenario.serviceBusKey)"
                return
                    #"{"connectionString": "\#(cs)", "endpoint": "http://\#(hostPort)", "allowPlainHTTP": true}"#
            }
        }
    }

    struct RunFigures {
        var seconds: Double
        var cpuSeconds: Double
        var endpointCPUSeconds = 0.0
        var requests = 0
    }

    func run(writer: ResultWriter) throws {
        guard let cc = findExecutable("cc") else {
            throw BenchError("the cloud scenario builds its local endpoint with cc, which is not on PATH (apt-get install -y gcc)")
        }
        let endpointBinary = try SQSBenchTools.buildEndpoint(cc: cc)
        let scratch = NSTemporaryDirectory() + "herald-bench-cloud-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for sink in Sink.allCases {
            try run(sink, endpointBinary: endpointBinary, scratch: scratch, writer: writer)
        }
    }

    func run(_ sink: Sink, endpointBinary: String, scratch: String, writer: ResultWriter) throws {
        let library = binDirectory + "/" + sink.library
        guard FileManager.default.fileExists(atPath: library) else {
            throw BenchError(
                "\(library) is not built: build everything first (swift build -c release), then run herald-bench from .build/release"
            )
        }
        let plugin = try loadSinkPlugin(name: sink.rawValue, library: library, scratch: scratch)
        let batch = batchMessages
        let total = max(batch, (messages + batch - 1) / batch * batch)
        let peerTotal = max(batch, (peerMessages + batch - 1) / batch * batch)
        var destination = DestinationConfiguration(id: "bench-\(sink.rawValue)", provider: sink.rawValue, name: Self.entity)
        destination.payloadFields = SQSScenario(packageRoot: "", binDirectory: "", messages: 0, runs: 0).payloadFields
        let pool = try renderSampleMessages(
            count: min(max(total, peerTotal), distinct), packageRoot: packageRoot, destination: destination)
        let bodyBytes = pool.reduce(0) { $0 + $1.message.body.count } / pool.count

        let endpoint = try SQSBenchEndpoint(binary: endpointBinary, threads: endpointThreads, mode: sink.rawValue)
        defer { endpoint.stop() }
        let hostPort = "127.0.0.1:\(endpoint.port)"
        let inFlight = try defaultInFlight(plugin, sink: sink, config: sink.config(hostPort: hostPort))
        let emulatorScript = sink == .pubsub ? PubSubEmulatorPeer.script() : nil
        let peerName = sink == .pubsub && emulatorScript == nil ? "Pub/Sub emulator (not installed: skipped)" : sink.peerName
        say(
            "  \(sink.rawValue): \(total) messages of ~\(bodyBytes) B body + \(pool[0].message.headers.count) headers to the endpoint at \(hostPort) (\(endpointThreads) threads), \(peerTotal) to the \(peerName); host batches of \(batch), \(inFlight) in flight (the sink's default maxInFlight)"
        )

        // (a) the endpoint that answers at once: the sink's own cost.
        var fast: [RunFigures] = []
        for runIndex in 0...runs {
            let label = runIndex == 0 ? "warm-up" : "run \(runIndex)"
            let before = try endpoint.stats()
            let cpu = endpoint.cpuSeconds
            let t = try timeSinkInProcess(
                plugin, sink: sink.rawValue, config: sink.config(hostPort: hostPort), destination: Self.entity,
                pool: pool, total: total, batch: batch, inFlight: inFlight, windowed: false, timeCreate: false)
            var f = RunFigures(seconds: t.seconds, cpuSeconds: t.cpuSeconds)
            f.endpointCPUSeconds = endpoint.cpuSeconds - cpu
            let after = try endpoint.stats()
            guard after.errors == before.errors else {
                throw BenchError("\(sink.rawValue) (\(label)): the endpoint refused \(after.errors - before.errors) requests")
            }
            guard after.entries - before.entries == total else {
                throw BenchError(
                    "\(sink.rawValue) (\(label)): the endpoint received \(after.entries - before.entries) messages, expected \(total)")
            }
            f.requests = after.requests - before.requests
            if runIndex > 0 { fast.append(f) }
            say(
                String(
                    format: "  %@ endpoint %@: %.0f msgs/s, %.0f requests/s, %.1f µs CPU per message",
                    sink.rawValue, label, Double(total) / f.seconds, Double(f.requests) / f.seconds,
                    f.cpuSeconds / Double(total) * 1e6))
        }

        // (b) the real local peer.
        var peer: [Double] = []
        var peerNote = "not run"
        switch sink {
        case .pubsub:
            if let script = emulatorScript {
                let emulator = try PubSubEmulatorPeer(
                    script: script, log: scratch + "/emulator.log", startSeconds: emulatorStartSeconds)
                defer { emulator.stop() }
                try emulator.put("projects/\(Self.project)/topics/\(Self.entity)", body: nil)
                peerNote = "official emulator (\(script))"
                for runIndex in 0...runs {
                    let label = runIndex == 0 ? "warm-up" : "run \(runIndex)"
                    let subscription = "bench-\(runIndex)"
                    try emulator.put(
                        "projects/\(Self.project)/subscriptions/\(subscription)",
                        body: #"{"topic": "projects/\#(Self.project)/topics/\#(Self.entity)", "ackDeadlineSeconds": 600}"#)
                    let t = try timeSinkInProcess(
                        plugin, sink: sink.rawValue, config: sink.config(hostPort: emulator.host),
                        destination: Self.entity, pool: pool, total: peerTotal, batch: batch, inFlight: inFlight,
                        windowed: false, timeCreate: false)
                    let got = try emulator.pullCount(project: Self.project, subscription: subscription, expected: peerTotal)
                    try emulator.delete("projects/\(Self.project)/subscriptions/\(subscription)")
                    guard got == peerTotal else {
                        throw BenchError("pubsub (\(label)): the emulator's subscription got \(got) messages, expected \(peerTotal)")
                    }
                    if runIndex > 0 { peer.append(Double(peerTotal) / t.seconds) }
                    say(String(format: "  pubsub emulator %@: %.0f msgs/s", label, Double(peerTotal) / t.seconds))
                }
            } else {
                say(
                    "  pubsub: the Pub/Sub emulator is not installed (Debian package google-cloud-cli-pubsub-emulator): not measured against it, only against the local endpoint"
                )
                peerNote = "emulator not installed"
            }
        case .servicebus:
            let script = try ServiceBusTestEndpoint.script(packageRoot: packageRoot)
            let file = scratch + "/servicebus_endpoint.py"
            try script.write(toFile: file, atomically: true, encoding: .utf8)
            peerNote = "the tests' endpoint (Tests/HeraldServiceBusSinkTests/TestScripts.swift), one per run"
            for runIndex in 0...runs {
                let label = runIndex == 0 ? "warm-up" : "run \(runIndex)"
                let sb = try ServiceBusTestEndpoint(script: file)
                defer { sb.stop() }
                let t = try timeSinkInProcess(
                    plugin, sink: sink.rawValue, config: sink.config(hostPort: sb.host), destination: Self.entity,
                    pool: pool, total: peerTotal, batch: batch, inFlight: inFlight, windowed: false, timeCreate: false)
                let (received, rejected) = try sb.counts()
                guard received == peerTotal, rejected == 0 else {
                    throw BenchError(
                        "servicebus (\(label)): the test endpoint received \(received) messages (expected \(peerTotal)) and refused \(rejected) requests"
                    )
                }
                if runIndex > 0 { peer.append(Double(peerTotal) / t.seconds) }
                say(String(format: "  servicebus test endpoint %@: %.0f msgs/s", label, Double(peerTotal) / t.seconds))
            }
        }

        func summary(_ value: (RunFigures) -> Double) -> Summary { Summary(values: fast.map(value)) }
        let msgs = summary { Double(total) / $0.seconds }
        let requests = summary { Double($0.requests) / $0.seconds }
        var figures: [(String, Double, String)] = [
            ("endpoint msgs/s (median)", msgs.median, "msg/s"), ("endpoint msgs/s (min)", msgs.min, "msg/s"),
            ("endpoint msgs/s (max)", msgs.max, "msg/s"),
            ("endpoint requests/s (median)", requests.median, "req/s"),
            ("messages per request", Double(fast.first?.requests ?? 0) > 0 ? Double(total) / Double(fast[0].requests) : 0, "msgs"),
            ("sink CPU per message", summary { $0.cpuSeconds / Double(total) * 1e6 }.median, "µs"),
            ("endpoint CPU per message", summary { $0.endpointCPUSeconds / Double(total) * 1e6 }.median, "µs"),
            ("sink cores busy", summary { $0.cpuSeconds / $0.seconds }.median, "cores"),
            ("endpoint cores busy", summary { $0.endpointCPUSeconds / $0.seconds }.median, "cores"),
        ]
        if !peer.isEmpty {
            let p = Summary(values: peer)
            figures += [
                ("peer msgs/s (median)", p.median, "msg/s"), ("peer msgs/s (min)", p.min, "msg/s"),
                ("peer msgs/s (max)", p.max, "msg/s"),
            ]
        }
        writer.emit(
            scenario: "\(sink.title) sink (to a local endpoint that answers at once, and to the \(sink.peerName))",
            parameters: [
                "messages": String(total), "peerMessages": String(peerTotal), "runs": String(runs),
                "batch": String(batch), "inFlight": String(inFlight), "bodyBytes": String(bodyBytes),
                "headers": String(pool[0].message.headers.count), "distinctMessages": String(pool.count),
                "endpoint": "local C server --mode \(sink.rawValue), \(endpointThreads) threads, answers at once",
                "peer": peerNote,
                "payload": "SNAPSHOT JSON, payloadFields " + (destination.payloadFields ?? []).joined(separator: ","),
            ],
            figures: figures)
    }

    /// The sink's default `maxInFlight`, read from an instance's limits.
    func defaultInFlight(_ plugin: LoadedPlugin, sink: Sink, config: String) throws -> Int {
        let instance = try SinkInstance(
            plugin: plugin, alias: "bench-\(sink.rawValue)-limits", config: config,
            logger: .init(label: "herald-bench.\(sink.rawValue)"))
        defer { instance.destroy() }
        return instance.limits.maxInFlight
    }
}

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { throw BenchError("cannot bind a loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// The official Pub/Sub emulator (PEERS.md) on a free loopback port; stopped by its pid.
final class PubSubEmulatorPeer {
    let process = Process()
    let port: Int
    let http = HTTPClient(timeout: 60, connectTimeout: 2)
    var host: String { "127.0.0.1:\(port)" }

    /// Its start script from the Debian package, or nil when it is not installed.
    static func script() -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg"),
            let listing = try? runAndCapture("/usr/bin/dpkg", ["-L", "google-cloud-cli-pubsub-emulator"]),
            listing.status == 0,
            let line = listing.output.split(separator: "\n").first(where: { $0.hasSuffix("bin/cloud-pubsub-emulator") })
        else { return nil }
        return String(line)
    }

    init(script: String, log: String, startSeconds: Double) throws {
        port = try freeLoopbackPort()
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = ["--host=127.0.0.1", "--port=\(port)"]
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = monotonicSeconds() + startSeconds
        while true {
            if (try? http.send(method: "GET", url: "http://\(host)/v1/projects/\(CloudScenario.project)/topics")) != nil {
                break
            }
            if !process.isRunning || monotonicSeconds() > deadline {
                stop()
                throw BenchError(
                    "the Pub/Sub emulator did not start within \(Int(startSeconds)) s:\n\(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(2000))"
                )
            }
            usleep(200_000)
        }
    }

    func put(_ path: String, body: String?) throws {
        let r = try http.send(
            method: "PUT", url: "http://\(host)/v1/\(path)", headers: [("Content-Type", "application/json")],
            body: body.map { Array($0.utf8) })
        guard r.status == 200 else { throw BenchError("Pub/Sub emulator: PUT \(path) → \(r.status) \(r.bodyText)") }
    }

    func delete(_ path: String) throws {
        let r = try http.send(method: "DELETE", url: "http://\(host)/v1/\(path)")
        guard r.status == 200 else { throw BenchError("Pub/Sub emulator: DELETE \(path) → \(r.status) \(r.bodyText)") }
    }

    /// Pulls (without acknowledging: the subscription is deleted after) until `expected` messages
    /// came or nothing more comes for a while; returns how many came.
    func pullCount(project: String, subscription: String, expected: Int) throws -> Int {
        var count = 0
        var idle = 0
        while count < expected && idle < 20 {
            let r = try http.send(
                method: "POST", url: "http://\(host)/v1/projects/\(project)/subscriptions/\(subscription):pull",
                headers: [("Content-Type", "application/json")],
                body: Array(#"{"maxMessages": 1000, "returnImmediately": true}"#.utf8))
            guard r.status == 200 else { throw BenchError("Pub/Sub emulator: pull → \(r.status) \(r.bodyText)") }
            let object = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
            let got = (object?["receivedMessages"] as? [Any])?.count ?? 0
            count += got
            if got == 0 {
                idle += 1
                usleep(100_000)
            } else {
                idle = 0
            }
        }
        return count
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = monotonicSeconds() + 5
        while process.isRunning && monotonicSeconds() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// The tests' protocol-faithful Service Bus endpoint (Python standard library only), as a child:
/// its source is read from the test target, so that the benchmark runs the very endpoint the
/// tests check the sink against.
final class ServiceBusTestEndpoint {
    let peer: BenchPeerProcess
    let port: Int
    let http = HTTPClient(timeout: 120, connectTimeout: 2)
    var host: String { "127.0.0.1:\(port)" }

    static func script(packageRoot: String) throws -> String {
        let path = packageRoot + "/Tests/HeraldServiceBusSinkTests/TestScripts.swift"
        guard let swift = try? String(contentsOfFile: path, encoding: .utf8),
            let open = swift.range(of: "static let endpoint = #\"\"\"\n"),
            let close = swift.range(of: "\n\"\"\"#", range: open.upperBound..<swift.endIndex)
        else { throw BenchError("cannot read the Service Bus test endpoint's script from \(path)") }
        return String(swift[open.upperBound..<close.lowerBound]) + "\n"
    }

    init(script: String) throws {
        guard let python = findExecutable("python3") else {
            throw BenchError("the cloud scenario runs the Service Bus test endpoint with python3, which is not on PATH")
        }
        peer = try BenchPeerProcess(
            name: "Service Bus test endpoint", binary: python,
            arguments: [
                "-u", script, "--port", "0", "--key", "send=\(CloudScenario.serviceBusKey)", "--entity",
                CloudScenario.entity,
            ], standardError: .standardError)
        guard peer.ready.hasPrefix("READY "), let port = Int(peer.ready.dropFirst(6)) else {
            peer.stop(grace: 1, terminateAtOnce: true)
            throw BenchError("the Service Bus test endpoint printed '\(peer.ready)' instead of READY PORT")
        }
        self.port = port
    }

    /// Messages accepted and requests refused so far.
    func counts() throws -> (received: Int, rejected: Int) {
        func count(_ path: String) throws -> Int {
            let r = try http.send(method: "GET", url: "http://\(host)\(path)")
            guard r.status == 200, let list = try JSONSerialization.jsonObject(with: Data(r.body)) as? [Any] else {
                throw BenchError("Service Bus test endpoint: GET \(path) → \(r.status)")
            }
            return list.count
        }
        return (try count("/_test/received"), try count("/_test/rejected"))
    }

    /// It does not read its stdin: SIGTERM at once.
    func stop() { peer.stop(grace: 2, terminateAtOnce: true) }
}
