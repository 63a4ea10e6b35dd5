import CHeraldSink
import Dispatch
import Foundation
import HeraldModel
import Logging
import Synchronization

/// The outcome of one message, as a plugin reported it.
public enum SinkStatus: Int32, Sendable, CustomStringConvertible {
    case ok = 0
    case retry = 1
    case throttled = 2
    case permanent = 3
    case tooLarge = 4

    public var description: String {
        switch self {
        case .ok: return "OK"
        case .retry: return "RETRY"
        case .throttled: return "THROTTLED"
        case .permanent: return "PERMANENT"
        case .tooLarge: return "TOO_LARGE"
        }
    }
}

public struct MessageResult: Sendable, Equatable {
    public var status: SinkStatus
    public var retryAfterMs: UInt32
    public var error: String?
    /// The message was in flight when its sink process crashed, exited or was killed (`isolation: "process"`):
    /// the delivery loop counts these per message and dead-letters one that keeps doing it (`SINK_CRASHED`).
    public var sinkFault: Bool

    public init(status: SinkStatus, retryAfterMs: UInt32 = 0, error: String? = nil, sinkFault: Bool = false) {
        self.status = status
        self.retryAfterMs = retryAfterMs
        self.error = error
        self.sinkFault = sinkFault
    }
}

/// A plugin's limits after clamping (0 from the plugin means "no limit of its own").
public struct SinkLimits: Sendable, Equatable {
    public var maxMessageBytes: Int
    public var maxBatchMessages: Int
    public var maxBatchBytes: Int
    public var maxInFlight: Int
    /// The destination needs each key's messages in order (`HERALD_SINK_LIMIT_KEY_ORDER`, ABI 1.1).
    public var requiresKeyOrder: Bool = false
}

/// One message handed to `SinkInstance.send`.
public struct OutboundMessage: Sendable {
    public var message: DeliveryMessage
    /// 1 on the first attempt.
    public var attempt: UInt32

    public init(message: DeliveryMessage, attempt: UInt32) {
        self.message = message
        self.attempt = attempt
    }
}

/// The host side of one plugin instance: the function table the plugin calls back into,
/// batch memory that stays valid until completion, timeouts and health. It runs the plugin in this process
/// (`isolation: "inProcess"`); `herald sink-host` runs one of these in a child process for `ProcessSink`.
public final class SinkInstance: SinkHandle, @unchecked Sendable {
    public let plugin: LoadedPlugin
    /// The provider alias this instance serves (for logs and metrics).
    public let alias: String
    /// The destination's name, NUL-terminated, lent to the plugin through the host table; kept, like the
    /// table, for as long as the process lives (a plugin may read it until on_destroy returns).
    private let destinationName: UnsafeMutablePointer<CChar>
    private let destinationNameLength: Int
    public private(set) var limits = SinkLimits(maxMessageBytes: 0, maxBatchMessages: 100, maxBatchBytes: 0, maxInFlight: 1)
    let logger: Logger
    let metricsHandler: @Sendable (String, Double, Bool) -> Void
    /// Told every health report that changes the health or its reason (the sink host forwards them).
    let healthHandler: (@Sendable (Bool, String) -> Void)?

    private var instance: OpaquePointer?
    private let hostTable: UnsafeMutablePointer<herald_sink_host_api>
    /// Calls into the plugin run here, never on the Swift concurrency pool (a plugin may block).
    private let callQueue: DispatchQueue
    private let state = Mutex(State())
    private let nextBatchId = Atomic<UInt64>(1)

    struct Pending {
        var arena: BatchArena
        var count: Int
        /// Takes the results, once (nil after the timeout or the stop answered for the plugin).
        var continuation: (@Sendable ([MessageResult]) -> Void)?
        var timedOut: Bool
    }

    struct State {
        var pending: [UInt64: Pending] = [:]
        var stopped = false
        var stopReturned = false
        var healthy = true
        var healthReason = ""
        var leakedBatches = 0
        var diagnostics = SinkDiagnostics()
        /// Batches whose on_send_batch call is running, with the calling thread.
        var sending: [UInt64: UInt] = [:]
    }

    /// Every live instance is kept here: the plugin holds a pointer to it (`host`), and a
    /// misbehaving plugin calling back late must not reach freed memory.
    nonisolated(unsafe) private static var keepAlive: [SinkInstance] = []
    private static let keepAliveLock = NSLock()

