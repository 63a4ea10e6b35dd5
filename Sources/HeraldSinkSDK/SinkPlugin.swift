import CHeraldSink

/// What a plugin can do, declared in its descriptor.
public struct SinkCapabilities: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Completes batches after `send` returns, from any thread.
    public static let async = SinkCapabilities(rawValue: UInt64(HERALD_SINK_CAP_ASYNC))
    /// Keeps messages with the same key in order.
    public static let orderingKey = SinkCapabilities(rawValue: UInt64(HERALD_SINK_CAP_ORDERING_KEY))
    /// Implements `flush(timeoutMs:)`.
    public static let flush = SinkCapabilities(rawValue: UInt64(HERALD_SINK_CAP_FLUSH))
}

/// The outcome of one message.
public enum SinkStatus: UInt32, Sendable {
    case ok = 0
    case retry = 1
    case throttled = 2
    case permanent = 3
    case tooLarge = 4
}

public struct SinkResult: Sendable {
    public var status: SinkStatus
    public var retryAfterMs: UInt32
    public var error: String?

    public init(_ status: SinkStatus, retryAfterMs: UInt32 = 0, error: String? = nil) {
        self.status = status
        self.retryAfterMs = retryAfterMs
        self.error = error
    }

    public static let ok = SinkResult(.ok)
}

/// Limits a plugin declares (0: no limit of its own).
public struct SinkPluginLimits: Sendable {
    public var maxMessageBytes: UInt64
    public var maxBatchMessages: UInt32
    public var maxBatchBytes: UInt64
    public var maxInFlight: UInt32
    /// The destination keeps each key's messages in order and needs them in Herald's order (a FIFO queue, Kafka
    /// partitions): Herald then delivers it as with `ordering: perEntity` (`HERALD_SINK_LIMIT_KEY_ORDER`).
    public var requiresKeyOrder: Bool

    public init(
        maxMessageBytes: UInt64 = 0, maxBatchMessages: UInt32 = 0, maxBatchBytes: UInt64 = 0, maxInFlight: UInt32 = 1,
        requiresKeyOrder: Bool = false
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxBatchMessages = maxBatchMessages
        self.maxBatchBytes = maxBatchBytes
        self.maxInFlight = maxInFlight
        self.requiresKeyOrder = requiresKeyOrder
    }
}

/// An error a plugin throws to give every message of a batch (or a call) a status.
public struct SinkError: Error, Sendable, CustomStringConvertible {
    public var status: SinkStatus
    public var message: String

    public init(_ status: SinkStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}

/// A sink written in Swift. Implement this, then export it in one line:
///
///     @_cdecl("herald_sink_entry")
///     public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: MySink.self) }
///
/// The SDK turns every C call into a call on this protocol and every thrown error into a
/// result: a throwing `send` completes the batch with RETRY (or the status of a `SinkError`)
/// unless it already completed it. Swift traps (force-unwraps, out-of-range indexes) cannot be
/// caught: they end the process, so keep `send` free of them.
public protocol SinkPlugin: AnyObject {
    static var name: String { get }
    static var version: String { get }
    /// One line for `herald plugins list`.
    static var summary: String { get }
    /// JSON Schema of the configuration, or nil.
    static var configSchema: String? { get }
    static var capabilities: SinkCapabilities { get }

    /// Checks a configuration without side effects.
    static func validate(config: String) throws

    /// Creates an instance; `host` stays valid until the instance is destroyed.
    init(config: String, host: SinkHost) throws

    var limits: SinkPluginLimits { get }

    func start() throws

    /// Sends a batch and completes it exactly once through `completion`, before returning unless
    /// the plugin declares `.async`. The batch's memory is valid until then.
    func send(_ batch: SinkBatch, completion: SinkCompletion) throws

    /// Pushes out buffered data; returns true when done within the timeout.
    func flush(timeoutMs: UInt32) -> Bool

    /// Finishes or fails what is in flight within the deadline; no completion afterwards.
    func stop(deadlineMs: UInt32)

    /// Called by `on_destroy` before the instance is released: wait here for work that may still read a batch.
    func destroy()
}

extension SinkPlugin {
    public static var configSchema: String? { nil }
    public func flush(timeoutMs: UInt32) -> Bool { true }
    public func destroy() {}
}
