import Foundation
import HeraldSinkSDK
import Synchronization

/// A part of a batch sent as one HTTP request: which messages (by index in the batch) it carries.
public protocol BatchRequest: Sendable {
    var indices: [Int] { get }
}

/// A batch cut into requests within a service's limits, and the messages refused before sending.
public struct RequestPlan<Request: BatchRequest>: Sendable {
    public var requests: [Request] = []
    /// Messages that can never be sent as they are (TOO_LARGE or PERMANENT), by index.
    public var rejected: [(index: Int, result: SinkResult)] = []

    public init() {}

    /// Sends request after request on the caller's thread (tests and tools): once a request says the
    /// others should not be sent, they take its outcome. One result per message of the batch.
    public func sendSequentially(messageCount: Int, _ send: (Request) -> RequestOutcome) -> [SinkResult] {
        var results = [SinkResult?](repeating: nil, count: messageCount)
        for (i, r) in rejected { results[i] = r }
        var skip: SinkResult?
        for request in requests {
            if let skip {
                for i in request.indices { results[i] = skip }
                continue
            }
            let outcome = send(request)
            for (i, r) in outcome.results { results[i] = r }
            skip = outcome.skipOthers
        }
        return results.map { $0 ?? SinkResult(.retry, error: "not sent") }
    }
}

/// What one request gave: results by message index, and the outcome requests of the same batch
/// that have not started yet should take without sending (the service is down, throttling…).
public struct RequestOutcome: Sendable {
    public var results: [(Int, SinkResult)]
    public var skipOthers: SinkResult?

    public init(results: [(Int, SinkResult)], skipOthers: SinkResult? = nil) {
        self.results = results
        self.skipOthers = skipOthers
    }

    /// Finds the messages a service refused a request for, by sending `halves` of it one after the
    /// other (`send` recurses, halving again while more than one message is refused). When a half
    /// says the others should not be sent (the service itself is failing now), the messages of
    /// `request` not sent yet take that result unsent.
    public static func isolating<Request: BatchRequest>(
        _ request: Request, halves: [Request], _ send: (Request) -> RequestOutcome
    ) -> RequestOutcome {
        var results: [(Int, SinkResult)] = []
        for half in halves {
            let outcome = send(half)
            results += outcome.results
            if let skip = outcome.skipOthers {
                let done = Set(results.map(\.0))
                results += request.indices.filter { !done.contains($0) }.map { ($0, skip) }
                return RequestOutcome(results: results, skipOthers: skip)
            }
        }
        return RequestOutcome(results: results)
    }
}

/// Sends planned batches on a pool of worker threads, one client (connection) each: the
/// machinery the HTTP sinks share. The last request of a batch to finish completes it; a request
/// not started when the instance stops, or after another request of its batch asked to skip the
/// rest, completes without sending.
public final class RequestDispatcher<Client>: @unchecked Sendable {
    public let gate: HostGate
    public let stopping = StopFlag()
    private let sinkName: String
    private var workers: RequestWorkers<Client>?

    public init(sinkName: String, gate: HostGate) {
        self.sinkName = sinkName
        self.gate = gate
    }

    /// Starts `count` worker threads, each with a client from `makeClient`.
    public func start(count: Int, makeClient: @escaping @Sendable () -> Client) {
        workers = RequestWorkers(count: count, name: sinkName, makeContext: makeClient)
    }

    /// Queues a planned batch; `send` runs on a worker thread for each request.
    public func dispatch<Request: BatchRequest>(
        _ plan: RequestPlan<Request>, messageCount: Int, completion: SinkCompletion,
        send: @escaping @Sendable (Request, Client) -> RequestOutcome
    ) throws {
        guard workers != nil else { throw SinkError(.retry, "the \(sinkName) sink is not started") }
        let gate = self.gate
        submit(plan, messageCount: messageCount, cancelled: nil, send: send) { gate.complete(completion, $0) }
    }

