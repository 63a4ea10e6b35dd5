import Foundation

/// A small tmpfs mounted in a temporary directory, for tests of a full disk. Needs root (or CAP_SYS_ADMIN),
/// which CI and the dev machines have; without it the test fails with a message saying so.
public final class TmpfsMount: @unchecked Sendable {
    public let path: String
    private let holder: TemporaryDirectory
    private var mounted = false

    public init(sizeKB: Int) throws {
        holder = TemporaryDirectory(prefix: "herald-tmpfs")
        path = holder.file("mnt")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try runCommand(TmpfsMount.program("mount"), ["-t", "tmpfs", "-o", "size=\(sizeKB)k,mode=0755", "tmpfs", path])
        guard r.status == 0 else {
            throw SetupError(
                "mounting a \(sizeKB) KiB tmpfs at \(path) failed (exit \(r.status): "
                    + "\(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))). Full-disk tests fill a small file "
                    + "system: run them as root, or with CAP_SYS_ADMIN where `mount -t tmpfs` is allowed (CI runs as root)")
        }
        mounted = true
    }

    /// Grows or shrinks the filesystem (what is written stays).
    public func resize(sizeKB: Int) throws {
        let r = try runCommand(TmpfsMount.program("mount"), ["-o", "remount,size=\(sizeKB)k", path])
        guard r.status == 0 else { throw SetupError("remounting \(path) with size=\(sizeKB)k failed: \(r.stderr)") }
    }

    /// Unmounts now (lazily, so open files of a process still running do not keep it busy); also on deinit.
    public func unmount() {
        guard mounted else { return }
        if (try? runCommand(TmpfsMount.program("umount"), ["-l", path]))?.status == 0 { mounted = false }
    }

    deinit { unmount() }

    static func program(_ name: String) -> String {
        ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"].map { $0 + name }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        } ?? "/bin/" + name
    }
}
