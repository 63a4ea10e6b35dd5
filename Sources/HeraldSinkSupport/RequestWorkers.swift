import Foundation
import HeraldSinkSDK

/// Where a sink reports health and log lines: the host (through `HostGate`) or a test recorder.
public protocol SinkReporter: AnyObject, Sendable {
    func setHealth(_ healthy: Bool, _ reason: String)
    func log(_ level: SinkHost.LogLevel, _ message: String)
}

extension SinkReporter {
    public func log(_ level: SinkHost.LogLevel, _ message: String) {}
}

/// The instance's line to the host. After `close()` (the end of `on_stop`) nothing more reaches
/// the host: no completion, no log, no health. (Health goes to the host every time: the host
/// also marks the instance unhealthy on its own, e.g. after a batch timeout, and a later success
/// must be able to clear that.)
public final class HostGate: SinkReporter, @unchecked Sendable {
    private let lock = NSLock()
    private let host: SinkHost
    private var open = true

    public init(host: SinkHost) {
        self.host = host
    }

    public func complete(_ completion: SinkCompletion, _ results: [SinkResult]) {
        lock.lock()
        defer { lock.unlock() }
        if open { completion.complete(results) }
    }

    public func setHealth(_ healthy: Bool, _ reason: String) {
        lock.lock()
        defer { lock.unlock() }
        if open { host.setHealth(healthy, reason) }
    }

    public func log(_ level: SinkHost.LogLevel, _ message: String) {
        lock.lock()
        defer { lock.unlock() }
        if open { host.log(level, message) }
    }

    public func counter(_ name: String, _ delta: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        if open && delta > 0 { host.counter(name, delta) }
    }

    public func close() {
        lock.lock()
        open = false
        lock.unlock()
    }
}

/// A fixed pool of threads, each with its own context (an HTTP client: one libcurl handle is not
/// thread-safe), running jobs in submission order.
public final class RequestWorkers<Context>: @unchecked Sendable {
    public typealias Job = @Sendable (Context) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var head = 0
    private var running = 0
    private var accepting = true
    private var closed = false

    public init(count: Int, name: String, makeContext: @escaping @Sendable () -> Context) {
        for i in 0..<max(1, count) {
            let threadName = RequestWorkers.threadName(name, i)
            // Named from inside: on Linux a name set before start() is not applied.
            let thread = Thread { [self] in
                Thread.current.name = threadName
                self.loop(makeContext())
            }
            thread.start()
        }
    }

    /// `name-i` within Linux's 15-byte limit on thread names (a longer name is not applied at all, and
    /// the thread keeps the name of the thread that started it): the name is cut, not the number.
    static func threadName(_ name: String, _ index: Int) -> String {
        let suffix = "-\(index)"
        return String(decoding: name.utf8.prefix(max(0, 15 - suffix.utf8.count)), as: UTF8.self) + suffix
    }

    /// Queues jobs; false (nothing queued) once shutdown has begun.
    public func submit(_ newJobs: [Job]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { return false }
        jobs.append(contentsOf: newJobs)
        condition.broadcast()
        return true
    }

    /// Stops accepting jobs and waits until every queued and running job is done, or `deadline`;
    /// jobs still queued then are dropped without running. Threads exit afterwards.
    public func shutdown(deadline: Date) {
        condition.lock()
        accepting = false
        condition.broadcast()
        while head < jobs.count || running > 0 {
            if !condition.wait(until: deadline) { break }
        }
        closed = true
        jobs.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    private func loop(_ context: Context) {
        while true {
            condition.lock()
            while head == jobs.count && accepting && !closed { condition.wait() }
            if closed || head == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 256 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            running += 1
            condition.unlock()
            job(context)
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// Collects the results of a batch sent as several requests; the last request to finish
/// completes the batch. A request that fails in a way that would fail the others too (timeout,
/// throttling, server error) sets a shared outcome: requests not started yet take it without sending.
public final class BatchTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [SinkResult?]
    private var remaining: Int
    private var shortCircuit: SinkResult?

    public init(count: Int, requests: Int) {
        results = Array(repeating: nil, count: count)
        remaining = requests
    }

    /// The outcome requests not started yet should take instead of sending, if any.
    public var skipResult: SinkResult? {
        lock.lock()
        defer { lock.unlock() }
        return shortCircuit
    }

    public func set(_ index: Int, _ result: SinkResult) {
        lock.lock()
        results[index] = result
        lock.unlock()
    }

    /// Records a request's results; returns every result when this was the last request.
    public func finish(_ pairs: [(Int, SinkResult)], skipOthers: SinkResult? = nil) -> [SinkResult]? {
        lock.lock()
        defer { lock.unlock() }
        for (i, r) in pairs { results[i] = r }
        if let skipOthers, shortCircuit == nil { shortCircuit = skipOthers }
        remaining -= 1
        guard remaining == 0 else { return nil }
        return results.map { $0 ?? SinkResult(.retry, error: "no result recorded for this message") }
    }
}

/// Set when the instance begins to stop: requests not started yet complete RETRY without sending.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false

    public init() {}

    public var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return set
    }

    public func raise() {
        lock.lock()
        set = true
        lock.unlock()
    }
}

/// Parses a Retry-After header (delta-seconds) into milliseconds; 0 when absent or not a number.
public func retryAfterMs(_ value: String?) -> UInt32 {
    guard let value, let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds > 0 else { return 0 }
    return UInt32(min(seconds * 1000, 3_600_000))
}
