import HeraldModel
import Logging
import Synchronization

/// The store's write health; logs each change of state once, not each failed write.
///
/// A storage failure makes it `failing` at once. It is `up` again after a write succeeds with no storage failure
/// for `quietMs`: when a disk is nearly full, small writes (a cursor) still succeed while large ones (a batch of
/// entities) fail, and the state must not flap with them.
package final class HealthMonitor: Sendable {
    package static let quietMs: Int64 = 5000
    private struct State {
        var health = StoreHealth.up
        var lastFailure: Int64 = 0
        var probing = false
        var stopped = false
    }
    private let state = Mutex(State())
    package let logger: Logger
    /// A small write that allocates space; run every `quietMs` while writes fail, so that the state recovers
    /// even when nothing else writes. Set once, before the first write.
    package var probe: (@Sendable () async -> Void)? {
        get { probeBox.withLock { $0 } }
        set { probeBox.withLock { $0 = newValue } }
    }
    private let probeBox = Mutex<(@Sendable () async -> Void)?>(nil)

    package init(logger: Logger) { self.logger = logger }

    package var health: StoreHealth { state.withLock { $0.health } }

    package func stop() { state.withLock { $0.stopped = true } }

    package func record(_ outcome: Result<Void, StoreError>) {
        let now = epochMilliseconds()
        let (next, startProbe): (StoreHealth?, Bool) = state.withLock { s in
            switch (outcome, s.health) {
            case (.success, .up):
                return (nil, false)
            case (.success, .failing):
                guard now - s.lastFailure >= HealthMonitor.quietMs else { return (nil, false) }
                s.health = .up
            case (.failure(let e), .failing(let code, _, _)) where code == e.code:
                s.lastFailure = now
                return (nil, false)
            case (.failure(let e), _):
                s.lastFailure = now
                s.health = .failing(e.code, e.message, since: now)
            }
            let start = !s.probing && s.health != .up
            if start { s.probing = true }
            return (s.health, start)
        }
        switch next {
        case nil: break
        case .up?: logger.notice("store: writes succeed again")
        case .failing(let code, let reason, _)?:
            logger.error(
                "store: writes fail (\(code.rawValue)): \(reason); write requests get \(code == .storageFull ? 507 : 503) until this clears")
        }
        if startProbe, let probe {
            Task {
                while true {
                    try? await Task.sleep(for: .milliseconds(HealthMonitor.quietMs))
                    let done = state.withLock { s in
                        if s.stopped || s.health == .up { s.probing = false }
                        return !s.probing
                    }
                    if done { return }
                    await probe()
                }
            }
        }
    }
}
