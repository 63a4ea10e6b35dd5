import HeraldSinkSDK
import Synchronization

/// Every call from worker threads into Herald goes through here, so that none happens after
/// `on_stop` returns (the ABI forbids completions then, and the host table may be gone after
/// `on_destroy`). Also keeps the health state, to report changes only.
final class SQSHostGate: @unchecked Sendable {
    private struct State {
        var closed = false
        var healthy = true
        var reason = ""
    }

    private let host: SinkHost
    private let state = Mutex(State())

    init(host: SinkHost) {
        self.host = host
    }

    /// Completes a batch unless the gate is closed (Herald then counts it as RETRY itself).
    func complete(_ completion: SinkCompletion, _ results: [SinkResult]) {
        state.withLock { s in
            if !s.closed { completion.complete(results) }
        }
    }

    func log(_ level: SinkHost.LogLevel, _ message: String) {
        state.withLock { s in
            if !s.closed { host.log(level, message) }
        }
    }

    func counter(_ name: String, _ delta: UInt64) {
        guard delta > 0 else { return }
        state.withLock { s in
            if !s.closed { host.counter(name, delta) }
        }
    }

    /// Reports health when it changes: unhealthy with a reason (a new reason is reported too), healthy again
    /// after a request went through.
    func report(_ signal: SQSHealthSignal) {
        state.withLock { s in
            guard !s.closed else { return }
            switch signal {
            case .unchanged:
                return
            case .healthy:
                guard !s.healthy else { return }
                s.healthy = true
                s.reason = ""
                host.setHealth(true, "")
            case .unhealthy(let reason):
                guard s.healthy || s.reason != reason else { return }
                s.healthy = false
                s.reason = reason
                host.setHealth(false, reason)
            }
        }
    }

    var isHealthy: Bool { state.withLock { $0.healthy } }

    /// After this returns no call reaches Herald.
    func close() {
        state.withLock { $0.closed = true }
    }
}

/// Collects the results of one host batch across its requests and completes it once, when the last
/// request is done.
final class SQSBatchTracker: @unchecked Sendable {
    private struct State {
        var results: [SinkResult?]
        var remaining: Int
    }

    private let state: Mutex<State>
    private let completion: SinkCompletion
    private let gate: SQSHostGate

    init(count: Int, requests: Int, completion: SinkCompletion, gate: SQSHostGate) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: requests))
        self.completion = completion
        self.gate = gate
    }

    /// Sets results decided before sending.
    func set(_ index: Int, _ result: SinkResult) {
        state.withLock { $0.results[index] = result }
    }

    /// Records one request's results (one per entry) and completes the batch after the last request.
    func record(_ entries: [SQSEntry], _ results: [SinkResult]) {
        let finished = state.withLock { s -> [SinkResult]? in
            for (e, r) in zip(entries, results) { s.results[e.index] = r }
            s.remaining -= 1
            guard s.remaining <= 0 else { return nil }
            return s.results.map { $0 ?? SinkResult(.retry, error: "the sqs sink lost this message's result") }
        }
        if let finished { gate.complete(completion, finished) }
    }

    /// Completes now when there is nothing to send.
    func completeIfNothingToSend() {
        let finished = state.withLock { s -> [SinkResult]? in
            guard s.remaining <= 0 else { return nil }
            return s.results.map { $0 ?? SinkResult(.retry, error: "the sqs sink lost this message's result") }
        }
        if let finished { gate.complete(completion, finished) }
    }
}
