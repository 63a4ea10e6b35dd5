import Foundation
import HeraldConfig
import HeraldModel
import HeraldPayload
import HeraldPlugins
import HeraldSQSSinkCore
import Logging

/// Herald's SQS sink against boto3, the reference client, sending the same SendMessageBatch
/// requests to the same local endpoint: a small C server (`SQSBenchEndpoint`, a separate process
/// on 127.0.0.1) that answers every request at once with SQS's success body, so that the clients
/// are measured, not a server. It checks each request's shape and that it carries a SigV4
/// `Authorization` header, not the signature itself: the sink's signatures are checked by its
/// tests against moto with signature checking on (Tests/HeraldSQSSinkTests). Its answers carry
/// real MD5OfMessageBody and MD5OfMessageAttributes values (checked against moto's), although
/// neither client verifies them: the sink does not yet (docs/sinks/sqs.md), and botocore has no
/// SQS MD5 check (1.43).
///
/// Both sides send the same N messages — sample people rendered by `PayloadRenderer` (SNAPSHOT,
/// JSON, selected fields: ~1.5 KB bodies) with the daemon's six headers as String message
/// attributes — as the same 10-entry requests to a standard queue: boto3 gets the sink's own
/// request bodies (`SQSRequestBuilder.body`), one `send_message_batch(**body)` each.
///
/// - Herald: the plugin `.so` loaded through `PluginRegistry`, a `SinkInstance` configured with
///   the endpoint override, a region, static test credentials; host batches of `batchMessages`
///   (the sink splits them into 10-entry requests), up to the sink's `maxInFlight` outstanding,
///   sent as `DestinationWorker.send` does ("continuous": a new batch as soon as one completes;
///   "windowed": the delivery worker's window of `batch × inFlight` messages, waiting for all).
///   The sink sends with `maxInFlight` worker threads, one kept-alive connection each.
/// - boto3: one client shared by as many threads as the sink has workers (its `maxInFlight`),
///   each with its own connection from the client's pool; boto3's defaults otherwise.
///
/// Both are timed from the first request to the last answer, start-up excluded (boto3's import,
/// client creation and one request per thread happen before; boto3's start-up is reported apart).
/// Every message must be OK and the endpoint must have received exactly N entries without error.
/// Also measured, in process on one core: SigV4 signatures/s of the sink's signer over the same
/// request bodies (the payload hash included), and botocore's `SigV4Auth` over the same bodies.
/// The endpoint's capacity is measured with wrk replaying a signed request of the sink's (when wrk
/// is installed), and its CPU per request during every run: on a small machine it shares the
/// cores with the client, and the "cores busy" figures say how much.
struct SQSScenario {
    var packageRoot: String
    var binDirectory: String
    var messages: Int
    var runs: Int
    /// Messages per host batch: the destination's default `batch.maxMessages`, which is also the
    /// sink's `max_batch_messages` (`SQSSink.maxBatchMessages`).
    var batchMessages = 100
    /// The sink's `maxInFlight` (worker threads and connections; host batches outstanding) and
    /// boto3's threads. nil: the sink's default.
    var concurrency: Int?
    /// Distinct rendered messages, cycled through.
    var distinct = 10_000
    /// Threads of the endpoint (its CPU per request is reported; on two cores more does not help).
    var endpointThreads = 2
    /// How long each signer measurement runs (one per run).
    var signSeconds = 1.0
    /// How long wrk loads the endpoint to measure its capacity (skipped without wrk).
    var capacitySeconds = 3.0
    var payloadFields: [String] = [
        "uri", "type", "updatedTime", "attributes.FirstName", "attributes.MiddleName", "attributes.LastName",
        "attributes.Gender", "attributes.BirthDate", "attributes.Email", "attributes.Occupation", "attributes.Employer",
    ]

    static let region = "us-east-1"
    static let accountId = "123456789012"
    static let queueName = "herald-bench"
    /// AWS's documentation example key: the endpoint does not check signatures.
    static let accessKeyId = "AKIDEXAMPLE"
    static let secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    /// The sink's default `maxInFlight` (SQSConfig).
    static let sinkDefaultConcurrency = SQSConfig(region: "us-east-1").maxInFlight

