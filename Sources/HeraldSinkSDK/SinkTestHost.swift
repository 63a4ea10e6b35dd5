#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHeraldSink
import Synchronization

/// A host for testing a sink in process, without Herald: it lends the sink a real `herald_sink_host_api` table and
/// real `herald_sink_batch` memory, and records what the sink reports (completions, log lines, health, counters).
///
///     let test = SinkTestHost(destination: "events")
///     let sink = try MySink(config: #"{"path": "/tmp/x"}"#, host: test.host)
///     let batch = test.batch([.init(id: "1", key: "entities/1", body: "{}")])
///     try sink.send(batch.batch, completion: batch.completion)
///     #expect(test.waitForResults(batch.id)?.map(\.status) == [.ok])
///
/// It also drives a plugin through its C descriptor (`create`), exactly as Herald calls it.
public final class SinkTestHost: Sendable {
    public struct Message: Sendable {
        public var id: String
        public var key: String
        public var body: [UInt8]
        public var headers: [(name: String, value: String)]
        public var attempt: UInt32

        public init(
            id: String, key: String, body: String, headers: [(name: String, value: String)] = [], attempt: UInt32 = 1
        ) {
            self.init(id: id, key: key, bytes: Array(body.utf8), headers: headers, attempt: attempt)
        }

        public init(
            id: String, key: String, bytes: [UInt8], headers: [(name: String, value: String)] = [], attempt: UInt32 = 1
        ) {
            self.id = id
            self.key = key
            self.body = bytes
            self.headers = headers
            self.attempt = attempt
        }
    }

    /// A batch whose memory this host owns (freed with the host), and its completion.
    public struct Batch: Sendable {
        public let id: UInt64
        public let batch: SinkBatch
        public let completion: SinkCompletion
        /// The raw batch, for a plugin driven through its descriptor.
        public var raw: UnsafePointer<herald_sink_batch> { batch.raw }
    }

    struct Recorded {
        var completions: [UInt64: [SinkResult]] = [:]
        var completionCounts: [UInt64: Int] = [:]
        var logs: [(SinkHost.LogLevel, String)] = []
        var health: [(Bool, String)] = []
        var counters: [String: UInt64] = [:]
    }

    private let recorded = Mutex(Recorded())
    /// Addresses (as integers) of what this host allocated, freed with it.
    private let allocations = Mutex<[UInt]>([])
    private let nextBatch = Atomic<UInt64>(1)
    public let destination: String
    private let apiAddress: UInt
    /// The host table, as Herald passes it to `on_create`.
    public var api: UnsafePointer<herald_sink_host_api> { UnsafePointer(bitPattern: apiAddress)! }
    /// The functions for a `SinkPlugin` created directly (not through its descriptor).
    public let host: SinkHost

    public init(destination: String = "test-destination") {
        self.destination = destination
        let table = UnsafeMutablePointer<herald_sink_host_api>.allocate(capacity: 1)
        let name = strdup(destination)!
        table.initialize(
            to: herald_sink_host_api(
                struct_size: MemoryLayout<herald_sink_host_api>.size, abi_major: UInt16(HERALD_SINK_ABI_MAJOR),
                abi_minor: UInt16(HERALD_SINK_ABI_MINOR), host: nil, callback_log: testLog,
                callback_metric_counter: testCounter, callback_metric_gauge: testGauge,
                callback_complete_batch: testComplete, callback_set_health: testHealth,
                destination_name: UnsafePointer(name), destination_name_len: destination.utf8.count))
        apiAddress = UInt(bitPattern: table)
        host = SinkHost(api: UnsafePointer(table))
        allocations.withLock { $0 = [UInt(bitPattern: table), UInt(bitPattern: name)] }
        table.pointee.host = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        for p in allocations.withLock({ $0 }) { free(UnsafeMutableRawPointer(bitPattern: p)) }
    }

    private func keep(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
        let p = malloc(max(1, bytes.count))!.bindMemory(to: CChar.self, capacity: max(1, bytes.count))
        bytes.withUnsafeBytes { b in if let base = b.baseAddress { memcpy(p, base, b.count) } }
        allocations.withLock { $0.append(UInt(bitPattern: p)) }
        return p
    }

