import Foundation

/// A small tmpfs mounted in a temporary directory, for tests of a full disk. Needs root (or CAP_SYS_ADMIN),
/// which the CI machine has; without it the test fails with a message saying so.
public final class TmpfsMount: @unchecked Sendable {
    public let path: String
    private let holder: TemporaryDirectory

    public init(sizeKB: Int) throws {
        holder = TemporaryDirectory(prefix: "herald-tmpfs")
        path = holder.file("mnt")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKB)k", "tmpfs", path])
        guard r.status == 0 else {
            throw SetupError(
                "cannot mount a \(sizeKB) KiB tmpfs at \(path) (\(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))): "
                    + "full-disk tests need root or CAP_SYS_ADMIN, as CI has")
        }
    }

    /// Grows or shrinks the filesystem (what is written stays).
    public func resize(sizeKB: Int) throws {
        let r = try runCommand("/bin/mount", ["-o", "remount,size=\(sizeKB)k", path])
        guard r.status == 0 else { throw SetupError("cannot resize the tmpfs at \(path): \(r.stderr)") }
    }

    deinit {
        _ = try? runCommand("/bin/umount", ["-l", path])
    }
}