    /// The async form of `dispatch` (for an `AsyncSinkPlugin`): returns the batch's results once its last request
    /// finished. When the calling task is cancelled, requests not started yet take RETRY without sending; when the
    /// dispatcher stops, a batch still waiting returns RETRY at once (its running requests end on their own).
    public func send<Request: BatchRequest>(
        _ plan: RequestPlan<Request>, messageCount: Int, send: @escaping @Sendable (Request, Client) -> RequestOutcome
    ) async -> [SinkResult] {
        guard workers != nil else {
            return Array(repeating: SinkResult(.retry, error: "the \(sinkName) sink is not started"), count: messageCount)
        }
        let cancelled = StopFlag()
        let stopped = Array(
            repeating: SinkResult(.retry, error: "the \(sinkName) sink stopped before sending"), count: messageCount)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[SinkResult], Never>) in
                let once = ResumeOnce(continuation, count: messageCount)
                guard waiting.add(once) else {
                    once.resume(stopped)
                    return
                }
                submit(plan, messageCount: messageCount, cancelled: cancelled, send: send) { [waiting] results in
                    waiting.remove(once)
                    once.resume(results)
                }
            }
        } onCancel: {
            cancelled.raise()
        }
    }

    /// The batches `send` waits for, resumed with RETRY when the dispatcher stops.
    private let waiting = WaitingBatches()

    private func submit<Request: BatchRequest>(
        _ plan: RequestPlan<Request>, messageCount: Int, cancelled: StopFlag?,
        send: @escaping @Sendable (Request, Client) -> RequestOutcome, finish: @escaping @Sendable ([SinkResult]) -> Void
    ) {
        if plan.requests.isEmpty {
            finish(plan.rejected.sorted { $0.index < $1.index }.map(\.result))
            return
        }
        let tracker = BatchTracker(count: messageCount, requests: plan.requests.count)
        for (i, r) in plan.rejected { tracker.set(i, r) }
        let stopping = self.stopping
        let sinkName = self.sinkName
        let jobs: [RequestWorkers<Client>.Job] = plan.requests.map { request in
            { client in
                let final: [SinkResult]?
                if stopping.isSet || cancelled?.isSet == true {
                    let r = SinkResult(.retry, error: "the \(sinkName) sink stopped before sending")
                    final = tracker.finish(request.indices.map { ($0, r) })
                } else if let skip = tracker.skipResult {
                    final = tracker.finish(request.indices.map { ($0, skip) })
                } else {
                    let outcome = send(request, client)
                    final = tracker.finish(outcome.results, skipOthers: outcome.skipOthers)
                }
                if let final { finish(final) }
            }
        }
        if workers?.submit(jobs) != true {
            finish(Array(repeating: SinkResult(.retry, error: "the \(sinkName) sink is stopping"), count: messageCount))
        }
    }

    /// Requests not started complete RETRY; waits for running ones until the deadline; then nothing
    /// more reaches the host.
    public func stop(deadlineMs: UInt32) {
        stopping.raise()
        workers?.shutdown(deadline: Date().addingTimeInterval(Double(deadlineMs) / 1000))
        gate.close()
        waiting.close(SinkResult(.retry, error: "the \(sinkName) sink stopped before the send finished"))
        workers = nil
    }

    deinit {
        // Destroyed without on_stop: let the worker threads end.
        stopping.raise()
        gate.close()
        workers?.shutdown(deadline: Date())
    }
}

/// Resumes a continuation once; later calls are ignored (a batch's results can arrive from its last request and
/// from the dispatcher stopping).
final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<[SinkResult], Never>?>
    let count: Int

    init(_ continuation: CheckedContinuation<[SinkResult], Never>, count: Int) {
        self.continuation = Mutex(continuation)
        self.count = count
    }

    func resume(_ results: [SinkResult]) {
        continuation.withLock { c in
            let taken = c
            c = nil
            return taken
        }?.resume(returning: results)
    }
}

/// The batches an async `send` waits for; closing resumes them all and refuses new ones.
final class WaitingBatches: Sendable {
    private struct State {
        var batches: [ObjectIdentifier: ResumeOnce] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    func add(_ once: ResumeOnce) -> Bool {
        state.withLock { s in
            if s.closed { return false }
            s.batches[ObjectIdentifier(once)] = once
            return true
        }
    }

    func remove(_ once: ResumeOnce) {
        _ = state.withLock { $0.batches.removeValue(forKey: ObjectIdentifier(once)) }
    }

    func close(_ result: SinkResult) {
        let all = state.withLock { s in
            s.closed = true
            defer { s.batches.removeAll() }
            return Array(s.batches.values)
        }
        for once in all { once.resume(Array(repeating: result, count: once.count)) }
    }
}
