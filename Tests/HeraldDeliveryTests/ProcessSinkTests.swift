import Foundation
import HeraldModel
import HeraldPlugins
import HeraldTestSupport
import Logging
import Testing

/// `ProcessSink`: the C test sink in `herald sink-host`, faults made from outside (signals) or by the plugin's
/// configuration, and what the daemon side makes of them.
/// Not `.blocking`: the sends are async, and what blocks (a child's start and stop) runs through `offPool`.
@Suite(.timeLimit(.minutes(3)))
struct ProcessSinkTests {
    static let library = BuildProducts.directory + "/libherald-sink-test.so"

    static func options(_ change: (inout ProcessSinkOptions) -> Void = { _ in }) -> ProcessSinkOptions {
        var o = ProcessSinkOptions()
        o.restartBackoffInitialMs = 50
        o.restartBackoffMaxMs = 400
        change(&o)
        return o
    }

    /// Creates and starts the sink on a thread of its own (a child's start blocks until its instance started).
    static func make(
        _ config: String, isolation: SinkIsolationMode = .process, options: ProcessSinkOptions = options()
    ) async throws -> any SinkHandle {
        let plugin = try PluginLoader.load(library: library)
        return try await offPool {
            try SinkFactory.make(
                plugin: plugin, alias: "p", destination: "q", config: config, logger: Logger(label: "test"), isolation: isolation,
                options: options)
        }
    }

    /// Stops and destroys the sink on a thread of its own.
    static func destroy(_ sink: any SinkHandle) async {
        _ = try? await offPool { sink.destroy() }
    }

    static func messages(_ range: Range<Int>, body: (Int) -> String = { "{\"n\":\($0)}" }) -> [OutboundMessage] {
        range.map { i in
            OutboundMessage(
                message: DeliveryMessage(
                    seq: Int64(i), id: "m-\(i)", key: "entities/\(i)", eventType: "ENTITY_CREATED", objectURI: "entities/\(i)",
                    headers: [MessageHeader("tenantId", "t"), MessageHeader("messageId", "m-\(i)")], body: Array(body(i).utf8)),
                attempt: 1)
        }
    }

    static func childPID(_ sink: any SinkHandle) throws -> pid_t {
        try #require((sink as? ProcessSink)?.childPID)
    }

