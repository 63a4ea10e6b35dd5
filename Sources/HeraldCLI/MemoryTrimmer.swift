import HeraldStorage
import Logging
import ServiceLifecycle

/// Gives the memory glibc's allocator keeps free back to the system every `interval`
/// (`ProcessMemory.trim`; each trim took 1–10 ms in the 1M-entity soak).
struct MemoryTrimmer: Service {
    static let defaultInterval: Duration = .seconds(10)

    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // The wait ends at once on graceful shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            let start = ContinuousClock.now
            let released = ProcessMemory.trim()
            let elapsed = ContinuousClock.now - start
            logger.debug("malloc_trim released \(released >> 20) MiB in \(Int(elapsed / .microseconds(1))) µs")
        }
    }
}
