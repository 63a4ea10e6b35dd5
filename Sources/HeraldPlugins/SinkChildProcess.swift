import Foundation
import Synchronization

/// Where `herald sink-host` is: set with `use(_:)`, else `HERALD_SINK_HOST`, else this program when it is `herald`,
/// else a `herald` beside this program (herald-bench and the test bundle sit next to the one they were built with).
public enum SinkHostExecutable {
    nonisolated(unsafe) private static var chosen: String?
    private static let lock = NSLock()

    /// Sets the executable explicitly (`herald serve` sets its own; tests set the built `herald`).
    public static func use(_ path: String) { lock.withLock { chosen = path } }

    static func path() throws(PluginLoadError) -> String {
        if let chosen = lock.withLock({ chosen }) { return chosen }
        if let env = ProcessInfo.processInfo.environment["HERALD_SINK_HOST"], !env.isEmpty { return env }
        if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
            (own as NSString).lastPathComponent == "herald"
        {
            return own
        }
        if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let beside = ((own as NSString).deletingLastPathComponent as NSString).appendingPathComponent("herald")
            if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        }
        throw PluginLoadError(
            .sinkProcessFailed,
            "isolation \"process\" runs sinks in `herald sink-host`, and this program is not herald and has none beside it: set HERALD_SINK_HOST to the herald executable")
    }
}

/// One `herald sink-host` process: spawned with its end of a socket pair as fd 3, in a process group of its own
/// (a terminal's Ctrl-C reaches the daemon, which stops children in order), inheriting no other descriptor.
final class SinkChildProcess: @unchecked Sendable {
    let pid: pid_t
    let socket: FrameSocket
    let generation: UInt64
    let memory: MemoryLimit?
    /// When it was spawned.
    let started = ContinuousClock.now
    /// Writes to the child happen here, off the caller: a child that stops reading blocks only this queue.
    let writer: DispatchQueue
    /// Why the daemon killed it, if it did (set before the signal).
    private let killReason = Mutex<String?>(nil)
    /// The exit status, once reaped.
    private let reaped = Mutex<Int32?>(nil)
    let exited = DispatchSemaphore(value: 0)

    /// Shared memory for batches (nil: batches go through the socket).
    let slots: SharedBatchSlots?

    init(
        executable: String, generation: UInt64, memoryLimitMb: Int, memoryCgroup: Bool = true, label: String, slots: SharedBatchSlots?
    ) throws(PluginLoadError) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw PluginLoadError(.sinkProcessFailed, "socketpair failed: \(String(cString: strerror(errno)))")
        }
        // The child's end must not already be fd 3 (dup2 onto itself would keep close-on-exec).
        var childEnd = fds[1]
        if childEnd == 3 {
            childEnd = fcntl(fds[1], F_DUPFD_CLOEXEC, 10)
            close(fds[1])
        }
        var size: Int32 = 4 << 20
        setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(childEnd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childEnd, 3)
        if let slots { posix_spawn_file_actions_adddup2(&actions, slots.fd, 4) }
        // glibc 2.34+; not in the Swift overlay, so looked up.
        if let closeFrom = closeFromAction { _ = closeFrom(&actions, 5) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), strdup("sink-host"), strdup(label), nil]
        defer { for a in argv { free(a) } }
        // The daemon's environment, without Swift's backtracer: a plugin's crash must end the child at once (the
        // backtracer would spend seconds symbolicating the plugin's frames, with the batch still in flight).
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var e = environ
        while let entry = e.pointee {
            if strncmp(entry, "SWIFT_BACKTRACE=", 16) != 0 { environment.append(strdup(entry)) }
            e += 1
        }
        environment.append(strdup("SWIFT_BACKTRACE=enable=no"))
        environment.append(nil)
        defer { for v in environment { free(v) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, environment)
        close(childEnd)
        guard rc == 0 else {
            close(fds[0])
            throw PluginLoadError(.sinkProcessFailed, "cannot start \(executable) sink-host: \(String(cString: strerror(rc)))")
        }
        pid = child
        self.slots = slots
        socket = FrameSocket(fd: fds[0], owned: true)
        self.generation = generation
        writer = DispatchQueue(label: "herald.sink-host.\(child).writer")
        memory = memoryLimitMb > 0 && memoryCgroup ? MemoryLimit.cgroup(for: child, limitMb: memoryLimitMb) : nil
        // Reap it on a thread of its own: the exit status names the fault.
        let t = Thread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            reaped.withLock { $0 = status }
            exited.signal()
        }
        t.stackSize = 128 << 10
        t.start()
    }

    func send(_ frame: [UInt8]) {
        writer.async { [socket] in socket.write(frame) }
    }

    /// Kills the child with SIGKILL, remembering why (the first reason wins).
    func kill(because reason: String) {
        killReason.withLock { if $0 == nil { $0 = reason } }
        Glibc.kill(pid, SIGKILL)
    }

    var wasKilledBecause: String? { killReason.withLock { $0 } }

    /// Waits until the child has exited and returns its wait status.
    func waitForExit() -> Int32 {
        exited.wait()
        exited.signal()
        return reaped.withLock { $0 } ?? 0
    }

    func waitForExit(timeoutMs: Int) -> Int32? {
        guard exited.wait(timeout: .now() + .milliseconds(timeoutMs)) == .success else { return nil }
        exited.signal()
        return reaped.withLock { $0 }
    }

    /// The resident memory in bytes (from /proc), nil once gone.
    var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// "exited with status 7", "exited on signal 11 (SIGSEGV)".
    static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let name = signalNames[signal].map { " (\($0))" } ?? ""
        return "exited on signal \(signal)\(name)"
    }

    static let signalNames: [Int32: String] = [
        SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGILL: "SIGILL", SIGFPE: "SIGFPE",
        SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGTRAP: "SIGTRAP", SIGPIPE: "SIGPIPE", SIGSYS: "SIGSYS",
    ]

    deinit {
        memory?.remove()
    }
}

