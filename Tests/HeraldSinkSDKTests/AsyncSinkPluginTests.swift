import CHeraldSink
import Dispatch
import Foundation
import HeraldSinkSDK
import Synchronization
import Testing

struct TestAsyncConfig: SinkConfiguration {
    static let pluginName = "async-test"
    var mode = "ok"
    var maxInFlight = 4

    init() {}

    static var keys: [SinkConfigKey<TestAsyncConfig>] {
        [
            .choice("mode", \.mode, ["ok", "slow", "hang", "stubborn"]),
            .int("maxInFlight", \.maxInFlight, in: 1...64, deprecatedNames: ["concurrency"]),
        ]
    }
}

/// An async sink whose `send` does what `mode` says: answer at once, after 300 ms, only when cancelled, or after
/// 600 ms whatever happens (it ignores cancellation).
final class TestAsyncSink: AsyncSinkPlugin {
    static let name = "async-test"
    static let version = "0.1.0"
    static let summary = "test"
    let config: TestAsyncConfig

    init(configuration: TestAsyncConfig, host: SinkHost) {
        config = configuration
    }

    var limits: SinkPluginLimits { SinkPluginLimits(maxInFlight: UInt32(config.maxInFlight)) }

    func send(_ batch: SinkBatch) async -> [SinkResult] {
        let n = batch.count
        switch config.mode {
        case "slow":
            try? await Task.sleep(for: .milliseconds(300))
        case "hang":
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                return Array(repeating: SinkResult(.retry, error: "cancelled"), count: n)
            }
        case "stubborn":
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(600)) { c.resume() }
            }
        default:
            break
        }
        return Array(repeating: .ok, count: n)
    }
}

/// A NUL-terminated error buffer as text.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs `body` on a thread of its own: Herald calls a plugin from its own threads, never from Swift's shared pool,
/// and the blocking calls of these tests (on_stop waits for sends) must leave the pool to the sends' tasks.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}

/// The async form driven through its C descriptor, as Herald drives it.
@Suite struct AsyncSinkPluginTests: Sendable {
    /// Made once (a static is initialized once, whichever test asks first): SinkExport's first call is not made
    /// concurrently by Herald either.
    static let address = UInt(bitPattern: SinkExport.descriptor(for: TestAsyncSink.self))

    var descriptor: UnsafePointer<herald_sink_descriptor> {
        UnsafePointer(bitPattern: Self.address)!
    }

    func create(_ host: SinkTestHost, _ config: String) throws -> OpaquePointer {
        var error = [CChar](repeating: 0, count: 512)
        let instance = descriptor.pointee.on_create!(host.api, config, config.utf8.count, &error, error.count)
        guard let instance else { throw SinkError(.permanent, cText(error)) }
        #expect(descriptor.pointee.on_start!(instance, &error, error.count) == 0)
        return instance
    }

    func send(_ instance: OpaquePointer, _ host: SinkTestHost) -> (SinkTestHost.Batch, Double) {
        let batch = host.batch([.init(id: "1", key: "k1", body: "a"), .init(id: "2", key: "k2", body: "b")])
        let start = Date()
        descriptor.pointee.on_send_batch!(instance, batch.raw)
        return (batch, Date().timeIntervalSince(start))
    }

    @Test func theDescriptorIsAsyncWithTheSchemaOfTheDeclaration() {
        #expect(descriptor.pointee.capabilities & UInt64(HERALD_SINK_CAP_ASYNC) != 0)
        #expect(descriptor.pointee.on_flush == nil)
        let schema = String(cString: descriptor.pointee.config_schema!)
        #expect(schema == TestAsyncConfig.schema && schema.contains(#""maxInFlight""#))
        var error = [CChar](repeating: 0, count: 256)
        let good = #"{"mode": "ok"}"#
        #expect(descriptor.pointee.on_validate_config!(good, good.utf8.count, &error, error.count) == 0)
        let bad = #"{"mode": "fast"}"#
        #expect(descriptor.pointee.on_validate_config!(bad, bad.utf8.count, &error, error.count) != 0)
        #expect(cText(error).contains("mode: 'fast' is not one of"))
    }

    @Test func sendReturnsAtOnceAndTheBatchCompletesWhenTheTaskEnds() async throws {
        try await offPool { try self.sendReturnsAtOnceAndTheBatchCompletesWhenTheTaskEndsBody() }
    }

