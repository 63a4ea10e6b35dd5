import Foundation

/// Runs blocking work (processes, HTTP calls to a server under test, sleeps) on a thread of its own and awaits it.
/// Swift's cooperative pool has one thread per core, two on the CI machine: a test that blocks one of them for many
/// seconds starves every other test of the run (store tests then hit their time limits, and leases in lease tests
/// lapse between two statements).
///
/// `body` runs in the calling task, on a task executor with a dedicated thread, so `#expect` inside it is recorded
/// for the test that called it.
public func offPool<T: Sendable>(_ body: () throws -> T) async throws -> T {
    let executor = DedicatedThreadExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor) { try body() }
}

/// Runs each body on a thread of its own, all at once, and awaits them all; rethrows the first error. The bodies run
/// outside the test's task: they report failures by throwing, not with `#expect`.
public func offPoolConcurrently(_ bodies: [@Sendable () throws -> Void]) async throws {
    try await offPool {
        let group = DispatchGroup()
        let failure = NSLock()
        nonisolated(unsafe) var first: (any Error)?
        for body in bodies {
            group.enter()
            Thread {
                do { try body() } catch { failure.withLock { if first == nil { first = error } } }
                group.leave()
            }.start()
        }
        group.wait()
        if let first { throw first }
    }
}

/// A task executor that runs its jobs on one thread of its own, until stopped.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    init() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
