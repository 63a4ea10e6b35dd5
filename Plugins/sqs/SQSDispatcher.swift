import Foundation

/// A fixed set of worker threads, each with its own `SQSClient` (libcurl handles are not
/// thread-safe), taking jobs in submission order.
///
/// `stop` fails the jobs still queued (their `cancel`), waits for running ones until the deadline,
/// and lets the threads exit.
final class SQSDispatcher: @unchecked Sendable {
    struct Job: Sendable {
        /// Runs on a worker thread with that thread's client.
        let run: @Sendable (SQSClient) -> Void
        /// Called instead of `run` when the dispatcher stops before the job started.
        let cancel: @Sendable () -> Void
    }

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var stopping = false
    private var busy = 0
    private var started = false

    /// Starts `workers` threads; `makeClient` runs once on each.
    func start(workers: Int, name: String, makeClient: @escaping @Sendable () -> SQSClient) {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        for i in 0..<workers {
            let thread = Thread { [self] in work(makeClient()) }
            thread.name = "\(name)-\(i)"
            thread.start()
        }
    }

    /// Queues jobs; false (and nothing queued) once stopping.
    func submit(_ jobs: [Job]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopping || !started { return false }
        queue.append(contentsOf: jobs)
        condition.broadcast()
        return true
    }

    var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Cancels queued jobs and waits up to `deadlineMs` for running ones. Returns whether they all finished.
    @discardableResult
    func stop(deadlineMs: UInt32) -> Bool {
        condition.lock()
        stopping = true
        let left = Array(queue[head...])
        queue.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
        for job in left { job.cancel() }
        let deadline = Date().addingTimeInterval(Double(deadlineMs) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while busy > 0 {
            if !condition.wait(until: deadline) { break }
        }
        return busy == 0
    }

    private func work(_ client: SQSClient) {
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            if head == queue.count {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            busy += 1
            condition.unlock()

            job.run(client)

            condition.lock()
            busy -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
