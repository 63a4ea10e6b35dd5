import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Keeps the WAL bounded under a steady write load with readers: once it holds `pages` frames, the writer, between
/// two groups, runs a RESTART checkpoint that waits up to `wait` for the readers still reading from the WAL.
///
/// Why the writer: SQLite starts the WAL over only when a write finds every frame copied and no reader reading from
/// the WAL. Delivery almost always has a reader, and the writer commits back to back, so without this the WAL never
/// started over (40 → 68 MB over 150,000 entities with matching), and SQLite's own backstop
/// (`wal_autocheckpoint`) then checkpointed after every commit, for nothing. A RESTART from the checkpointer's
/// connection could not get the write lock between the writer's groups; between groups the writer has it. While it
/// waits no frame is written, and readers that start meanwhile read from the database file, so the wait lasts as
/// long as the oldest WAL reader does (after a copy the checkpointer thread is making ends: `Gate`). When that is
/// longer than `wait`, the checkpoint gives up (the frames it copied stay copied) and is tried again after
/// `retryInterval`, so a long reader (an export) costs the writer at most one `wait` per interval.
final class WALRestarter: Sendable {
    /// Held around every checkpoint of the store: SQLite answers a checkpoint that finds another one running with
    /// SQLITE_BUSY at once, without waiting, so the writer's RESTART would otherwise fail whenever the checkpointer
    /// thread was copying (often, under load). With the gate the writer waits for that copy to end instead.
    final class Gate: Sendable {
        let mutex = Mutex(())
        init() {}
    }

    struct Statistics: Sendable, Equatable {
        /// RESTART checkpoints that started the WAL over.
        var restarts = 0
        /// Those that gave up waiting for a reader.
        var busy = 0
        /// The most frames the WAL held after a commit.
        var maxFrames = 0
    }

    let pages: Int
    let gate: Gate
    let wait: Duration
    let retryInterval: Duration
    /// The GRDB busy timeout of the writer connection, restored after each attempt.
    let busyTimeout: Duration

    private struct State {
        var frames = 0
        var lastBusy: ContinuousClock.Instant?
        var statistics = Statistics()
    }

    private let state = Mutex(State())

    init(
        pages: Int, gate: Gate, wait: Duration = .milliseconds(200), retryInterval: Duration = .seconds(1),
        busyTimeout: Duration
    ) {
        self.pages = pages
        self.gate = gate
        self.wait = wait
        self.retryInterval = retryInterval
        self.busyTimeout = busyTimeout
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// Replaces SQLite's automatic checkpoint on the writer connection with a count of the WAL's frames.
    func install(on db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, _, _, frames in
                let restarter = Unmanaged<WALRestarter>.fromOpaque(context!).takeUnretainedValue()
                restarter.state.withLock {
                    $0.frames = Int(frames)
                    $0.statistics.maxFrames = max($0.statistics.maxFrames, Int(frames))
                }
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Whether the WAL holds `pages` frames and no attempt met a reader within `retryInterval`.
    func isDue() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { s -> Bool in
            guard s.frames >= pages else { return false }
            if let last = s.lastBusy, now - last < retryInterval { return false }
            return true
        }
    }

    /// On the writer, between two groups (outside any transaction), when `isDue()`.
    func restart(_ db: Database) {
        let now = ContinuousClock.now
        guard let handle = db.sqliteConnection else { return }
        sqlite3_busy_timeout(handle, Self.milliseconds(wait))
        var log: Int32 = 0
        var copied: Int32 = 0
        let rc = gate.mutex.withLock { _ in sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_RESTART, &log, &copied) }
        sqlite3_busy_timeout(handle, Self.milliseconds(busyTimeout))
        state.withLock {
            if rc == SQLITE_OK {
                $0.frames = 0
                $0.lastBusy = nil
                $0.statistics.restarts += 1
            } else {
                $0.lastBusy = now
                $0.statistics.busy += 1
            }
        }
    }

    static func milliseconds(_ d: Duration) -> Int32 {
        Int32(clamping: d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}