    enum Side: String, CaseIterable {
        case boto3
        case continuous = "herald"
        case windowed = "herald windowed"
    }

    struct RunFigures {
        var seconds: Double
        /// CPU time of the sending process during the run (herald-bench, or boto3's Python).
        var cpuSeconds: Double
        /// CPU time of the endpoint during the run.
        var endpointCPUSeconds = 0.0
        /// Request body bytes the endpoint received.
        var bodyBytes = 0
        /// Connections the endpoint accepted (boto3's: during its warm-up).
        var connections = 0
    }

    func run(writer: ResultWriter) throws {
        let tools = try SQSBenchTools.locate(binDirectory: binDirectory)
        let workers = concurrency ?? SQSScenario.sinkDefaultConcurrency
        let perRequest = SQSRequestBuilder.maxEntriesPerRequest
        // Whole host batches of whole requests: request k of the run is the pool's request k mod P
        // on both sides.
        let batch = max(perRequest, batchMessages / perRequest * perRequest)
        let total = max(batch, (messages + batch - 1) / batch * batch)
        let poolSize = max(perRequest, min(total, distinct) / perRequest * perRequest)
        let pool = try renderMessages(count: poolSize)

        let scratch = NSTemporaryDirectory() + "herald-bench-sqs-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let endpoint = try SQSBenchEndpoint(binary: tools.endpoint, threads: endpointThreads)
        defer { endpoint.stop() }
        let endpointURL = "http://127.0.0.1:\(endpoint.port)"
        let queueURL = "\(endpointURL)/\(SQSScenario.accountId)/\(SQSScenario.queueName)"

        // The sink's requests for the pool, planned as the sink plans them.
        let requests = try plan(pool)
        let bodies = requests.map { SQSRequestBuilder.body(queueURL: queueURL, entries: $0) }
        let requestsFile = scratch + "/requests.jsonl"
        try writeLines(bodies, to: requestsFile)
        let bodyBytes = pool.reduce(0) { $0 + $1.message.body.count } / pool.count
        let attributes = requests[0][0].attributes
        let attributeBytes = requests.joined().reduce(0) { $0 + $1.size - $1.body.count } / pool.count
        let requestBytes = bodies.reduce(0) { $0 + $1.count } / bodies.count

        let plugin = try loadPlugin(library: tools.library, scratch: scratch)
        let script = scratch + "/boto3_sqs.py"
        try SQSBenchTools.boto3Script.write(toFile: script, atomically: true, encoding: .utf8)
        say(
            "  sqs: \(total) messages of ~\(bodyBytes) B body + \(attributes.count) attributes (~\(attributeBytes) B as SQS counts them), \(total / perRequest) requests of \(perRequest) (~\(requestBytes) B), host batches of \(batch), concurrency \(workers), endpoint at \(endpointURL) (\(endpointThreads) threads)"
        )

        // Endpoint capacity: wrk replaying one signed request of the sink's.
        var capacity: (rate: Double, cpuPerRequest: Double)?
        if let wrk = tools.wrk {
            capacity = try measureCapacity(
                wrk: wrk, endpoint: endpoint, url: endpointURL, queueURL: queueURL, body: bodies[0],
                connections: workers,
                scratch: scratch)
            if let c = capacity {
                say(
                    String(
                        format:
                            "  endpoint capacity (wrk, %d connections): %.0f requests/s, %.1f µs endpoint CPU per request",
                        workers, c.rate, c.cpuPerRequest))
            }
        } else {
            say("  wrk is not installed: endpoint capacity not measured (its CPU per request still is)")
        }

        var signRates: [Double] = []
        var botocoreSignRates: [Double] = []
        var figures: [Side: [RunFigures]] = [:]
        var boto3Startup: [Double] = []
        ProcessMemory.resetOwnPeak()
        for runIndex in 0...runs {
            let label = runIndex == 0 ? "warm-up" : "run \(runIndex)"
            let signRate = signatureRate(bodies: bodies, url: endpointURL, queueURL: queueURL)
            let botocoreRate = try runBotocoreSigner(
                tools: tools, script: script, requestsFile: requestsFile, url: endpointURL)
            var line = [String(format: "sign herald %.0f/s botocore %.0f/s", signRate, botocoreRate)]
            var seconds: [Side: Double] = [:]
            for side in Side.allCases {
                let before = try endpoint.stats()
                let endpointCPU = endpoint.cpuSeconds
                var f: RunFigures
                var expected = total
                switch side {
                case .boto3:
                    let r = try runBoto3(
                        tools: tools, script: script, requestsFile: requestsFile, url: endpointURL,
                        requests: total / perRequest, threads: workers)
                    f = r.figures
                    expected += r.warmupMessages
                    if runIndex > 0 { boto3Startup.append(r.startupSeconds) }
                case .continuous, .windowed:
                    f = try runHerald(
                        plugin, url: endpointURL, pool: pool, total: total, batch: batch, workers: workers,
                        windowed: side == .windowed)
                }
                f.endpointCPUSeconds = endpoint.cpuSeconds - endpointCPU
                let after = try endpoint.stats()
                guard after.errors == before.errors else {
                    throw BenchError(
                        "\(side.rawValue) (\(label)): the endpoint refused \(after.errors - before.errors) requests")
                }
                guard after.entries - before.entries == expected else {
                    throw BenchError(
                        "\(side.rawValue) (\(label)): the endpoint received \(after.entries - before.entries) entries, expected \(expected)"
                    )
                }
                f.bodyBytes = after.bodyBytes - before.bodyBytes
                f.connections = after.connections - before.connections
                if runIndex > 0 { figures[side, default: []].append(f) }
                seconds[side] = f.seconds
                line.append("\(side.rawValue) \(Int(Double(total / perRequest) / f.seconds)) req/s")
            }
            if runIndex > 0 {
                signRates.append(signRate)
                botocoreSignRates.append(botocoreRate)
            }
            // Paired with the boto3 run just before it (same load from elsewhere on the machine).
            let paired = (seconds[.boto3] ?? 0) / (seconds[.continuous] ?? 1)
            say("  \(label): " + line.joined(separator: ", ") + String(format: " (herald/boto3 %.2f)", paired))
        }

        let requestCount = Double(total / perRequest)
        func requestRates(_ side: Side) -> Summary {
            Summary(values: figures[side, default: []].map { requestCount / $0.seconds })
        }
        func perRequestMicros(_ side: Side, _ value: (RunFigures) -> Double) -> Double {
            Summary(values: figures[side, default: []].map { value($0) / requestCount * 1e6 }).median
        }
        func busy(_ side: Side, _ value: (RunFigures) -> Double) -> Double {
            Summary(values: figures[side, default: []].map { value($0) / $0.seconds }).median
        }
        func sentBytes(_ side: Side) -> Int {
            figures[side, default: []].first.map { $0.bodyBytes / (total / perRequest) } ?? 0
        }
        func connections(_ side: Side) -> String {
            figures[side, default: []].map { String($0.connections) }.joined(separator: ",")
        }
        let boto3 = requestRates(.boto3)
        let herald = requestRates(.continuous)
        let windowed = requestRates(.windowed)
        let signing = Summary(values: signRates)
        let botocoreSigning = Summary(values: botocoreSignRates)
        let memory = ProcessMemory.read(pid: getpid())
        let perMessage = Double(perRequest)
        var results: [(String, Double, String)] = [
            ("herald signatures/s (1 core)", signing.median, "sig/s"),
            ("herald signing time per request", 1e6 / max(1, signing.median), "µs"),
            ("botocore SigV4Auth sig/s (1 core)", botocoreSigning.median, "sig/s"),
            ("herald requests/s (median)", herald.median, "req/s"), ("herald requests/s (min)", herald.min, "req/s"),
            ("herald requests/s (max)", herald.max, "req/s"),
            ("herald msgs/s (median)", herald.median * perMessage, "msg/s"),
            ("herald windowed requests/s (med)", windowed.median, "req/s"),
            ("herald windowed msgs/s (median)", windowed.median * perMessage, "msg/s"),
            ("boto3 requests/s (median)", boto3.median, "req/s"), ("boto3 requests/s (min)", boto3.min, "req/s"),
            ("boto3 requests/s (max)", boto3.max, "req/s"),
            ("boto3 msgs/s (median)", boto3.median * perMessage, "msg/s"),
            ("ratio herald/boto3 (median)", herald.median / max(1, boto3.median), "x"),
            ("ratio windowed/boto3 (median)", windowed.median / max(1, boto3.median), "x"),
            ("herald CPU per request", perRequestMicros(.continuous) { $0.cpuSeconds }, "µs"),
            ("boto3 CPU per request", perRequestMicros(.boto3) { $0.cpuSeconds }, "µs"),
            ("endpoint CPU/request (herald)", perRequestMicros(.continuous) { $0.endpointCPUSeconds }, "µs"),
            ("endpoint CPU/request (boto3)", perRequestMicros(.boto3) { $0.endpointCPUSeconds }, "µs"),
            // On a small machine the endpoint takes CPU from the client: how much, during the runs.
            ("herald cores busy (herald runs)", busy(.continuous) { $0.cpuSeconds }, "cores"),
            ("endpoint cores busy (herald runs)", busy(.continuous) { $0.endpointCPUSeconds }, "cores"),
            ("boto3 cores busy (boto3 runs)", busy(.boto3) { $0.cpuSeconds }, "cores"),
            ("boto3 start-up (import..warm-up)", Summary(values: boto3Startup).median, "s"),
            ("bench peak RSS", memory.peak, "MiB"),
        ]
        if let capacity {
            results.append(("endpoint capacity (wrk)", capacity.rate, "req/s"))
            results.append(("endpoint CPU/request (wrk)", capacity.cpuPerRequest, "µs"))
        }
        writer.emit(
            scenario: "SQS sink vs boto3 (SendMessageBatch to a local endpoint)",
            parameters: [
                "messages": String(total), "runs": String(runs), "requests": String(total / perRequest),
                "entriesPerRequest": String(perRequest), "bodyBytes": String(bodyBytes),
                "attributes": attributes.map(\.name).joined(separator: ","), "attributeBytes": String(attributeBytes),
                "requestBytes": String(requestBytes), "heraldSentBytes": String(sentBytes(.continuous)),
                "boto3SentBytes": String(sentBytes(.boto3)), "heraldConnections": connections(.continuous),
                "boto3Connections": connections(.boto3), "distinctMessages": String(pool.count),
                "batch": String(batch),
                "concurrency":
                    "\(workers) (sink maxInFlight: workers and host batches in flight; boto3 threads sharing one client)",
                "window": String(batch * workers), "queue": "standard", "region": SQSScenario.region,
                "endpoint": "local C server, \(endpointThreads) threads, answers at once, signatures not checked",
                "boto3": tools.boto3Version,
                "payload": "SNAPSHOT JSON, payloadFields " + payloadFields.joined(separator: ","),
            ],
            figures: results)
    }