private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
private let closeFromAction: CloseFrom? = dlsym(
    UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np"
).map { unsafeBitCast($0, to: CloseFrom.self) }

/// A memory cgroup holding one child: cgroup v2 `memory.max` where the daemon's cgroup can have one below it, else
/// cgroup v1 `memory.limit_in_bytes`. nil where neither can be created (not root, no controller): the daemon then
/// watches the child's resident memory itself.
final class MemoryLimit: @unchecked Sendable {
    let path: String
    let version: Int

    private init(path: String, version: Int) {
        self.path = path
        self.version = version
    }

    static func cgroup(for pid: pid_t, limitMb: Int) -> MemoryLimit? {
        let bytes = String(limitMb << 20)
        let name = "herald-sink-\(getpid())-\(pid)"
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let own = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        // Version 2: "0::/path", the cgroup2 mount, the memory controller enabled for children.
        if let line = own.split(separator: "\n").first(where: { $0.hasPrefix("0::") }),
            let mount = mountPoint(in: mounts, type: "cgroup2", option: nil)
        {
            let parent = mount + String(line.dropFirst(3))
            let dir = (parent as NSString).appendingPathComponent(name)
            if mkdir(dir, 0o755) == 0 {
                if !FileManager.default.fileExists(atPath: dir + "/memory.max") {
                    _ = write("+memory", to: parent + "/cgroup.subtree_control")
                }
                if write(bytes, to: dir + "/memory.max"), write("0", to: dir + "/memory.swap.max") || true,
                    write(String(pid), to: dir + "/cgroup.procs")
                {
                    return MemoryLimit(path: dir, version: 2)
                }
                rmdir(dir)
            }
        }
        // Version 1: "N:memory:/path" under the memory hierarchy's mount.
        if let line = own.split(separator: "\n").first(where: { $0.split(separator: ":").dropFirst().first?.split(separator: ",").contains("memory") == true }),
            let relative = line.split(separator: ":", maxSplits: 2).last,
            let mount = mountPoint(in: mounts, type: "cgroup", option: "memory")
        {
            let dir = ((mount + String(relative)) as NSString).appendingPathComponent(name)
            if mkdir(dir, 0o755) == 0 {
                if write(bytes, to: dir + "/memory.limit_in_bytes") {
                    _ = write(bytes, to: dir + "/memory.memsw.limit_in_bytes")
                    if write(String(pid), to: dir + "/cgroup.procs") { return MemoryLimit(path: dir, version: 1) }
                }
                rmdir(dir)
            }
        }
        return nil
    }

    /// Whether the kernel killed a process of this cgroup for memory.
    var oomKilled: Bool {
        let file = version == 2 ? path + "/memory.events" : path + "/memory.oom_control"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == "oom_kill", let n = Int(parts[1]), n > 0 { return true }
        }
        if version == 1, let fails = try? String(contentsOfFile: path + "/memory.failcnt", encoding: .utf8),
            let n = Int(fails.trimmingCharacters(in: .whitespacesAndNewlines)), n > 0
        {
            return true
        }
        return false
    }

    var describe: String { version == 2 ? "cgroup v2 memory.max" : "cgroup v1 memory.limit_in_bytes" }

    func remove() {
        // The cgroup can go once its process has: retried briefly, the kernel empties it asynchronously.
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(10_000)
        }
    }

    private static func write(_ text: String, to file: String) -> Bool {
        let fd = open(file, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc.write(fd, $0, strlen($0)) } == text.utf8.count
    }

    /// The mount point of a filesystem of `type` (with `option` among its super options) in /proc/self/mountinfo.
    private static func mountPoint(in mountinfo: String, type: String, option: String?) -> String? {
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3, right[0] == type else { continue }
            if let option, !right[2].split(separator: ",").contains(Substring(option)) { continue }
            return String(left[4])
        }
        return nil
    }
}