    func sendReturnsAtOnceAndTheBatchCompletesWhenTheTaskEndsBody() throws {
        let host = SinkTestHost()
        let instance = try create(host, #"{"mode": "slow"}"#)
        // Whatever fails below, the instance is stopped and destroyed (on_destroy waits for its sends) before the
        // host goes away: a send completing into a freed host corrupted the heap of the whole test process.
        var destroyed = false
        defer {
            if !destroyed {
                descriptor.pointee.on_stop!(instance, 1000)
                descriptor.pointee.on_destroy!(instance)
            }
        }
        let (batch, elapsed) = send(instance, host)
        #expect(elapsed < 0.1, "on_send_batch waited \(elapsed) s for the send")
        #expect(host.results(batch.id) == nil, "completed before the send's 300 ms")
        let results = host.waitForResults(batch.id, timeoutMs: 5000)
        #expect(results?.map(\.status) == [.ok, .ok])
        descriptor.pointee.on_stop!(instance, 1000)
        descriptor.pointee.on_destroy!(instance)
        destroyed = true
        #expect(host.completionCount(batch.id) == 1)
    }

    /// The sends run on the SDK's own threads: with every thread of Swift's global pool held (a busy host, or
    /// this test process's synchronous tests), a batch still completes and a stop still cancels at once.
    @Test func sendsDoNotWaitForSwiftsGlobalPool() async throws {
        try await offPool { try self.sendsDoNotWaitForSwiftsGlobalPoolBody() }
    }

    func sendsDoNotWaitForSwiftsGlobalPoolBody() throws {
        let width = ProcessInfo.processInfo.activeProcessorCount
        let release = DispatchSemaphore(value: 0)
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let holding = Counter()
        for _ in 0..<width {
            Task.detached {
                holding.value.add(1, ordering: .relaxed)
                release.wait()  // holds a pool thread until the end of the test
            }
        }
        var released = false
        func releasePool() {
            if released { return }
            released = true
            for _ in 0..<width { release.signal() }
        }
        defer { releasePool() }
        // At most 1 s: other suites of this process share the pool, and holding part of it while waiting for the
        // rest starved them (a full run lost a 20 s wait in StorageFaultTests to a 10 s wait here). If the
        // blockers have not all started by then, other tests hold the rest: the pool is just as busy.
        let deadline = Date().addingTimeInterval(1)
        while holding.value.load(ordering: .relaxed) < width && Date() < deadline { usleep(1000) }

        let host = SinkTestHost()
        let instance = try create(host, #"{"mode": "slow"}"#)
        var destroyed = false
        defer {
            if !destroyed {
                releasePool()
                descriptor.pointee.on_stop!(instance, 1000)
                descriptor.pointee.on_destroy!(instance)
            }
        }
        let (batch, _) = send(instance, host)
        let results = host.waitForResults(batch.id, timeoutMs: 3000)
        #expect(results?.map(\.status) == [.ok, .ok], "the send waited for the global pool")
        let (hanging, _) = send(instance, host)
        let start = Date()
        descriptor.pointee.on_stop!(instance, 5000)
        #expect(Date().timeIntervalSince(start) < 2, "the cancelled send waited for the global pool")
        #expect(host.results(hanging.id) != nil)
        releasePool()  // before on_destroy, which waits for every send to return
        descriptor.pointee.on_destroy!(instance)
        destroyed = true
    }

    @Test func atMostMaxInFlightSendsRunAndStopCancelsThem() async throws {
        try await offPool { try self.atMostMaxInFlightSendsRunAndStopCancelsThemBody() }
    }

    func atMostMaxInFlightSendsRunAndStopCancelsThemBody() throws {
        let host = SinkTestHost()
        // The older name of maxInFlight: read, with a warning in the log.
        let instance = try create(host, #"{"mode": "hang", "concurrency": 2}"#)
        #expect(host.logs.contains { $0.level == .warning && $0.message.contains("'concurrency'") })
        var limits = herald_sink_limits()
        limits.struct_size = MemoryLayout<herald_sink_limits>.size
        descriptor.pointee.on_get_limits!(instance, &limits)
        #expect(limits.max_in_flight == 2)
                let (first, _) = send(instance, host)
        let (second, _) = send(instance, host)
        let (third, _) = send(instance, host)
        // Not `#require`: a throw here would skip on_stop and on_destroy, and the hanging sends would complete
        // into a freed host.
        let over = host.results(third.id)
        #expect(over != nil, "a batch over maxInFlight completes at once")
        #expect(over?.allSatisfy { $0.status == .retry && $0.error?.contains("max_in_flight") == true } == true)
        #expect(host.results(first.id) == nil && host.results(second.id) == nil)
        let start = Date()
        descriptor.pointee.on_stop!(instance, 5000)
        #expect(Date().timeIntervalSince(start) < 2, "the sends were not cancelled: stop waited for them")
        // Cancelled within the deadline, they completed with what the plugin answered.
        #expect(host.results(first.id)?.map(\.error) == ["cancelled", "cancelled"])
        #expect(host.results(second.id)?.map(\.error) == ["cancelled", "cancelled"])
        descriptor.pointee.on_destroy!(instance)
    }

    @Test func stopKeepsHeraldsDeadlineAndNothingCompletesAfterIt() async throws {
        try await offPool { try self.stopKeepsHeraldsDeadlineAndNothingCompletesAfterItBody() }
    }

    func stopKeepsHeraldsDeadlineAndNothingCompletesAfterItBody() throws {
        let host = SinkTestHost()
        let instance = try create(host, #"{"mode": "stubborn"}"#)
        let (batch, _) = send(instance, host)
        let start = Date()
        descriptor.pointee.on_stop!(instance, 100)
        let stopped = Date().timeIntervalSince(start)
        #expect(stopped >= 0.09 && stopped < 0.5, "on_stop took \(stopped) s for a deadline of 100 ms")
        // on_destroy waits for the send still running (it may read its batch) …
        descriptor.pointee.on_destroy!(instance)
        #expect(Date().timeIntervalSince(start) >= 0.5, "on_destroy returned while a send was still running")
        // … and its late answer never reaches Herald.
        #expect(host.completionCount(batch.id) == 0)
    }
}