    // MARK: messages and requests

    /// Sample people, rendered as an SQS destination would send them (SNAPSHOT, JSON, all headers).
    func renderMessages(count: Int) throws -> [OutboundMessage] {
        var destination = DestinationConfiguration(id: "bench-sqs", provider: "sqs", name: SQSScenario.queueName)
        destination.payloadFields = payloadFields
        return try renderSampleMessages(count: count, packageRoot: packageRoot, destination: destination)
    }

    /// The pool's messages as the sink turns a host batch into requests (`SQSSink.send`): every
    /// header a String attribute, requests of 10 entries. None may be refused or lose attributes.
    func plan(_ pool: [OutboundMessage]) throws -> [[SQSEntry]] {
        let outgoing = pool.map { m in
            SQSOutgoingMessage(
                id: m.message.id, key: m.message.key, body: m.message.body,
                headers: m.message.headers.map { SQSAttribute($0.name, $0.value) })
        }
        let plan = SQSRequestBuilder(maxMessageBytes: SQSConfig.largestMessageBytes, fifo: false).plan(outgoing)
        if let r = plan.rejected.first {
            throw BenchError("the sqs sink would not send message \(r.index): \(r.result)")
        }
        if let d = plan.droppedAttributes.first { throw BenchError("the sqs sink would drop attributes: \(d)") }
        guard plan.requests.allSatisfy({ $0.count == SQSRequestBuilder.maxEntriesPerRequest }) else {
            throw BenchError("the sqs sink planned requests of other than 10 entries")
        }
        return plan.requests
    }