    /// Creates an instance from a JSON configuration (validated first).
    /// - Parameter destination: the destination's `name` (what batches carry), given to the plugin at create.
    public init(
        plugin: LoadedPlugin, alias: String, destination: String = "", config: String, logger: Logger,
        metrics: @escaping @Sendable (String, Double, Bool) -> Void = { _, _, _ in },
        health: (@Sendable (Bool, String) -> Void)? = nil
    ) throws(PluginLoadError) {
        self.plugin = plugin
        self.alias = alias
        let nameBytes = Array(destination.utf8CString)
        destinationName = UnsafeMutablePointer<CChar>.allocate(capacity: nameBytes.count)
        destinationName.initialize(from: nameBytes, count: nameBytes.count)
        destinationNameLength = nameBytes.count - 1
        var logger = logger
        logger[metadataKey: "plugin"] = "\(plugin.name)"
        logger[metadataKey: "provider"] = "\(alias)"
        self.logger = logger
        self.metricsHandler = metrics
        self.healthHandler = health
        callQueue = DispatchQueue(label: "herald.sink.\(alias)")
        hostTable = UnsafeMutablePointer<herald_sink_host_api>.allocate(capacity: 1)
        if let problem = plugin.validate(config: config) {
            hostTable.deallocate()
            throw PluginLoadError(.configInvalid, "plugin '\(plugin.name)' rejected the configuration of '\(alias)': \(problem)")
        }
        SinkInstance.keepAliveLock.withLock { SinkInstance.keepAlive.append(self) }
        hostTable.initialize(
            to: herald_sink_host_api(
                struct_size: MemoryLayout<herald_sink_host_api>.size, abi_major: UInt16(HERALD_SINK_ABI_MAJOR),
                abi_minor: UInt16(HERALD_SINK_ABI_MINOR), host: Unmanaged.passUnretained(self).toOpaque(),
                callback_log: hostLog, callback_metric_counter: hostCounter, callback_metric_gauge: hostGauge,
                callback_complete_batch: hostComplete, callback_set_health: hostHealth,
                destination_name: destinationName, destination_name_len: destinationNameLength))
        var error = [CChar](repeating: 0, count: 1024)
        let created = config.withCString { text in
            plugin.descriptor.pointee.on_create(UnsafePointer(hostTable), text, strlen(text), &error, error.count)
        }
        guard let created else {
            let message = cString(error)
            throw PluginLoadError(
                .createFailed, "plugin '\(plugin.name)' could not create '\(alias)': \(message.isEmpty ? "no reason given" : message)")
        }
        instance = created
        var raw = herald_sink_limits()
        raw.struct_size = MemoryLayout<herald_sink_limits>.size
        plugin.descriptor.pointee.on_get_limits(created, &raw)
        let asyncCapable = plugin.isAsync
        limits = SinkLimits(
            maxMessageBytes: Int(raw.max_message_bytes), maxBatchMessages: raw.max_batch_messages == 0 ? 1000 : Int(raw.max_batch_messages),
            maxBatchBytes: Int(raw.max_batch_bytes),
            maxInFlight: asyncCapable ? max(1, Int(raw.max_in_flight)) : 1,
            requiresKeyOrder: raw.flags & UInt32(HERALD_SINK_LIMIT_KEY_ORDER) != 0)
    }

    /// Starts the instance (connects, opens files…).
    public func start() throws(PluginLoadError) {
        guard let instance else { throw PluginLoadError(.startFailed, "instance was destroyed") }
        var error = [CChar](repeating: 0, count: 1024)
        let status = callQueue.sync { plugin.descriptor.pointee.on_start(instance, &error, error.count) }
        if status != 0 {
            let message = cString(error)
            setHealth(false, "start failed: \(message)")
            throw PluginLoadError(.startFailed, "'\(alias)' (\(plugin.name)) did not start: \(message)")
        }
    }

    public var health: (healthy: Bool, reason: String) {
        state.withLock { ($0.healthy, $0.healthReason) }
    }

    func setHealth(_ healthy: Bool, _ reason: String) {
        let (changed, reported) = state.withLock { s -> (Bool, Bool) in
            defer {
                s.healthy = healthy
                s.healthReason = reason
            }
            return (s.healthy != healthy, s.healthy != healthy || s.healthReason != reason)
        }
        if reported { healthHandler?(healthy, reason) }
        if changed {
            if healthy {
                logger.info("sink healthy again")
            } else {
                logger.warning("sink unhealthy: \(reason)")
            }
        }
    }

    /// Contract observations, for `herald plugins check`.
    public var diagnostics: SinkDiagnostics { state.withLock { $0.diagnostics } }

    /// Batches handed to the plugin and not completed yet.
    public var inFlight: Int { state.withLock { $0.pending.values.filter { !$0.timedOut }.count } }

