import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// `isolation: "process"` in a running daemon: a plugin that crashes, aborts, exits, spins, never completes or leaks
/// costs its own destination a restart of its child, while a healthy destination beside it delivers everything
/// under load, the faulty one loses nothing (each message delivered or dead-lettered with a reason), and the
/// daemon's process id never changes.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct SinkIsolationTests {
    struct Fault: CustomStringConvertible, Sendable {
        var name: String
        /// Keys added to the faulty test sink's configuration.
        var sink: String
        /// Keys added to the faulty provider's `process` settings.
        var process: String = ""
        var sendTimeoutMs = 5_000
        /// What the destination's reason says at some point.
        var reason: String
        var description: String { name }
    }

    static let faults: [Fault] = [
        Fault(name: "segfault on every 3rd batch", sink: #""crashOnBatch": 3"#, reason: "sink process exited on signal 11 (SIGSEGV) while sending batch"),
        Fault(name: "abort", sink: #""abortOnBatch": 3"#, reason: "sink process exited on signal 6 (SIGABRT) while sending batch"),
        Fault(name: "exit", sink: #""exitOnBatch": 3"#, reason: "sink process exited with status 7 while sending batch"),
        Fault(
            name: "spin in on_send_batch", sink: #""spinOnBatch": 3"#, sendTimeoutMs: 800,
            reason: "sink process was killed: it did not complete batch"),
        Fault(
            name: "never complete", sink: #""neverCompleteBatch": 3"#, sendTimeoutMs: 800,
            reason: "sink process was killed: it did not complete batch"),
        Fault(
            name: "allocate without bound", sink: #""allocateMbPerBatch": 48"#, process: #", "memoryLimitMb": 300"#,
            reason: "memoryLimitMb 300"),
    ]

    static func streaming(good: String, bad: String, process: String = "", sendTimeoutMs: Int = 5_000) -> String {
        """
        {"streamingEnabled": true,
         "messaging": {
           "providers": {
             "good": {"plugin": "test", "isolation": "inProcess", "config": {"output": "\(good)"}},
             "bad": {"plugin": "test", "isolation": "process",
                     "process": {"restartBackoffMs": {"initial": 50, "max": 400}\(process)},
                     "config": {"output": "\(bad)"}}},
           "destinations": [
             {"provider": "good", "name": "q", "batch": {"maxMessages": 10, "lingerMs": 0}},
             {"provider": "bad", "name": "q", "sendTimeoutMs": \(sendTimeoutMs), "batch": {"maxMessages": 10, "lingerMs": 0},
              "retry": {"initialDelayMs": 20, "maxDelayMs": 200, "maxAttempts": 100}}]}}
        """
    }

    /// The pids of the daemon's `herald sink-host` children.
    static func sinkHosts(of daemon: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == daemon else { return false }
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return String(decoding: cmdline, as: UTF8.self).contains("sink-host")
        }
    }

    static func alive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return false
        }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    @Test(arguments: faults)
    func aFaultyPluginCostsItsDestinationRestartsAndNothingElse(_ fault: Fault) throws {
        let dir = TemporaryDirectory()
        let good = dir.file("good.ndjson")
        let bad = dir.file("bad.ndjson")
        var text = Self.streaming(good: good, bad: bad, process: fault.process, sendTimeoutMs: fault.sendTimeoutMs)
        text = text.replacingOccurrences(of: #""config": {"output": "\#(bad)"}"#, with: #""config": {"output": "\#(bad)", \#(fault.sink)}"#)
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: text)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        let daemon = server.process.processIdentifier
        let count = 100

        // Load while the faults happen; watch for the reason meanwhile.
        var sawReason = false
        var i = 0
        while i < count {
            try StreamingTestSupport.postPeople(client, count: 20, prefix: "l\(i)_", batch: 10)
            i += 20
            if let s = try? StreamingTestSupport.destinationStatus(client, id: "bad/q"), s["reason"]?.stringValue?.contains(fault.reason) == true {
                sawReason = true
            }
        }
        let all = Set(Int64(1)...Int64(count))
        let goodDone = StreamingTestSupport.eventually(timeout: 60) {
            Set(StreamingTestSupport.readLines(good).compactMap(DeliveryTests.seq)) == all
        }
        #expect(goodDone, "the healthy destination delivered everything: \(server.log.suffix(1500))")

        var dead: Set<Int64> = []
        let badDone = StreamingTestSupport.eventually(timeout: 240) {
            if !sawReason, let s = try? StreamingTestSupport.destinationStatus(client, id: "bad/q"),
                s["reason"]?.stringValue?.contains(fault.reason) == true
            {
                sawReason = true
            }
            let letters = (try? client.get("/api/t1/streaming/dlq?destination=bad/q&limit=1000"))?.json?["deadLetters"]?.arrayValue ?? []
            dead = Set(letters.compactMap { $0["seq"]?.int64Value })
            let delivered = Set(StreamingTestSupport.readLines(bad).compactMap(DeliveryTests.seq))
            return delivered.union(dead) == all
        }
        let status = try StreamingTestSupport.destinationStatus(client, id: "bad/q")
        #expect(badDone, "every message of the faulty destination is delivered or dead-lettered: \(status?.serializedString() ?? "")\n\(server.log.suffix(3000))")
        #expect(sawReason || server.log.contains(fault.reason), "the reason was reported: \(fault.reason)\n\(server.log.suffix(2000))")
        let restarts = status?["sinkProcess"]?["restarts"]?.int64Value ?? 0
        #expect(restarts >= 1)
        #expect(status?["sinkProcess"]?["lastFault"]?.stringValue?.hasPrefix("sink process") == true, "\(status?.serializedString() ?? "")")
        let reasons = server.log.split(separator: "\n").filter { $0.contains("messages in flight count as RETRY") }
        print("SinkIsolationTests [\(fault)]: \(count - dead.count) delivered, \(dead.count) dead-lettered, \(restarts) restarts; first fault: \(reasons.first.map { String($0.suffix(200)) } ?? "none")")
        #expect(server.log.contains("sink process restarted"), "the child was restarted")
        // The plugin's own log lines cross the socket and carry the destination's labels in the daemon's log.
        #expect(
            server.log.split(separator: "\n").contains { $0.contains("destination=bad/q") && $0.contains("test sink started") },
            "the child's log lines reach the daemon's log")
        if !dead.isEmpty {
            let letters = try client.get("/api/t1/streaming/dlq?destination=bad/q&limit=1000").json?["deadLetters"]?.arrayValue ?? []
            for l in letters {
                #expect(l["status"] == .string("SINK_CRASHED"), "\(l.serializedString())")
                #expect(l["reason"]?.stringValue?.contains("the sink process failed 3 times") == true, "\(l.serializedString())")
            }
        }
        #expect(server.process.isRunning && server.process.processIdentifier == daemon, "the daemon never changed")
        #expect(try client.get("/health").status == 200)
    }

    /// A message that crashes the child every time it is sent is dead-lettered `SINK_CRASHED` after
    /// `maxCrashesPerMessage` crashes; every other message, including those in flight beside it, is delivered.
    @Test func aPoisonMessageIsDeadLetteredAndItsNeighboursDelivered() throws {
        let dir = TemporaryDirectory()
        let good = dir.file("good.ndjson")
        let bad = dir.file("bad.ndjson")
        var text = Self.streaming(good: good, bad: bad)
        text = text.replacingOccurrences(of: #""config": {"output": "\#(bad)"}"#, with: #""config": {"output": "\#(bad)", "crashMarker": "CRASHME"}"#)
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: text)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        let daemon = server.process.processIdentifier
        try StreamingTestSupport.postPeople(client, count: 60, prefix: "p", name: { $0 % 25 == 7 ? "CRASHME\($0)" : "P\($0)" })
        let poison: Set<Int64> = [8, 33, 58]  // items 7, 32, 57
        let all = Set(Int64(1)...Int64(60))

        let drained = StreamingTestSupport.eventually(timeout: 120) {
            guard let s = try? StreamingTestSupport.destinationStatus(client, id: "bad/q") else { return false }
            return s["lagEvents"] == .number("0") && s["retryBacklog"] == .number("0") && s["deadLetterCount"] == .number("3")
        }
        #expect(drained, "\(server.log.suffix(3000))")
        #expect(Set(StreamingTestSupport.readLines(bad).compactMap(DeliveryTests.seq)) == all.subtracting(poison))
        #expect(Set(StreamingTestSupport.readLines(good).compactMap(DeliveryTests.seq)) == all)
        let letters = try client.get("/api/t1/streaming/dlq?destination=bad/q").json?["deadLetters"]?.arrayValue ?? []
        #expect(Set(letters.compactMap { $0["seq"]?.int64Value }) == poison)
        for l in letters {
            #expect(l["status"] == .string("SINK_CRASHED"))
            let reason = l["reason"]?.stringValue ?? ""
            #expect(reason.contains("the sink process failed 3 times") && reason.contains("signal 11 (SIGSEGV)"), "\(reason)")
        }
        #expect(server.process.isRunning && server.process.processIdentifier == daemon)
    }

    /// No child outlives the daemon: not after a `kill -9` of the daemon, and a clean shutdown stops them first.
    @Test func noSinkHostOutlivesTheDaemon() throws {
        for killed in [true, false] {
            let dir = TemporaryDirectory()
            let config = StreamingTestSupport.writeConfig(
                in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
                streaming: Self.streaming(good: dir.file("good.ndjson"), bad: dir.file("bad.ndjson")))
            let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
            let client = TestClient(baseURL: server.baseURL)
            try StreamingTestSupport.postPeople(client, count: 10, prefix: "k")
            let daemon = server.process.processIdentifier
            var children: [pid_t] = []
            #expect(StreamingTestSupport.eventually(timeout: 20) {
                children = Self.sinkHosts(of: daemon)
                return children.count == 1
            }, "one sink host for the one isolated destination")
            if killed {
                kill(daemon, SIGKILL)
            } else {
                server.process.interrupt()
            }
            server.process.waitUntilExit()
            let gone = StreamingTestSupport.eventually(timeout: 10) { children.allSatisfy { !Self.alive($0) } }
            #expect(gone, "\(killed ? "kill -9" : "SIGINT"): sink hosts \(children) still alive")
            if !killed {
                #expect(!server.log.contains("messages in flight count as RETRY"), "a clean stop is not a fault: \(server.log.suffix(1500))")
            }
        }
    }

    /// A plugin that calls back after `on_stop` (forbidden by the ABI) does not hurt the daemon, in process or in
    /// a child, across reloads that stop its instance.
    @Test(arguments: ["inProcess", "process"])
    func callbacksAfterStopAreHarmless(_ isolation: String) throws {
        let dir = TemporaryDirectory()
        let out = dir.file("out.ndjson")
        func streaming(_ batch: Int) -> String {
            """
            {"messaging": {"providers": {"p": {"plugin": "test", "isolation": "\(isolation)",
                                               "config": {"output": "\(out)", "callbacksAfterStop": true}}},
              "destinations": [{"provider": "p", "name": "q", "batch": {"maxMessages": \(batch), "lingerMs": 0}}]}}
            """
        }
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: streaming(5))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        let daemon = server.process.processIdentifier
        for round in 0..<3 {
            try StreamingTestSupport.postPeople(client, count: 10, prefix: "r\(round)_")
            #expect(StreamingTestSupport.eventually(timeout: 30) {
                StreamingTestSupport.readLines(out).compactMap(DeliveryTests.seq).count >= 10 * (round + 1)
            })
            // A changed destination replaces the worker: the old instance is stopped, and calls back afterwards.
            _ = StreamingTestSupport.writeConfig(in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: streaming(6 + round))
            #expect(try client.post("/api/admin/_reload", "").status == 200)
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(Set(StreamingTestSupport.readLines(out).compactMap(DeliveryTests.seq)) == Set(1...30))
        #expect(server.process.isRunning && server.process.processIdentifier == daemon)
        #expect(try client.get("/health").status == 200)
    }
}
