import Foundation
import Logging

/// What the delivery loop holds of a destination's sink: a plugin instance in this process (`SinkInstance`,
/// `isolation: "inProcess"`) or in a child process (`ProcessSink`, `isolation: "process"`). Both take the same
/// batches and give the same results; the child adds faults of its own (a crash, an exit, a hang, a memory
/// limit), which come back as RETRY results marked `sinkFault`.
public protocol SinkHandle: AnyObject, Sendable {
    /// The plugin's limits after clamping.
    var limits: SinkLimits { get }
    var health: (healthy: Bool, reason: String) { get }
    /// Batches handed to the plugin and not completed yet.
    var inFlight: Int { get }
    /// Contract observations, for `herald plugins check`.
    var diagnostics: SinkDiagnostics { get }
    /// Sends one batch and returns one result per message, in order.
    func send(destination: String, messages: [OutboundMessage], ordered: Bool, timeout: Duration) async -> [MessageResult]
    /// Pushes out buffered data (plugins with HERALD_SINK_CAP_FLUSH). Returns true when done in time.
    func flush(timeoutMs: UInt32) -> Bool
    /// Stops within the deadline. Batches still in flight afterwards count as RETRY.
    func stop(deadlineMs: UInt32)
    /// Frees the instance (and ends its process). Nothing is sent afterwards.
    func destroy()
}

/// Where a provider's sink instances run.
public enum SinkIsolationMode: String, Sendable, Equatable, CaseIterable {
    /// Inside the daemon: fastest, and a plugin fault is the daemon's fault.
    case inProcess
    /// In a child process, `herald sink-host`, one per destination: a crash, exit, hang or leak of the plugin
    /// costs that destination a restart, not the daemon.
    case process
}

/// The settings of `isolation: "process"`.
public struct ProcessSinkOptions: Sendable, Equatable {
    /// The child's memory limit in MiB (0: none). A cgroup's memory limit where one can be created, otherwise the
    /// daemon samples the child's resident memory and kills it past the limit.
    public var memoryLimitMb: Int = 0
    /// Whether the memory limit may use a cgroup (false: always the daemon's watch of resident memory; tests use it to
    /// exercise the fallback on a machine where cgroups can be made).
    public var memoryCgroup = true
    /// The wait before the first restart after a fault; doubled after each fault in a row, up to `restartBackoffMaxMs`.
    public var restartBackoffInitialMs: Int = 200
    public var restartBackoffMaxMs: Int = 30_000
    /// The child says it is alive this often, from a thread of its own (not the plugin's).
    public var heartbeatIntervalMs: Int = 1_000
    /// No heartbeat for this long: the child is killed as hung.
    public var heartbeatTimeoutMs: Int = 10_000
    /// How long the child may take from spawn to a started instance.
    public var startTimeoutMs: Int = 30_000
    /// At a stop, the child waits this long after on_destroy before it reports its diagnostics and exits (the
    /// conformance suite's window for completions after stop).
    public var stopLingerMs: Int = 0
    /// Batches that fit in a slot (`sharedSlotBytes`) are written into memory shared with the child; up to
    /// `sharedSlots` at once (more in flight, or larger, go through the socket). 0: always the socket.
    public var sharedSlots: Int = 8
    public var sharedSlotBytes: Int = 2 << 20

    public init() {}
}

/// Creates the sink of one destination in the isolation its provider asks for, and starts it.
public enum SinkFactory {
    public static func make(
        plugin: LoadedPlugin, alias: String, destination: String, config: String, logger: Logger,
        isolation: SinkIsolationMode, options: ProcessSinkOptions = ProcessSinkOptions(),
        metrics: @escaping @Sendable (String, Double, Bool) -> Void = { _, _, _ in }
    ) throws(PluginLoadError) -> any SinkHandle {
        switch isolation {
        case .inProcess:
            let instance = try SinkInstance(
                plugin: plugin, alias: alias, destination: destination, config: config, logger: logger, metrics: metrics)
            do {
                try instance.start()
            } catch {
                instance.destroy()
                throw error
            }
            return instance
        case .process:
            return try ProcessSink(
                plugin: plugin, alias: alias, destination: destination, config: config, logger: logger, options: options,
                metrics: metrics)
        }
    }
}

extension SinkHandle {
    /// Sends one unordered batch.
    public func send(destination: String, messages: [OutboundMessage], timeout: Duration) async -> [MessageResult] {
        await send(destination: destination, messages: messages, ordered: false, timeout: timeout)
    }
}
