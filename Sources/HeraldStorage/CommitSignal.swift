import Synchronization

/// Wakes waiters when the store commits, so delivery workers react to new events without polling.
public final class CommitSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The current generation; pass it to `wait(since:timeout:)`.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Wakes every waiter.
    public func signal() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            let w = Array(s.waiters.values)
            s.waiters.removeAll()
            return w
        }
        for w in waiters { w.resume() }
    }

    /// Returns when a commit happened after `since`, after `timeout`, or when the task is cancelled.
    public func wait(since: UInt64, timeout: Duration) async {
        let id: UInt64 = state.withLock { s in
            s.nextWaiter &+= 1
            return s.nextWaiter
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.resume(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Checked under the lock the cancellation handler takes: a cancellation before the
                // waiter is registered is seen here, one after finds the waiter.
                let resumeNow = state.withLock { s -> Bool in
                    if s.generation != since || Task.isCancelled { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.resume(id)
        }
        timer.cancel()
    }

    private func resume(_ id: UInt64) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.resume()
    }
}
