#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A sink written with Swift concurrency: a typed configuration, and `send` as an `async` function that returns one
/// result per message. Export it like a `SinkPlugin`:
///
///     @_cdecl("herald_sink_entry")
///     public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: MySink.self) }
///
/// The SDK runs each batch's `send` in a task of its own, so Herald's call returns at once (the plugin is
/// `HERALD_SINK_CAP_ASYNC`), and completes the batch with what `send` returns. It keeps the bounds of the ABI:
/// - at most `limits.maxInFlight` sends run at once (a batch over it completes RETRY without a task);
/// - `on_stop` cancels the running sends, waits for them until Herald's deadline, runs `stop()` in what is left,
///   and from then on nothing reaches Herald (Herald counts batches still unfinished as RETRY);
/// - `on_destroy` waits for cancelled sends still running to return, so no `send` reads a batch Herald freed.
///
/// The tasks run on the SDK's own threads (`SinkTaskExecutor`), not Swift's global pool, so a busy host does not
/// delay a sink's sends and a sink does not take the host's threads. `send` should still not block: a blocked
/// send holds one of those threads. Do blocking I/O on threads of your own and `await` it. Use `SinkPlugin` (the callback form) when a library calls back on its own
/// threads and completing from there is simpler.
public protocol AsyncSinkPlugin: AnyObject, Sendable {
    associatedtype Configuration: SinkConfiguration

    static var name: String { get }
    static var version: String { get }
    /// One line for `herald plugins list`.
    static var summary: String { get }
    /// `.async` is always added; declare `.orderingKey` when the destination keeps each key's messages in order.
    static var capabilities: SinkCapabilities { get }

    /// Creates an instance from its configuration, already read and checked.
    init(configuration: Configuration, host: SinkHost) throws

    /// `maxInFlight` is also the number of sends the SDK lets run at once.
    var limits: SinkPluginLimits { get }

    /// Connects or opens what the instance needs (Herald waits for it).
    func start() throws

    /// Sends a batch: one result per message, in order (missing ones count as RETRY). The batch's memory is
    /// valid until this returns. Cancelled when the instance stops: return soon after.
    func send(_ batch: SinkBatch) async -> [SinkResult]

    /// Releases what `start` opened, once the sends are done or Herald's stop deadline is near.
    func stop() async
}

extension AsyncSinkPlugin {
    public static var capabilities: SinkCapabilities { [] }
    public func start() throws {}
    public func stop() async {}
}

extension SinkExport {
    /// The static descriptor of an `AsyncSinkPlugin`.
    public static func descriptor<P: AsyncSinkPlugin>(for type: P.Type) -> UnsafeRawPointer {
        descriptor(for: AsyncSinkAdapter<P>.self)
    }
}

/// Runs an `AsyncSinkPlugin` behind the callback form.
public final class AsyncSinkAdapter<P: AsyncSinkPlugin>: SinkPlugin {
    public static var name: String { P.name }
    public static var version: String { P.version }
    public static var summary: String { P.summary }
    public static var configSchema: String? { P.Configuration.schema }
    public static var capabilities: SinkCapabilities { P.capabilities.union(.async).subtracting(.flush) }

    public let plugin: P
    let flights: InFlightBatches
    let maxInFlight: Int

    public static func validate(config: String) throws {
        _ = try P.Configuration.read(config)
    }

    public convenience init(config: String, host: SinkHost) throws {
        let configuration = try P.Configuration.read(config) { host.log(.warning, $0) }
        try self.init(plugin: P(configuration: configuration, host: host))
    }

    /// Wraps an instance (tests drive it without a library).
    public init(plugin: P) {
        self.plugin = plugin
        maxInFlight = max(1, Int(plugin.limits.maxInFlight))
        flights = InFlightBatches()
    }

    public var limits: SinkPluginLimits {
        var l = plugin.limits
        l.maxInFlight = UInt32(maxInFlight)
        return l
    }

    public func start() throws { try plugin.start() }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        flights.launch(limit: maxInFlight, completion: completion) { [plugin] in await plugin.send(batch) }
    }

    public func stop(deadlineMs: UInt32) {
        let deadline = monotonicMs() + UInt64(deadlineMs)
        flights.cancelAll()
        _ = flights.waitIdle(until: deadline)
        let stopped = Atomic<Bool>(false)
        let plugin = self.plugin
        Task(executorPreference: SinkTaskExecutor.shared) {
            await plugin.stop()
            stopped.store(true, ordering: .releasing)
        }
        while !stopped.load(ordering: .acquiring) && monotonicMs() < deadline { usleep(1000) }
        flights.close()
    }

    public func destroy() {
        flights.cancelAll()
        _ = flights.waitIdle(until: .max)
    }
}

/// The sends of one instance: each batch's task and completion, the in-flight bound and the stop gate.
final class InFlightBatches: Sendable {
    struct Flight {
        var task: Task<Void, Never>?
        let completion: SinkCompletion
    }

    struct State {
        var flights: [UInt64: Flight] = [:]
        var next: UInt64 = 0
        /// False once the instance stopped: nothing more reaches the host.
        var open = true
    }

    private let state = Mutex(State())

    /// Starts `send` in a task of its own, unless `limit` sends are running or the instance stopped (the batch then
    /// completes RETRY at once). Returns without waiting for the task.
    func launch(limit: Int, completion: SinkCompletion, _ send: @escaping @Sendable () async -> [SinkResult]) {
        state.withLock { s in
            guard s.open else {
                completion.completeAll(SinkResult(.retry, error: "the sink is stopping"))
                return
            }
            guard s.flights.count < limit else {
                completion.completeAll(
                    SinkResult(.retry, error: "more than max_in_flight (\(limit)) batches at once; sent again later"))
                return
            }
            let id = s.next
            s.next += 1
            s.flights[id] = Flight(
                task: Task(executorPreference: SinkTaskExecutor.shared) { [self] in
                    let results = await send()
                    finish(id, results)
                }, completion: completion)
        }
    }

    private func finish(_ id: UInt64, _ results: [SinkResult]) {
        state.withLock { s in
            guard let flight = s.flights.removeValue(forKey: id) else { return }
            if s.open { flight.completion.complete(results) }
        }
    }

    var count: Int { state.withLock { $0.flights.count } }

    func cancelAll() {
        for task in state.withLock({ $0.flights.values.compactMap(\.task) }) { task.cancel() }
    }

    /// Waits until no send runs, or until `deadline` (monotonic milliseconds); true when none runs.
    func waitIdle(until deadline: UInt64) -> Bool {
        while count > 0 {
            if monotonicMs() >= deadline { return false }
            usleep(1000)
        }
        return true
    }

    /// Closes the gate: sends that return later complete nothing (Herald counts what was still in flight at the
    /// end of `on_stop` as RETRY, and keeps those batches' memory until `on_destroy` returns).
    func close() {
        state.withLock { $0.open = false }
    }
}