    /// Lays out a batch as Herald does (ABI 1.1 structs), valid until the host is released.
    public func batch(_ messages: [Message], destination: String? = nil, ordered: Bool = false) -> Batch {
        let id = nextBatch.add(1, ordering: .relaxed).oldValue
        let raw = UnsafeMutablePointer<herald_sink_message>.allocate(capacity: max(1, messages.count))
        for (i, m) in messages.enumerated() {
            let headers = UnsafeMutablePointer<herald_sink_header>.allocate(capacity: max(1, m.headers.count))
            for (j, h) in m.headers.enumerated() {
                headers[j] = herald_sink_header(
                    name: keep(Array(h.name.utf8)), name_len: h.name.utf8.count, value: keep(Array(h.value.utf8)),
                    value_len: h.value.utf8.count)
            }
            let body = keep(m.body)
            raw[i] = herald_sink_message(
                struct_size: MemoryLayout<herald_sink_message>.size, id: keep(Array(m.id.utf8)), id_len: m.id.utf8.count,
                key: keep(Array(m.key.utf8)), key_len: m.key.utf8.count,
                body: UnsafeRawPointer(body).assumingMemoryBound(to: UInt8.self), body_len: m.body.count,
                headers: headers, header_count: m.headers.count, attempt: m.attempt)
            allocations.withLock { $0.append(UInt(bitPattern: headers)) }
        }
        let name = destination ?? self.destination
        let b = UnsafeMutablePointer<herald_sink_batch>.allocate(capacity: 1)
        b.initialize(
            to: herald_sink_batch(
                struct_size: MemoryLayout<herald_sink_batch>.size, batch_id: id, destination: keep(Array(name.utf8)),
                destination_len: name.utf8.count, messages: raw, message_count: messages.count,
                flags: ordered ? UInt32(HERALD_SINK_BATCH_ORDERED) : 0))
        allocations.withLock { $0 += [UInt(bitPattern: raw), UInt(bitPattern: b)] }
        return Batch(
            id: id, batch: SinkBatch(raw: UnsafePointer(b)),
            completion: SinkCompletion(api: api, batchId: id, count: messages.count))
    }

    /// The results a batch was completed with, nil while it is not.
    public func results(_ batchId: UInt64) -> [SinkResult]? {
        recorded.withLock { $0.completions[batchId] }
    }

    /// How many times a batch was completed (the ABI allows exactly one).
    public func completionCount(_ batchId: UInt64) -> Int {
        recorded.withLock { $0.completionCounts[batchId] ?? 0 }
    }

    /// Waits (polling) until the batch is completed or `timeoutMs` passed.
    public func waitForResults(_ batchId: UInt64, timeoutMs: UInt64 = 10_000) -> [SinkResult]? {
        let deadline = monotonicMs() + timeoutMs
        while monotonicMs() < deadline {
            if let r = results(batchId) { return r }
            usleep(1000)
        }
        return results(batchId)
    }

    public var logs: [(level: SinkHost.LogLevel, message: String)] { recorded.withLock { $0.logs.map { ($0.0, $0.1) } } }
    public var health: [(healthy: Bool, reason: String)] { recorded.withLock { $0.health.map { ($0.0, $0.1) } } }
    public func counter(_ name: String) -> UInt64 { recorded.withLock { $0.counters[name] ?? 0 } }

    fileprivate func record(_ update: (inout Recorded) -> Void) { recorded.withLock { update(&$0) } }

    fileprivate static func from(_ host: UnsafeMutableRawPointer?) -> SinkTestHost {
        Unmanaged<SinkTestHost>.fromOpaque(host!).takeUnretainedValue()
    }
}

private func text(_ p: UnsafePointer<CChar>?, _ n: Int) -> String {
    guard let p, n > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
}

private let testLog: @convention(c) (UnsafeMutableRawPointer?, herald_sink_log_level, UnsafePointer<CChar>?, Int) -> Void =
    { host, level, message, length in
        let l: SinkHost.LogLevel =
            switch level {
            case HERALD_SINK_LOG_TRACE: .trace
            case HERALD_SINK_LOG_DEBUG: .debug
            case HERALD_SINK_LOG_INFO: .info
            case HERALD_SINK_LOG_WARNING: .warning
            default: .error
            }
        SinkTestHost.from(host).record { $0.logs.append((l, text(message, length))) }
    }

private let testCounter: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, UInt64) -> Void = {
    host, name, length, delta in
    SinkTestHost.from(host).record { $0.counters[text(name, length), default: 0] += delta }
}

private let testGauge: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, Double) -> Void = {
    _, _, _, _ in
}

private let testComplete:
    @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafePointer<herald_sink_result>?, Int) -> Void = {
        host, batchId, results, count in
        let copied = (0..<count).map { i -> SinkResult in
            let r = results![i]
            return SinkResult(
                SinkStatus(rawValue: r.status.rawValue) ?? .retry, retryAfterMs: r.retry_after_ms,
                error: r.error.map { text($0, r.error_len) })
        }
        SinkTestHost.from(host).record {
            $0.completionCounts[batchId, default: 0] += 1
            if $0.completions[batchId] == nil { $0.completions[batchId] = copied }
        }
    }

private let testHealth: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int) -> Void = {
    host, healthy, reason, length in
    SinkTestHost.from(host).record { $0.health.append((healthy != 0, text(reason, length))) }
}

/// Milliseconds of the monotonic clock (deadlines).
func monotonicMs() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1000 + UInt64(t.tv_nsec) / 1_000_000
}
