import CHeraldSink
import Foundation
import HeraldModel
import Logging
import Synchronization

/// A destination's sink in a child process (`isolation: "process"`, decision 0013): the plugin runs in
/// `herald sink-host`, which this class starts, feeds, watches and restarts.
///
/// A fault of the child (a signal, an exit, a batch not completed within the send timeout, no heartbeat, the
/// memory limit, a broken frame) makes every batch in flight RETRY with the reason and `sinkFault` set, marks the
/// destination unhealthy ("sink process exited on signal 11 (SIGSEGV) while sending batch 12"), and starts a new
/// child after a backoff that doubles with each fault in a row. Sends wait for the new child; the destination is
/// healthy again once the new child has completed a batch.
public final class ProcessSink: SinkHandle, @unchecked Sendable {
    public let plugin: LoadedPlugin
    public let alias: String
    let destinationName: String
    let config: String
    let logger: Logger
    let options: ProcessSinkOptions
    let metricsHandler: @Sendable (String, Double, Bool) -> Void
    let executable: String
    public let limits: SinkLimits

    private struct Pending {
        let generation: UInt64
        let count: Int
        let continuation: CheckedContinuation<[MessageResult], Never>
        /// The shared slot holding the batch (nil: sent through the socket).
        var slot: Int?
    }

    private struct State {
        var child: SinkChildProcess?
        var generation: UInt64 = 0
        var stopping = false
        var pending: [UInt64: Pending] = [:]
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        /// The plugin's own health report.
        var pluginHealthy = true
        var pluginReason = ""
        /// Set from a fault until the next child completes a batch.
        var fault: String?
        var faultsInARow = 0
        var restarts = 0
        /// The last fault's reason, kept after the destination is healthy again (status shows it).
        var lastFault: String?
        var diagnostics = SinkDiagnostics()
        var lastHeartbeat = ContinuousClock.now
        var flushWaiter: FlushWait?
    }

    private let state = Mutex(State())
    private let nextId = Atomic<UInt64>(1)
    private let nextWaiter = Atomic<UInt64>(1)

    init(
        plugin: LoadedPlugin, alias: String, destination: String, config: String, logger: Logger, options: ProcessSinkOptions,
        metrics: @escaping @Sendable (String, Double, Bool) -> Void
    ) throws(PluginLoadError) {
        self.plugin = plugin
        self.alias = alias
        destinationName = destination
        self.config = config
        var logger = logger
        logger[metadataKey: "plugin"] = "\(plugin.name)"
        logger[metadataKey: "provider"] = "\(alias)"
        logger[metadataKey: "isolation"] = "process"
        self.logger = logger
        self.options = options
        metricsHandler = metrics
        executable = try SinkHostExecutable.path()
        // The configuration is checked here as in process, so that its error reads the same.
        if let problem = plugin.validate(config: config) {
            throw PluginLoadError(.configInvalid, "plugin '\(plugin.name)' rejected the configuration of '\(alias)': \(problem)")
        }
        let (child, limits, early) = try Self.launch(
            executable: executable, generation: 1, plugin: plugin, alias: alias, destination: destination, config: config,
            logger: logger, options: options)
        self.limits = limits
        state.withLock {
            $0.child = child
            $0.generation = 1
        }
        replay(early, child)
        startWatching(child)
    }

    /// Counts of the child's life, for tests and status.
    public var restarts: Int { state.withLock { $0.restarts } }
    /// The reason of the child's last fault (nil: none yet), also once healthy again.
    public var lastFault: String? { state.withLock { $0.lastFault } }
    /// The live child's process id (nil while it restarts).
    public var childPID: pid_t? { state.withLock { $0.child?.pid } }

    public var health: (healthy: Bool, reason: String) {
        state.withLock { s in
            if let fault = s.fault { return (false, fault) }
            return (s.pluginHealthy, s.pluginReason)
        }
    }

    public var inFlight: Int { state.withLock { $0.pending.count } }
    public var diagnostics: SinkDiagnostics { state.withLock { $0.diagnostics } }

    // MARK: starting a child