    /// One request body per line (JSON has no raw newline).
    func writeLines(_ bodies: [[UInt8]], to path: String) throws {
        var data = Data()
        for b in bodies {
            guard !b.contains(0x0A) else { throw BenchError("a request body contains a newline") }
            data.append(contentsOf: b)
            data.append(0x0A)
        }
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw BenchError("cannot write \(path)")
        }
    }

    func loadPlugin(library: String, scratch: String) throws -> LoadedPlugin {
        try loadSinkPlugin(name: "sqs", library: library, scratch: scratch)
    }

    // MARK: Herald

    func runHerald(
        _ plugin: LoadedPlugin, url: String, pool: [OutboundMessage], total: Int, batch: Int, workers: Int,
        windowed: Bool
    ) throws -> RunFigures {
        let config = """
            {"region": "\(SQSScenario.region)", "endpoint": "\(url)", "accountId": "\(SQSScenario.accountId)",
             "accessKeyId": "\(SQSScenario.accessKeyId)", "secretAccessKey": "\(SQSScenario.secretAccessKey)",
             "maxInFlight": \(workers)}
            """
        let t = try timeSinkInProcess(
            plugin, sink: "SQS", config: config, destination: SQSScenario.queueName, pool: pool, total: total,
            batch: batch, inFlight: workers, windowed: windowed, timeCreate: false)
        return RunFigures(seconds: t.seconds, cpuSeconds: t.cpuSeconds)
    }

    /// SigV4 signatures per second of the sink's signer on this thread: `SQSClient.signedRequest`
    /// (headers, payload SHA-256, canonical request, string to sign, HMAC with the cached key) over
    /// the pool's request bodies, as each worker does before every request.
    func signatureRate(bodies: [[UInt8]], url: String, queueURL: String) -> Double {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyId: SQSScenario.accessKeyId, secretAccessKey: SQSScenario.secretAccessKey),
            region: SQSScenario.region, service: "sqs")
        guard let endpoint = ParsedURL(url) else { return 0 }
        var count = 0
        var check = 0
        let start = monotonicSeconds()
        var now = start
        while now - start < signSeconds {
            for _ in 0..<50 {
                let request = SQSClient.signedRequest(
                    queueURL: queueURL, endpoint: endpoint, body: bodies[count % bodies.count], signer: signer,
                    time: .now())
                check &+= request.headers.count
                count += 1
            }
            now = monotonicSeconds()
        }
        if check == 0 { say("  (no signature)") }
        return Double(count) / (now - start)
    }

    // MARK: boto3

    struct Boto3Run {
        var figures: RunFigures
        var warmupMessages: Int
        var startupSeconds: Double
    }

    func runBoto3(
        tools: SQSBenchTools, script: String, requestsFile: String, url: String, requests: Int, threads: Int
    ) throws -> Boto3Run {
        let config = try jsonText([
            "mode": "send", "requests": requestsFile, "endpoint": url, "region": SQSScenario.region,
            "accessKeyId": SQSScenario.accessKeyId, "secretAccessKey": SQSScenario.secretAccessKey,
            "total": requests, "threads": threads,
        ])
        let out = try tools.runPython(script: script, config: config, limit: max(120, requests / 50))
        guard let seconds = out["seconds"] as? Double, let cpu = out["cpuSeconds"] as? Double,
            let ok = out["messages"] as? Int, let failed = out["failed"] as? Int,
            let warmup = out["warmupMessages"] as? Int, let startup = out["startupSeconds"] as? Double
        else { throw BenchError("the boto3 script printed an unexpected result: \(out)") }
        let expected = requests * SQSRequestBuilder.maxEntriesPerRequest
        guard ok == expected, failed == 0 else {
            throw BenchError(
                "boto3 got \(ok) of \(expected) messages Successful; \(failed) failed, first: \(out["firstError"] ?? "?")"
            )
        }
        return Boto3Run(
            figures: RunFigures(seconds: seconds, cpuSeconds: cpu), warmupMessages: warmup, startupSeconds: startup)
    }

    /// botocore's `SigV4Auth.add_auth` per second over the same bodies (one thread).
    func runBotocoreSigner(tools: SQSBenchTools, script: String, requestsFile: String, url: String) throws -> Double {
        let config = try jsonText([
            "mode": "sign", "requests": requestsFile, "endpoint": url, "region": SQSScenario.region,
            "accessKeyId": SQSScenario.accessKeyId, "secretAccessKey": SQSScenario.secretAccessKey,
            "seconds": signSeconds,
        ])
        let out = try tools.runPython(script: script, config: config, limit: 120)
        guard let rate = out["signaturesPerSecond"] as? Double else {
            throw BenchError("the boto3 script printed an unexpected result: \(out)")
        }
        return rate
    }

    func jsonText(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    // MARK: endpoint capacity

    /// wrk with `connections` connections replaying one signed request of the sink's for
    /// `capacitySeconds`: the endpoint's requests/s while wrk itself also runs on this machine.
    func measureCapacity(
        wrk: String, endpoint: SQSBenchEndpoint, url: String, queueURL: String, body: [UInt8], connections: Int,
        scratch: String
    ) throws -> (rate: Double, cpuPerRequest: Double) {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyId: SQSScenario.accessKeyId, secretAccessKey: SQSScenario.secretAccessKey),
            region: SQSScenario.region, service: "sqs")
        guard let parsed = ParsedURL(url) else { throw BenchError("bad endpoint URL \(url)") }
        let request = SQSClient.signedRequest(
            queueURL: queueURL, endpoint: parsed, body: body, signer: signer, time: .now())
        let bodyFile = scratch + "/wrk-body.json"
        _ = FileManager.default.createFile(atPath: bodyFile, contents: Data(body))
        var lua =
            "wrk.method = \"POST\"\nlocal f = io.open(\"\(bodyFile)\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\n"
        for (name, value) in request.headers where name.lowercased() != "host" {
            lua += "wrk.headers[\"\(name)\"] = [==[\(value)]==]\n"
        }
        let luaFile = scratch + "/wrk.lua"
        try lua.write(toFile: luaFile, atomically: true, encoding: .utf8)
        let before = try endpoint.stats()
        let cpu = endpoint.cpuSeconds
        let duration = max(1, Int(capacitySeconds.rounded()))
        let r = try runAndCapture(
            "/usr/bin/timeout",
            [
                String(duration + 30), wrk, "-t1", "-c\(connections)", "-d\(duration)s", "-s", luaFile, url + "/",
            ])
        let used = endpoint.cpuSeconds - cpu
        let after = try endpoint.stats()
        guard r.status == 0 else { throw BenchError("wrk failed (\(r.status)): \(r.output)") }
        guard after.errors == before.errors, !r.output.contains("Non-2xx") else {
            throw BenchError("the endpoint refused wrk's requests: \(r.output)")
        }
        guard let line = r.output.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
            let rate = Double(line.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces))
        else { throw BenchError("wrk printed no Requests/sec: \(r.output)") }
        let served = after.requests - before.requests
        return (rate, served > 0 ? used / Double(served) * 1e6 : 0)
    }
}