    /// Sends one batch and returns one result per message.
    ///
    /// A batch not completed within `timeout` counts as RETRY for every message and the instance is
    /// reported unhealthy; its memory stays valid until the plugin completes it after all.
    public func send(destination: String, messages: [OutboundMessage], ordered: Bool = false, timeout: Duration) async
        -> [MessageResult]
    {
        if messages.isEmpty { return [] }
        let arena = BatchArena(batchId: 0, destination: destination, ordered: ordered, messages: messages)
        return await withCheckedContinuation { (continuation: CheckedContinuation<[MessageResult], Never>) in
            send(arena: arena, count: messages.count, timeout: timeout) { continuation.resume(returning: $0) }
        }
    }

    /// Hands a batch whose memory is ready to the plugin: registered and queued for `on_send_batch` before this
    /// returns, so batches reach the plugin in the order of these calls. `completion` gets one result per
    /// message, once: the plugin's, or RETRY at the timeout (nil: none; `herald sink-host` leaves timeouts to the
    /// daemon) or at the stop. The instance owns `arena` from here on.
    func send(arena: BatchArena, count: Int, timeout: Duration?, completion: @escaping @Sendable ([MessageResult]) -> Void) {
        guard let instance else {
            arena.free()
            return completion(Array(repeating: MessageResult(status: .retry, error: "sink instance is destroyed"), count: count))
        }
        let batchId = nextBatchId.wrappingAdd(1, ordering: .relaxed).oldValue
        arena.batchPointer.pointee.batch_id = batchId
        let send = plugin.descriptor.pointee.on_send_batch!
        let timer = timeout.map { timeout in
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self?.timeOut(batchId, after: timeout) }
            }
        }
        let accepted = state.withLock { s -> Bool in
            if s.stopped { return false }
            s.pending[batchId] = Pending(
                arena: arena, count: count,
                continuation: { results in
                    timer?.cancel()
                    completion(results)
                }, timedOut: false)
            return true
        }
        guard accepted else {
            timer?.cancel()
            arena.free()
            completion(Array(repeating: MessageResult(status: .retry, error: "sink instance is stopped"), count: count))
            return
        }
        let call = UnsafeCall(instance: instance, batch: arena.batch)
        callQueue.async { [self] in
            state.withLock { $0.sending[batchId] = currentThreadId() }
            send(call.instance, call.batch)
            state.withLock { _ = $0.sending.removeValue(forKey: batchId) }
        }
    }

    private func timeOut(_ batchId: UInt64, after timeout: Duration) {
        let continuation = state.withLock { s -> (@Sendable ([MessageResult]) -> Void, Int)? in
            guard var pending = s.pending[batchId], !pending.timedOut, let c = pending.continuation else { return nil }
            pending.timedOut = true
            pending.continuation = nil
            s.pending[batchId] = pending
            s.leakedBatches += 1
            return (c, pending.count)
        }
        guard let (c, count) = continuation else { return }
        let reason = "plugin did not complete batch \(batchId) within \(timeout)"
        setHealth(false, reason)
        c(Array(repeating: MessageResult(status: .retry, error: reason), count: count))
    }

    /// Called by the plugin (any thread) through `callback_complete_batch`.
    fileprivate func complete(_ batchId: UInt64, _ results: UnsafePointer<herald_sink_result>?, _ count: Int) {
        let thread = currentThreadId()
        let entry = state.withLock { s -> Pending? in
            if s.stopReturned { s.diagnostics.completionsAfterStop += 1 }
            if let caller = s.sending[batchId] {
                s.diagnostics.completedInsideSend += 1
                if caller != thread { s.diagnostics.completedOnOtherThread += 1 }
            } else {
                s.diagnostics.completedAfterSendReturned += 1
                s.diagnostics.completedOnOtherThread += 1
            }
            guard let pending = s.pending.removeValue(forKey: batchId) else {
                s.diagnostics.unknownCompletions += 1
                return nil
            }
            if pending.timedOut { s.leakedBatches -= 1 }
            if count != pending.count { s.diagnostics.resultCountMismatches += 1 }
            return pending
        }
        guard let entry else {
            logger.error("plugin completed unknown or already completed batch \(batchId); ignored")
            return
        }
        defer { entry.arena.free() }
        guard let continuation = entry.continuation else {
            logger.warning("batch \(batchId) completed after its timeout; its results are ignored (it was retried)")
            return
        }
        var out: [MessageResult] = []
        if count != entry.count || (results == nil && count > 0) {
            let reason = "plugin returned \(count) results for \(entry.count) messages"
            logger.error("\(reason)")
            out = Array(repeating: MessageResult(status: .retry, error: reason), count: entry.count)
        } else {
            out.reserveCapacity(count)
            for i in 0..<count {
                let r = results![i]
                let status = SinkStatus(rawValue: Int32(bitPattern: r.status.rawValue)) ?? .retry
                var error: String?
                if let text = r.error, r.error_len > 0 {
                    error = String(decoding: UnsafeRawBufferPointer(start: text, count: r.error_len), as: UTF8.self)
                }
                if SinkStatus(rawValue: Int32(bitPattern: r.status.rawValue)) == nil {
                    error = "plugin returned unknown status \(r.status.rawValue)"
                }
                out.append(MessageResult(status: status, retryAfterMs: r.retry_after_ms, error: error))
            }
        }
        continuation(out)
    }

    /// Pushes out buffered data (plugins with HERALD_SINK_CAP_FLUSH). Returns true when done in time.
    public func flush(timeoutMs: UInt32) -> Bool {
        guard let instance, plugin.canFlush, let flush = plugin.descriptor.pointee.on_flush else { return true }
        return callQueue.sync { flush(instance, timeoutMs) } == 0
    }

    /// Stops within the deadline. Batches still in flight afterwards count as RETRY.
    public func stop(deadlineMs: UInt32) {
        guard let instance else { return }
        let alreadyStopped = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return s.stopped
        }
        if alreadyStopped { return }
        callQueue.sync { plugin.descriptor.pointee.on_stop(instance, deadlineMs) }
        let waiting = state.withLock { s -> [(@Sendable ([MessageResult]) -> Void, Int)] in
            s.stopReturned = true
            var out: [(@Sendable ([MessageResult]) -> Void, Int)] = []
            for (id, p) in s.pending {
                if let c = p.continuation { out.append((c, p.count)) }
                s.pending[id]?.continuation = nil
                s.pending[id]?.timedOut = true
            }
            return out
        }
        for (c, count) in waiting {
            c(Array(repeating: MessageResult(status: .retry, error: "sink stopped before completing"), count: count))
        }
    }

    /// Frees the plugin's instance. No call into the plugin happens afterwards.
    public func destroy() {
        guard let instance else { return }
        stop(deadlineMs: 5000)
        callQueue.sync { plugin.descriptor.pointee.on_destroy(instance) }
        self.instance = nil
        // Batch memory of batches never completed is released only now that the plugin is gone.
        let leftovers = state.withLock { s -> [BatchArena] in
            let a = s.pending.values.map(\.arena)
            s.pending.removeAll()
            return a
        }
        for arena in leftovers { arena.free() }
    }

    fileprivate func log(_ level: herald_sink_log_level, _ text: String) {
        switch level {
        case HERALD_SINK_LOG_TRACE: logger.trace("\(text)")
        case HERALD_SINK_LOG_DEBUG: logger.debug("\(text)")
        case HERALD_SINK_LOG_INFO: logger.info("\(text)")
        case HERALD_SINK_LOG_WARNING: logger.warning("\(text)")
        default: logger.error("\(text)")
        }
    }
}