    /// Spawns a child, sends it the plugin and configuration, and waits for its instance to start.
    private static func launch(
        executable: String, generation: UInt64, plugin: LoadedPlugin, alias: String, destination: String, config: String,
        logger: Logger, options: ProcessSinkOptions
    ) throws(PluginLoadError) -> (SinkChildProcess, SinkLimits, [(SinkHostFrame, [UInt8])]) {
        // Metrics and health the plugin reports while it starts, for the caller to apply.
        var early: [(SinkHostFrame, [UInt8])] = []
        let child = try SinkChildProcess(
            executable: executable, generation: generation, memoryLimitMb: options.memoryLimitMb, memoryCgroup: options.memoryCgroup,
            label: "\(alias)/\(destination)",
            slots: options.sharedSlots > 0 ? SharedBatchSlots(count: options.sharedSlots, slotSize: options.sharedSlotBytes) : nil)
        var hello = FrameWriter(.hello)
        hello.string(plugin.manifest.library)
        hello.string(plugin.sha256)
        plugin.image.withUnsafeBytes { hello.raw($0) }
        hello.string(plugin.name)
        hello.string(alias)
        hello.string(destination)
        hello.string(config)
        hello.u8(UInt8(Logger.Level.allCases.firstIndex(of: logger.logLevel) ?? 2))
        hello.u32(UInt32(clamping: options.heartbeatIntervalMs))
        hello.u32(UInt32(child.slots?.count ?? 0))
        hello.u32(UInt32(child.slots?.slotSize ?? 0))
        child.socket.write(hello.finish())

        // Until the instance has started, reads time out (a child stuck in on_create or on_start is killed).
        var timeout = timeval(tv_sec: options.startTimeoutMs / 1000, tv_usec: Int((options.startTimeoutMs % 1000) * 1000))
        setsockopt(child.socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        defer {
            var none = timeval()
            setsockopt(child.socket.fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        }
        func failed(_ why: String) -> PluginLoadError {
            child.kill(because: why)
            let status = child.waitForExit()
            let how = child.wasKilledBecause == why ? why : "sink process \(SinkChildProcess.describe(status: status)) \(why)"
            return PluginLoadError(.sinkProcessFailed, "'\(alias)' (\(plugin.name)) did not start in its process: \(how)")
        }
        while true {
            switch child.socket.next(maxBytes: maxChildFrameBytes) {
            case .end:
                throw failed("before its instance started (or took more than \(options.startTimeoutMs) ms: startTimeoutMs)")
            case .invalid(let why):
                throw failed("sink process broke the protocol: \(why)")
            case .frame(let kind, let payload):
                defer { payload.deallocate() }
                var r = FrameReader(UnsafeRawBufferPointer(payload))
                switch kind {
                case .log:
                    Self.forwardLog(&r, to: logger)
                case .metric, .health:
                    early.append((kind, Array(UnsafeRawBufferPointer(payload))))
                case .heartbeat:
                    continue
                case .failed:
                    let code = (try? r.string()) ?? PluginLoadError.Code.createFailed.rawValue
                    let message = (try? r.string()) ?? "no reason given"
                    child.kill(because: "its instance did not start")
                    _ = child.waitForExit()
                    throw PluginLoadError(ErrorCode(code), message)
                case .ready:
                    guard (try? r.string()) != nil, (try? r.u64()) != nil, let limits = try? SinkLimits.read(from: &r) else {
                        throw failed("sink process broke the protocol: ready frame does not parse")
                    }
                    return (child, limits, early)
                default:
                    throw failed("sink process broke the protocol: \(kind) frame before ready")
                }
            }
        }
    }

    static func forwardLog(_ r: inout FrameReader, to logger: Logger) {
        guard let level = try? r.u8(), let text = try? r.string(max: 8 * maxCrossingText) else { return }
        let l = Logger.Level.allCases[min(Int(level), Logger.Level.allCases.count - 1)]
        logger.log(level: l, "\(text)")
    }

    // MARK: watching a child

    /// Reads the child's frames on a thread of its own, and watches its heartbeat and memory on another.
    private func startWatching(_ child: SinkChildProcess) {
        state.withLock { $0.lastHeartbeat = .now }
        let reader = Thread { [self] in
            read(child)
        }
        reader.stackSize = 256 << 10
        reader.start()
        let watcher = Thread { [weak self] in
            while child.waitForExit(timeoutMs: 100) == nil {
                guard let self else { return }
                self.check(child)
            }
        }
        watcher.stackSize = 128 << 10
        watcher.start()
    }

    private func check(_ child: SinkChildProcess) {
        let silent = state.withLock { ContinuousClock.now - $0.lastHeartbeat }
        if silent > .milliseconds(options.heartbeatTimeoutMs) {
            child.kill(because: "sink process was killed: no heartbeat for \(silent.milliseconds) ms (heartbeatTimeoutMs \(options.heartbeatTimeoutMs))")
        }
        if options.memoryLimitMb > 0, child.memory == nil, let rss = child.residentBytes, rss > options.memoryLimitMb << 20 {
            child.kill(
                because: "sink process was killed: its resident memory (\(rss >> 20) MiB) passed memoryLimitMb \(options.memoryLimitMb)")
        }
    }

    private func read(_ child: SinkChildProcess) {
        loop: while true {
            switch child.socket.next(maxBytes: maxChildFrameBytes) {
            case .end:
                break loop
            case .invalid(let why):
                child.kill(because: "sink process was killed: it broke the protocol (\(why))")
                break loop
            case .frame(let kind, let payload):
                var r = FrameReader(UnsafeRawBufferPointer(payload))
                do throws(FrameError) {
                    try handle(kind, &r, child)
                } catch {
                    child.kill(because: "sink process was killed: it broke the protocol (\(kind) frame: \(error))")
                    payload.deallocate()
                    break loop
                }
                payload.deallocate()
            }
        }
        // The end of the stream: the child exited (or is about to); make sure, and learn how.
        let status: Int32
        if let done = child.waitForExit(timeoutMs: 2000) {
            status = done
        } else {
            child.kill(because: "sink process was killed: it closed its socket")
            status = child.waitForExit()
        }
        died(child, status: status)
    }

    private func replay(_ frames: [(SinkHostFrame, [UInt8])], _ child: SinkChildProcess) {
        for (kind, bytes) in frames {
            bytes.withUnsafeBytes { raw in
                var r = FrameReader(raw)
                try? handle(kind, &r, child)
            }
        }
    }

    private func handle(_ kind: SinkHostFrame, _ r: inout FrameReader, _ child: SinkChildProcess) throws(FrameError) {
        switch kind {
        case .results:
            let id = try r.u64()
            let count = Int(try r.u32())
            var results: [MessageResult] = []
            let allOK = try r.u8() != 0
            guard count <= (allOK ? 1 << 20 : r.base.count / 9) else { throw FrameError(description: "\(count) results cannot fit") }
            if allOK { results = Array(repeating: MessageResult(status: .ok), count: count) }
            results.reserveCapacity(count)
            for _ in 0..<(allOK ? 0 : count) {
                let raw = Int32(bitPattern: try r.u32())
                let retryAfter = try r.u32()
                let error = try r.u8() != 0 ? try r.string(max: maxCrossingText) : nil
                guard let status = SinkStatus(rawValue: raw) else { throw FrameError(description: "status \(raw)") }
                results.append(MessageResult(status: status, retryAfterMs: retryAfter, error: error))
            }
            let diagnostics = try SinkDiagnostics.read(from: &r)
            let entry = state.withLock { s -> Pending? in
                s.diagnostics = diagnostics
                guard let p = s.pending[id], p.generation == child.generation else { return nil }
                s.pending[id] = nil
                // Healthy again; the backoff only resets once a child has lived a while (`died`).
                s.fault = nil
                return p
            }
            guard let entry else { return }
            if let slot = entry.slot { child.slots?.give(slot) }
            if results.count != entry.count {
                let reason = "sink process returned \(results.count) results for \(entry.count) messages"
                logger.error("\(reason)")
                entry.continuation.resume(returning: Array(repeating: MessageResult(status: .retry, error: reason), count: entry.count))
            } else {
                entry.continuation.resume(returning: results)
            }
        case .log:
            Self.forwardLog(&r, to: logger)
        case .metric:
            let counter = try r.u8() != 0
            let name = try r.string(max: 256)
            let value = try r.f64()
            metricsHandler(name, value, counter)
        case .health:
            let healthy = try r.u8() != 0
            let reason = try r.string(max: maxCrossingText)
            state.withLock {
                $0.pluginHealthy = healthy
                $0.pluginReason = reason
            }
        case .heartbeat:
            state.withLock { $0.lastHeartbeat = .now }
        case .flushed:
            let ok = try r.u8() != 0
            if let waiter = state.withLock({ $0.flushWaiter }) {
                waiter.ok.store(ok, ordering: .releasing)
                waiter.done.signal()
            }
        case .stopped:
            let diagnostics = try SinkDiagnostics.read(from: &r)
            state.withLock { $0.diagnostics = diagnostics }
        default:
            throw FrameError(description: "unexpected \(kind) frame")
        }
    }

    /// The child is gone: answer its batches, and start another unless the sink is stopping.
    private func died(_ child: SinkChildProcess, status: Int32) {
        var how = child.wasKilledBecause ?? "sink process \(SinkChildProcess.describe(status: status))"
        if let memory = child.memory, child.wasKilledBecause == nil, memory.oomKilled {
            how = "sink process was killed by the kernel: it passed memoryLimitMb \(options.memoryLimitMb) (\(memory.describe))"
        }
        let (orphans, stopping, faults) = state.withLock { s -> ([(UInt64, Pending)], Bool, Int) in
            if s.child === child { s.child = nil }
            let mine = s.pending.filter { $0.value.generation == child.generation }.sorted { $0.key < $1.key }
            for (id, _) in mine { s.pending[id] = nil }
            if !s.stopping {
                // A child that ran for a while before its fault starts the backoff again; one that keeps failing
                // soon after its start (even after completing a batch or two) backs off further each time.
                if child.started.duration(to: .now) >= .milliseconds(max(10_000, options.restartBackoffMaxMs)) {
                    s.faultsInARow = 0
                }
                s.faultsInARow += 1
                s.restarts += 1
            }
            return (mine, s.stopping, s.faultsInARow)
        }
        if stopping {
            for (_, p) in orphans {
                p.continuation.resume(
                    returning: Array(repeating: MessageResult(status: .retry, error: "sink stopped before completing"), count: p.count))
            }
            return
        }
        let reason =
            orphans.isEmpty
            ? "\(how) (no batch in flight)"
            : "\(how) while sending batch \(orphans[0].0)\(orphans.count > 1 ? " (and \(orphans.count - 1) more)" : "")"
        state.withLock {
            $0.fault = reason
            $0.lastFault = reason
        }
        logger.error("\(reason); \(orphans.reduce(0) { $0 + $1.1.count }) messages in flight count as RETRY")
        for (_, p) in orphans {
            p.continuation.resume(
                returning: Array(repeating: MessageResult(status: .retry, error: reason, sinkFault: true), count: p.count))
        }
        let backoff = min(options.restartBackoffMaxMs, options.restartBackoffInitialMs << min(faults - 1, 20))
        let restarter = Thread { [self] in
            restart(after: backoff)
        }
        restarter.stackSize = 256 << 10
        restarter.start()
    }

    /// Starts a new child after `backoffMs`, and again with a longer wait while it fails.
    private func restart(after backoffMs: Int) {
        var wait = backoffMs
        while true {
            usleep(UInt32(max(0, wait)) * 1000)
            let generation = state.withLock { s -> UInt64? in
                if s.stopping { return nil }
                s.generation += 1
                return s.generation
            }
            guard let generation else { return }
            do {
                let (child, _, early) = try Self.launch(
                    executable: executable, generation: generation, plugin: plugin, alias: alias, destination: destinationName,
                    config: config, logger: logger, options: options)
                let (waiters, stopping) = state.withLock { s -> ([CheckedContinuation<Bool, Never>], Bool) in
                    if s.stopping { return ([], true) }
                    s.child = child
                    let w = Array(s.waiters.values)
                    s.waiters.removeAll()
                    return (w, false)
                }
                if stopping {
                    child.kill(because: "the sink is stopping")
                    return
                }
                logger.notice("sink process restarted (pid \(child.pid)); healthy again once it completes a batch")
                replay(early, child)
                startWatching(child)
                for w in waiters { w.resume(returning: true) }
                return
            } catch {
                let faults = state.withLock { s -> Int in
                    s.faultsInARow += 1
                    s.fault = "sink process could not restart: \(error.message)"
                    return s.faultsInARow
                }
                logger.error("sink process could not restart: \(error.message)")
                wait = min(options.restartBackoffMaxMs, options.restartBackoffInitialMs << min(faults - 1, 20))
            }
        }
    }

    // MARK: SinkHandle

    public func send(destination: String, messages: [OutboundMessage], ordered: Bool = false, timeout: Duration) async
        -> [MessageResult]
    {
        if messages.isEmpty { return [] }
        let id = nextId.wrappingAdd(1, ordering: .relaxed).oldValue
        let encoding = BatchEncoding(batchId: id, destination: destination, ordered: ordered, messages: messages)
        while true {
            // A live child, or wait for the next one.
            let child = state.withLock { s -> SinkChildProcess?? in s.stopping ? .some(nil) : .some(s.child) }
            guard case .some(let current) = child else { break }
            guard let current else {
                if state.withLock({ $0.stopping }) { break }
                let waiter = nextWaiter.wrappingAdd(1, ordering: .relaxed).oldValue
                let live = await withTaskCancellationHandler {
                    await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                        let now = state.withLock { s -> Bool? in
                            if s.stopping { return false }
                            if s.child != nil { return true }
                            s.waiters[waiter] = c
                            return nil
                        }
                        if let now { c.resume(returning: now) }
                    }
                } onCancel: {
                    if let c = state.withLock({ $0.waiters.removeValue(forKey: waiter) }) { c.resume(returning: false) }
                }
                if !live || Task.isCancelled { break }
                continue
            }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self?.timedOut(id, generation: current.generation, after: timeout) }
            }
            // Into a shared slot when one is free and the batch fits, else through the socket.
            let slot = encoding.size <= (current.slots?.slotSize ?? 0) ? current.slots?.take() : nil
            let frame: [UInt8]
            if let slot, let slots = current.slots {
                encoding.write(to: slots.address(slot))
                var w = FrameWriter(.sharedBatch)
                w.u32(UInt32(slot))
                w.u32(UInt32(encoding.size))
                frame = w.finish()
            } else {
                frame = encoding.frame()
            }
            let results = await withCheckedContinuation { (c: CheckedContinuation<[MessageResult], Never>) in
                let registered = state.withLock { s -> Bool in
                    guard s.child === current, !s.stopping else { return false }
                    s.pending[id] = Pending(generation: current.generation, count: messages.count, continuation: c, slot: slot)
                    return true
                }
                if registered {
                    current.send(frame)
                } else {
                    if let slot { current.slots?.give(slot) }
                    c.resume(returning: [])
                }
            }
            timer.cancel()
            if results.isEmpty { continue }  // the child went away before the batch was registered: try the next one
            return results
        }
        return Array(repeating: MessageResult(status: .retry, error: "sink stopped before sending"), count: messages.count)
    }

    private func timedOut(_ id: UInt64, generation: UInt64, after timeout: Duration) {
        let child = state.withLock { s -> SinkChildProcess? in
            guard s.pending[id] != nil, let c = s.child, c.generation == generation else { return nil }
            return c
        }
        child?.kill(because: "sink process was killed: it did not complete batch \(id) within \(timeout) (sendTimeoutMs)")
    }

    public func flush(timeoutMs: UInt32) -> Bool {
        guard plugin.canFlush, let child = state.withLock({ $0.child }) else { return true }
        let waiter = FlushWait()
        state.withLock { $0.flushWaiter = waiter }
        defer { state.withLock { $0.flushWaiter = nil } }
        var w = FrameWriter(.flush)
        w.u32(timeoutMs)
        child.send(w.finish())
        guard waiter.done.wait(timeout: .now() + .milliseconds(Int(timeoutMs) + 2000)) == .success else { return false }
        return waiter.ok.load(ordering: .acquiring)
    }

    public func stop(deadlineMs: UInt32) {
        let (child, waiters, already) = state.withLock { s -> (SinkChildProcess?, [CheckedContinuation<Bool, Never>], Bool) in
            let already = s.stopping
            s.stopping = true
            let w = Array(s.waiters.values)
            s.waiters.removeAll()
            return (s.child, w, already)
        }
        for w in waiters { w.resume(returning: false) }
        if already { return }
        guard let child else { return }
        var w = FrameWriter(.stop)
        w.u32(deadlineMs)
        w.u32(UInt32(clamping: options.stopLingerMs))
        child.send(w.finish())
        if child.waitForExit(timeoutMs: Int(deadlineMs) + options.stopLingerMs + 3000) == nil {
            logger.warning("sink process did not stop within \(deadlineMs) ms and 3 s more: killed")
            child.kill(because: "the sink is stopping")
            _ = child.waitForExit()
        }
    }

    public func destroy() {
        stop(deadlineMs: 5000)
        // A child starting right now sees `stopping` and kills itself; answer anything left.
        let left = state.withLock { s -> [Pending] in
            let p = Array(s.pending.values)
            s.pending.removeAll()
            return p
        }
        for p in left {
            p.continuation.resume(
                returning: Array(repeating: MessageResult(status: .retry, error: "sink stopped before completing"), count: p.count))
        }
    }
}

/// A flush waiting for the child's answer.
final class FlushWait: Sendable {
    let done = DispatchSemaphore(value: 0)
    let ok = Atomic<Bool>(false)
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
