import Foundation
import GRDB
import HeraldStorage
import Logging

/// Copies the WAL into the database file on a thread of its own, so that the writer (which
/// otherwise runs SQLite's automatic checkpoint right after a commit) spends its time on writes.
///
/// Passive checkpoints never block the writer or readers. The writer keeps a backstop: when the
/// WAL reaches `writerBackstopPages` it starts it over between two groups (`WALRestarter`), copying
/// the (by then small) rest itself, so the WAL does not grow under a constant write load.
public final class Checkpointer: @unchecked Sendable {
    /// Pages (4 KiB) the WAL may hold before the writer starts it over.
    public static let writerBackstopPages = 8_000
    /// How often the thread looks for new commits.
    static let interval: TimeInterval = 0.1

    private let connection: DatabaseQueue
    private let signal: CommitSignal
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false

    private let gate: WALRestarter.Gate

    init(path: String, signal: CommitSignal, gate: WALRestarter.Gate, logger: Logger) throws {
        self.gate = gate
        var configuration = Configuration()
        configuration.label = "herald.checkpointer"
        configuration.busyMode = .timeout(1)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.signal = signal
        self.logger = logger
        let thread = Thread { [self] in
            // Named from inside: on Linux a name set before start() is not applied (and names are
            // at most 15 bytes).
            Thread.current.name = "herald-ckpt"
            self.loop()
        }
        thread.start()
    }

    private func loop() {
        var seen = signal.generation
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: Checkpointer.interval)) }
            let stop = stopping
            condition.unlock()
            if stop { break }
            let now = signal.generation
            if now == seen { continue }
            seen = now
            do {
                try gate.mutex.withLock { _ in
                    try connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
                }
            } catch {
                logger.debug("background checkpoint did not run", metadata: ["error": "\(error)"])
            }
        }
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the thread and closes its connection.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
        try? connection.close()
    }
}