private func instanceFrom(_ host: UnsafeMutableRawPointer?) -> SinkInstance? {
    guard let host else { return nil }
    return Unmanaged<SinkInstance>.fromOpaque(host).takeUnretainedValue()
}

private func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
    guard let pointer, length > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}

private let hostLog: @convention(c) (UnsafeMutableRawPointer?, herald_sink_log_level, UnsafePointer<CChar>?, Int) -> Void = {
    host, level, message, length in
    instanceFrom(host)?.log(level, text(message, length))
}

private let hostCounter: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, UInt64) -> Void = {
    host, name, length, delta in
    instanceFrom(host)?.metricsHandler(text(name, length), Double(delta), true)
}

private let hostGauge: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, Double) -> Void = {
    host, name, length, value in
    instanceFrom(host)?.metricsHandler(text(name, length), value, false)
}

private let hostComplete:
    @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafePointer<herald_sink_result>?, Int) -> Void = {
        host, batchId, results, count in
        instanceFrom(host)?.complete(batchId, results, count)
    }

private let hostHealth: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int) -> Void = {
    host, healthy, reason, length in
    instanceFrom(host)?.setHealth(healthy != 0, text(reason, length))
}

/// Pointers handed to the call queue; the arena keeps the batch alive and the instance outlives the call.
private struct UnsafeCall: @unchecked Sendable {
    let instance: OpaquePointer
    let batch: UnsafePointer<herald_sink_batch>
}

/// The NUL-terminated text in a C error buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// What the host observed about a plugin's behaviour.
public struct SinkDiagnostics: Sendable, Equatable {
    /// Completions naming a batch that was not pending (double or invented completions).
    public var unknownCompletions = 0
    /// Completions whose result count differed from the batch's message count.
    public var resultCountMismatches = 0
    /// Completions that arrived after on_stop returned.
    public var completionsAfterStop = 0
    /// Completions made while on_send_batch was still running.
    public var completedInsideSend = 0
    /// Completions made after on_send_batch returned.
    public var completedAfterSendReturned = 0
    /// Completions made on a thread other than the one running on_send_batch.
    public var completedOnOtherThread = 0
}

func currentThreadId() -> UInt {
    UInt(pthread_self())
}
