#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// Where every `AsyncSinkPlugin` task runs: threads of the SDK's own (serial Dispatch queues, which
/// always get a thread), not Swift's global pool.
///
/// The global pool has one thread per core and is shared by everything in the process: the host's own
/// tasks, and in a test process every synchronous test that waits. When it is busy, a sink's sends and
/// their cancellation would wait for it; and a sink's tasks would take threads the host needs. With
/// this executor neither waits for the other. Jobs go round-robin over one queue per core.
final class SinkTaskExecutor: TaskExecutor {
    static let shared = SinkTaskExecutor()

    private let queues: [DispatchQueue]
    private let next = Atomic<Int>(0)

    private init() {
        let count = max(2, sysconfCores())
        queues = (0..<count).map { DispatchQueue(label: "herald.sink.async.\($0)") }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue % queues.count
        let executor = asUnownedTaskExecutor()
        queues[index].async { job.runSynchronously(on: executor) }
    }
}

private func sysconfCores() -> Int {
    Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}
