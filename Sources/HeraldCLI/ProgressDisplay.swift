import ArgumentParser
import Foundation

/// `--progress` and `--progress-interval`, shared by the commands that show a progress display (load, store migrate).
struct ProgressOptions: ParsableArguments {
    @Option(help: "Progress display: auto, bar, lines or none.")
    var progress: String = "auto"

    @Option(help: "Seconds between progress lines when not on a terminal.")
    var progressInterval: Double = 5

    mutating func validate() throws {
        guard ["auto", "bar", "lines", "none"].contains(progress) else {
            throw ValidationError("--progress must be auto, bar, lines or none")
        }
        guard progressInterval > 0 && progressInterval <= 3600 else {
            throw ValidationError("--progress-interval must be more than 0 and at most 3600 seconds")
        }
    }

    /// The display mode (`auto`: a bar on a terminal, else lines) and its refresh interval.
    var display: (mode: ProgressDisplay.Mode, interval: Double) {
        let mode: ProgressDisplay.Mode =
            progress == "none" ? .none
            : progress == "bar" ? .bar
            : progress == "lines" ? .lines : (isatty(STDERR_FILENO) != 0 ? .bar : .lines)
        return (mode, mode == .bar ? 0.2 : progressInterval)
    }
}

/// What a `ProgressDisplay` shows: how much of how much is done, in which unit.
protocol ProgressSource: AnyObject, Sendable {
    var total: Int { get }
    /// Done so far, rejected of those, and seconds since the start.
    var progress: (done: Int, rejected: Int, seconds: Double) { get }
    /// What is counted, plural ("records") and in rates ("rec" for "rec/s").
    var unit: (plural: String, rate: String) { get }
    /// Shown after the numbers (e.g. the table being copied); empty for nothing.
    var detail: String { get }
}

extension ProgressSource {
    var unit: (plural: String, rate: String) { ("records", "rec") }
    var detail: String { "" }
}

extension LoadJob: ProgressSource {}

/// Shows a long job's progress (a load, a store migration): a bar redrawn in place on a terminal, plain lines
/// otherwise.
final class ProgressDisplay: @unchecked Sendable {
    enum Mode { case bar, lines, none }

    private let job: any ProgressSource
    private let mode: Mode
    private let interval: Double
    private let lock = NSLock()
    private var running = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private let wake = DispatchSemaphore(value: 0)

    init(job: any ProgressSource, mode: Mode, interval: Double) {
        self.job = job
        self.mode = mode
        self.interval = interval
    }

    func start() {
        guard mode != .none else { return }
        lock.withLock { running = true }
        let thread = Thread { [self] in
            while true {
                _ = wake.wait(timeout: .now() + interval)
                if !lock.withLock({ running }) { break }
                draw(final: false)
            }
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        guard mode != .none else { return }
        lock.withLock { running = false }
        wake.signal()
        finished.wait()
        draw(final: true)
    }

    private func draw(final: Bool) {
        let (done, rejected, seconds) = job.progress
        let total = job.total
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let remaining = rate > 0 && total > done ? Double(total - done) / rate : 0
        let percent = total > 0 ? min(100, done * 100 / total) : 100
        let unit = job.unit
        let detail = job.detail
        let stats =
            "\(format(done))/\(format(total)) \(unit.plural)  \(format(Int(rate))) \(unit.rate)/s  "
            + "ETA \(duration(remaining))\(rejected > 0 ? "  \(rejected) rejected" : "")"
            + (detail.isEmpty ? "" : "  \(detail)")
        switch mode {
        case .bar:
            let width = 30
            let filled = width * percent / 100
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let line = "\r[\(bar)] \(percent)% \(stats)\u{1B}[K" + (final ? "\n" : "")
            FileHandle.standardError.write(line.data(using: .utf8)!)
        case .lines:
            FileHandle.standardError.write("progress: \(percent)% \(stats)\n".data(using: .utf8)!)
        case .none:
            break
        }
    }

    private func format(_ n: Int) -> String {
        var s = String(n)
        var i = s.count - 3
        while i > 0 {
            s.insert(",", at: s.index(s.startIndex, offsetBy: i))
            i -= 3
        }
        return s
    }

    private func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