    /// The plugin cannot tell the difference: the same batches give the same results, error texts and limits in
    /// a child process as in the daemon.
    @Test func theSameBatchesGiveTheSameResultsInAChildProcess() async throws {
        let config = #"{"retryEveryNth": 3, "throttleEveryNth": 5, "retryAfterMs": 70, "permanentMarker": "POISON", "maxMessageBytes": 40, "maxBatchMessages": 7, "maxInFlight": 2}"#
        var answers: [[MessageResult]] = []
        var limits: [SinkLimits] = []
        for isolation in [SinkIsolationMode.inProcess, .process] {
            let sink = try await Self.make(config, isolation: isolation)
            limits.append(sink.limits)
            var all: [MessageResult] = []
            for batch in [0..<7, 7..<14, 14..<16] {
                all += await sink.send(
                    destination: "q",
                    messages: Self.messages(batch) { i in i == 7 ? "POISON" : i == 12 ? String(repeating: "x", count: 41) : "{\"n\":\(i)}" },
                    timeout: .seconds(10))
            }
            answers.append(all)
            await Self.destroy(sink)
        }
        #expect(limits[0] == limits[1])
        #expect(limits[1].maxBatchMessages == 7 && limits[1].maxInFlight == 2 && limits[1].maxMessageBytes == 40)
        #expect(answers[0] == answers[1])
        let statuses = answers[1].map(\.status)
        #expect(statuses.count == 16)
        #expect(
            statuses.contains(.permanent) && statuses.contains(.tooLarge) && statuses.contains(.throttled) && statuses.contains(.retry),
            "\(statuses)")
        #expect(answers[1].contains { $0.status == .throttled && $0.retryAfterMs == 70 })
        #expect(answers[1].allSatisfy { !$0.sinkFault })
    }

    /// A child that dies from a signal: every batch in flight comes back RETRY with the reason and marked as a sink
    /// fault, the sink is unhealthy with that reason, a new child takes over, and completing a batch makes it
    /// healthy again.
    @Test func aCrashAnswersEveryBatchInFlightAndANewChildTakesOver() async throws {
        let sink = try await Self.make(#"{"completionDelayMs": 3000}"#)
        let first = try Self.childPID(sink)
        async let a = sink.send(destination: "q", messages: Self.messages(0..<3), timeout: .seconds(20))
        async let b = sink.send(destination: "q", messages: Self.messages(3..<5), timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(300))
        #expect(sink.inFlight == 2)
        kill(first, SIGSEGV)
        let (ra, rb) = await (a, b)
        for r in ra + rb {
            #expect(r.status == .retry && r.sinkFault)
            #expect(r.error?.contains("sink process exited on signal 11 (SIGSEGV) while sending batch") == true, "\(r.error ?? "")")
        }
        #expect(ra.count == 3 && rb.count == 2)
        let health = sink.health
        #expect(!health.healthy && health.reason.contains("SIGSEGV"), "\(health)")

        // The next batch waits for the new child, which completes it.
        let again = await sink.send(destination: "q", messages: Self.messages(5..<6), timeout: .seconds(20))
        #expect(again.map(\.status) == [.ok])
        #expect(sink.health.healthy, "healthy again once the new child completed a batch: \(sink.health)")
        #expect((sink as? ProcessSink)?.restarts == 1)
        #expect(try Self.childPID(sink) != first)
        await Self.destroy(sink)
    }

    /// A batch not completed within the send timeout: the child is killed (it cannot be trusted with more), the
    /// batch is RETRY with the reason, and the next child carries on.
    @Test func aBatchNotCompletedInTimeKillsTheChild() async throws {
        let sink = try await Self.make(#"{"neverCompleteBatch": 2}"#)
        let first = try Self.childPID(sink)
        #expect(await sink.send(destination: "q", messages: Self.messages(0..<2), timeout: .seconds(5)).map(\.status) == [.ok, .ok])
        let stuck = await sink.send(destination: "q", messages: Self.messages(2..<4), timeout: .milliseconds(300))
        #expect(stuck.allSatisfy { $0.status == .retry && $0.sinkFault && ($0.error ?? "").contains("did not complete batch") }, "\(stuck)")
        #expect(await sink.send(destination: "q", messages: Self.messages(2..<4), timeout: .seconds(5)).map(\.status) == [.ok, .ok])
        #expect(try Self.childPID(sink) != first)
        #expect(kill(first, 0) != 0, "the stuck child is gone")
        await Self.destroy(sink)
    }

    /// A child that stops answering altogether (stopped by a signal: no heartbeat) is killed and replaced.
    @Test func aChildWithoutHeartbeatIsKilledAndReplaced() async throws {
        let sink = try await Self.make(
            #"{}"#, options: Self.options { $0.heartbeatIntervalMs = 50; $0.heartbeatTimeoutMs = 400 })
        let first = try Self.childPID(sink)
        kill(first, SIGSTOP)
        let replaced = await eventuallyAsync(timeout: 10) { (sink as? ProcessSink)?.childPID.map { $0 != first } ?? false }
        #expect(replaced)
        #expect(sink.health.reason.contains("no heartbeat for"), "\(sink.health)")
        #expect(await sink.send(destination: "q", messages: Self.messages(0..<1), timeout: .seconds(5)).map(\.status) == [.ok])
        await Self.destroy(sink)
    }

    /// The memory limit without a cgroup (where none can be made): the daemon watches the child's resident memory
    /// and kills it past the limit. (With a cgroup: SinkIsolationTests, where this machine allows one.)
    @Test func aChildPastItsMemoryLimitIsKilledWithoutACgroup() async throws {
        let sink = try await Self.make(
            #"{"allocateMbPerBatch": 64}"#, options: Self.options { $0.memoryLimitMb = 200; $0.memoryCgroup = false })
        let first = try Self.childPID(sink)
        var faults: [MessageResult] = []
        for i in 0..<12 where faults.isEmpty {
            let r = await sink.send(destination: "q", messages: Self.messages(i..<(i + 1)), timeout: .seconds(10))
            faults = r.filter(\.sinkFault)
            if faults.isEmpty { try await Task.sleep(for: .milliseconds(150)) }  // the watch samples every 100 ms
        }
        let reason = faults.first?.error ?? (sink as? ProcessSink)?.lastFault ?? "no fault"
        #expect(reason.contains("resident memory") && reason.contains("passed memoryLimitMb 200"), "\(reason)")
        #expect(((sink as? ProcessSink)?.restarts ?? 0) >= 1)
        #expect(await eventuallyAsync(timeout: 10) { (sink as? ProcessSink)?.childPID.map { $0 != first } ?? false })
        await Self.destroy(sink)
    }

    /// A plugin that fails to start reads the same in a child as in process; the child is gone afterwards.
    @Test func aStartFailureReadsAsInProcess() async throws {
        var messages: [String] = []
        for isolation in [SinkIsolationMode.inProcess, .process] {
            do {
                _ = try await Self.make(#"{"failStart": true}"#, isolation: isolation)
                Issue.record("started")
            } catch let error as PluginLoadError {
                #expect(error.code == .startFailed)
                messages.append(error.message)
            }
        }
        #expect(messages.count == 2 && messages[0] == messages[1], "\(messages)")
    }

    /// Health the plugin reports crosses the socket (metrics and logs: PluginMetricsTests and SinkIsolationTests,
    /// whose plugins run in a child by default).
    @Test func healthCrossesTheSocket() async throws {
        let sink = try await Self.make(#"{"unhealthyAfterBatches": 2}"#)
        _ = await sink.send(destination: "q", messages: Self.messages(0..<3), timeout: .seconds(5))
        #expect(sink.health.healthy)
        _ = await sink.send(destination: "q", messages: Self.messages(3..<4), timeout: .seconds(5))
        #expect(await eventuallyAsync(timeout: 5) { !sink.health.healthy })
        #expect(sink.health.reason == "injected unhealthy")
        await Self.destroy(sink)
    }
}

func eventuallyAsync(timeout: Double, _ condition: () async throws -> Bool) async -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return (try? await condition()) == true
}
