import Foundation
import Synchronization

/// One file opened for appending, shared by every file-sink instance of the process that writes to
/// it (see `OpenFiles`). Appends are serialised: a batch's lines go in with one `write` of the
/// whole batch, and a failed or short write is undone before anyone else writes.
final class SharedFile: @unchecked Sendable {
    struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// What an append achieved.
    struct Outcome {
        /// How many of the batch's lines (from the first) are whole in the file, and on disk when
        /// the append was asked to be durable. The others are not in the file.
        var linesKept: Int
        /// Why the other lines are not in the file; nil when every line was kept.
        var error: String?
    }

    let identity: Identity
    /// The canonical path when the file was first opened, for messages.
    let path: String
    /// Holders of this file; guarded by `OpenFiles`'s lock.
    var holders = 0
    private let fd: Int32
    /// Held for a whole append (write, undo, fsync). Its value is a length the file must be cut
    /// back to before the next append: an undo that failed (nil: none pending).
    private let appending = Mutex<Int64?>(nil)

    init(fd: Int32, identity: Identity, path: String) {
        self.fd = fd
        self.identity = identity
        self.path = path
    }

    /// Appends `bytes`, whole lines ending at `lineEnds` (offsets into `bytes`, ascending, the last
    /// one `bytes.count`), then fsyncs when `durable` is set.
    ///
    /// If the write fails or is short (a full disk, a quota), the file is truncated back to the end
    /// of the last line that was written whole: no partial line stays for the next append to be
    /// glued onto. With `durable`, the kept lines are fsynced too; if that fails, the whole batch is
    /// truncated away (`linesKept` 0), since which of its bytes reached the disk is unknown.
    func append(_ bytes: UnsafeRawBufferPointer, lineEnds: [Int], durable: Bool) -> Outcome {
        appending.withLock { pending -> Outcome in
            if let length = pending {
                if ftruncate(fd, off_t(length)) != 0 {
                    return Outcome(
                        linesKept: 0,
                        error:
                            "\(path) still ends in a partial line: truncating it to \(length) bytes failed again (\(errorText())); nothing is written until that succeeds"
                    )
                }
                pending = nil
            }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                return Outcome(linesKept: 0, error: "cannot stat \(path) before appending: \(errorText())")
            }
            let before = Int64(st.st_size)
            let (written, writeError) = writeAll(bytes)
            if written == bytes.count {
                if durable && fsync(fd) != 0 {
                    let reason = errorText()
                    return undo(
                        to: before, pending: &pending, kept: 0, lines: lineEnds.count,
                        "fsync of \(path) failed: \(reason); which lines reached the disk is unknown")
                }
                return Outcome(linesKept: lineEnds.count, error: nil)
            }
            let kept = lineEnds.prefix { $0 <= written }.count
            let keptBytes = kept == 0 ? 0 : lineEnds[kept - 1]
            var outcome = undo(
                to: before + Int64(keptBytes), pending: &pending, kept: kept, lines: lineEnds.count,
                "writing to \(path) failed after \(written) of \(bytes.count) bytes: \(writeError)")
            if outcome.linesKept > 0 && durable && fsync(fd) != 0 {
                let reason = errorText()
                outcome = undo(
                    to: before, pending: &pending, kept: 0, lines: lineEnds.count,
                    "\(outcome.error ?? ""); then fsync failed too (\(reason))")
            }
            return outcome
        }
    }

    /// fsyncs the file (for `flush`).
    func sync() -> Bool {
        appending.withLock { _ in fsync(fd) == 0 }
    }

    /// Closes the descriptor; called by `OpenFiles` when the last holder releases the file.
    func closeFile() {
        _ = close(fd)
    }

    /// Writes until everything is written or a write fails; returns the bytes written and the error.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> (Int, String) {
        guard let base = bytes.baseAddress else { return (0, "") }
        var written = 0
        while written < bytes.count {
            let n = write(fd, base + written, bytes.count - written)
            if n > 0 {
                // A short write: the rest goes in the next call, which reports the error if any.
                // No one else writes in between: the lock is held.
                written += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                guard n < 0 else { return (written, "the system wrote 0 bytes") }
                let code = errno
                return (written, String(cString: strerror(code)) + advice(code))
            }
        }
        return (written, "")
    }

    /// Truncates the file back to `length` (the end of the last whole line); if that fails, the next
    /// append truncates first. Returns the outcome with the reason for the lines not kept.
    private func undo(to length: Int64, pending: inout Int64?, kept: Int, lines: Int, _ reason: String) -> Outcome {
        let retried = lines - kept
        if ftruncate(fd, off_t(length)) == 0 {
            return Outcome(
                linesKept: kept,
                error:
                    "\(reason); truncated back to the last whole line (\(length) bytes); \(retried) of the batch's \(lines) lines will be retried"
            )
        }
        pending = length
        return Outcome(
            linesKept: kept,
            error:
                "\(reason); truncating back to the last whole line (\(length) bytes) failed too (\(errorText())): the next write truncates first; \(retried) of the batch's \(lines) lines will be retried"
        )
    }

    private func errorText() -> String { String(cString: strerror(errno)) }

    private func advice(_ code: Int32) -> String {
        switch code {
        case ENOSPC: return " (free space on the file system that holds \(path))"
        case EDQUOT: return " (raise the disk quota of Herald's user, or free space)"
        case EFBIG: return " (the file reached the largest size allowed: rotate it)"
        default: return ""
        }
    }
}
