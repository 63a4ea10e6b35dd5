import Foundation

/// A PostgreSQL server of its own for a test: a fresh cluster (`initdb`) in a temporary directory, listening on
/// 127.0.0.1 on a free port, with trust authentication for the user `herald` and one database (default `herald`).
///
///     let pg = try PostgresCluster.start()
///     // pg.url == "postgres://herald@127.0.0.1:PORT/herald"
///     try pg.psql("CREATE TABLE t (x int)")
///     try pg.restart()          // same port, same data
///     pg.destroy()              // also on deinit
///
/// **Binaries.** `initdb`, `pg_ctl`, `postgres` and `psql` come from `$HERALD_PG_BIN` when it is set (nothing else
/// is tried then), else from the highest `/usr/lib/postgresql/<version>/bin` that has all four (Debian/Ubuntu's
/// `postgresql` package), else from `PATH`.
///
/// **Root.** `initdb` and `postgres` refuse to run as root. As root (CI runs as root) every server command runs as
/// the `postgres` OS user (`runuser -u postgres -- …`, which the Debian package creates) and the cluster's directory
/// belongs to that user; otherwise they run as the current user. `psql` is a client and runs as the current user.
///
/// **Missing PostgreSQL.** `start` throws a `SetupError` whose text says what to install
/// (``notInstalledMessage``). Tests that need PostgreSQL check ``requireOrSkipMessage()`` first: outside CI they
/// are skipped with that message; **in CI (`CI` set in the environment, as `.ci/run` does) a missing PostgreSQL is a
/// failure, not a skip** — the test records an issue with the message (see ``isRequired``), so a CI image without
/// PostgreSQL cannot pass by silently skipping the storage tests.
///
/// **Clean-up.** `destroy()` (also run by `deinit`) stops the server (`immediate`) and removes the directory. So
/// that a test process that crashes, is killed, or never releases the object does not leave a server behind, each
/// cluster also has a small watchdog shell process that does the same once the test process is gone.
public final class PostgresCluster: @unchecked Sendable {
    /// What a machine without PostgreSQL is told to do.
    public static let notInstalledMessage =
        "PostgreSQL is not installed: apt-get install postgresql (the tests start their own cluster; CI installs it in .ci/run)"

    /// How `pg_ctl stop` shuts the server down.
    public enum StopMode: String, Sendable {
        /// Waits for the clients to disconnect.
        case smart
        /// Disconnects the clients, then a clean shutdown (checkpoint).
        case fast
        /// Stops every server process at once, like a crash: the next start runs crash recovery.
        case immediate
    }

    /// A failed `psql` statement (or another PostgreSQL command): exit status and what it printed.
    public struct CommandFailure: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var description: String {
            "\(command) failed (exit \(status)): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }

    public let host = "127.0.0.1"
    public let user = "herald"
    public let database: String
    /// The port the server listens on; the same across `stop`/`start`/`restart`/`kill9`.
    public var port: Int { lock.withLock { currentPort } }
    /// `postgres://herald@127.0.0.1:PORT/DATABASE` (the database name percent-encoded).
    public var url: String {
        let path = database.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? database
        return "postgres://\(user)@\(host):\(port)/\(path)"
    }
    /// The temporary directory holding the data directory, the log and the Unix socket; removed by `destroy()`.
    public let directory: String
    /// The cluster's data directory (`PGDATA`).
    public let dataDirectory: String
    /// The server's log (`pg_ctl -l`).
    public let logFile: String
    /// The directory of the binaries used.
    public let binDirectory: String

    /// The server log so far (for failure messages).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    private let binaries: Binaries
    /// The `postgres` OS user's name when running as root, else nil (commands run as the current user).
    private let runAs: String?
    private let lock = NSLock()
    private var currentPort: Int
    private var destroyed = false
    /// The watchdog shell's pid (also its process group).
    private var watchdog: pid_t?

    // MARK: - Availability

    /// True when the PostgreSQL binaries are found (and, as root, the `postgres` OS user exists).
    public static var isAvailable: Bool { requireOrSkipMessage() == nil }

    /// True in CI (`CI` set in the environment to anything but `false`/`0`, as `.ci/run` and most CI services do):
    /// a test that needs PostgreSQL must then fail when it is missing instead of being skipped.
    public static var isRequired: Bool {
        guard let ci = ProcessInfo.processInfo.environment["CI"]?.lowercased() else { return false }
        return !ci.isEmpty && ci != "false" && ci != "0"
    }

    /// nil when a cluster can be started here; otherwise why not and what to install (``notInstalledMessage`` when
    /// the binaries are missing). Outside CI the test is skipped with this text; in CI (``isRequired``) it records
    /// an issue with it, so missing PostgreSQL fails the run.
    public static func requireOrSkipMessage() -> String? {
        do {
            _ = try Binaries.find()
            if getuid() == 0 && getpwnam("postgres") == nil {
                return rootWithoutPostgresUserMessage
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    static let rootWithoutPostgresUserMessage =
        "running as root, and PostgreSQL refuses to run as root: the tests run it as the `postgres` OS user, which "
        + "does not exist here. apt-get install postgresql creates it (or: useradd --system --home /var/lib/postgresql postgres)"

    // MARK: - Start

    /// Creates a new cluster in a temporary directory, starts it on a free port of 127.0.0.1 and creates `database`.
    /// Throws a `SetupError` naming what to install when PostgreSQL is missing, or with the server log when it does
    /// not start.
    public static func start(database: String = "herald") throws -> PostgresCluster {
        let binaries = try Binaries.find()
        var runAs: String?
        if getuid() == 0 {
            guard getpwnam("postgres") != nil else { throw SetupError(rootWithoutPostgresUserMessage) }
            runAs = "postgres"
        }
        let directory = try makeDirectory(runAs: runAs)
        let cluster = PostgresCluster(directory: directory, binaries: binaries, runAs: runAs, database: database)
        // From here on the cluster's deinit stops the server and removes the directory if anything below throws.
        try cluster.initialize()
        return cluster
    }

    private init(directory: String, binaries: Binaries, runAs: String?, database: String) {
        self.directory = directory
        self.dataDirectory = directory + "/data"
        self.logFile = directory + "/postgres.log"
        self.binaries = binaries
        self.binDirectory = binaries.directory
        self.runAs = runAs
        self.database = database
        self.currentPort = freePort()
    }

    /// A new empty directory the server user can use: under `NSTemporaryDirectory()`, or /tmp when, as root, the
    /// `postgres` user cannot reach that (e.g. TMPDIR under /root).
    private static func makeDirectory(runAs: String?) throws -> String {
        var bases = [NSTemporaryDirectory()]
        if runAs != nil && !bases.contains(where: { $0.hasPrefix("/tmp") }) { bases.append("/tmp/") }
        var problems: [String] = []
        for base in bases {
            let template = (base.hasSuffix("/") ? base : base + "/") + "herald-pg-XXXXXX"
            var bytes = Array(template.utf8CString)
            guard let made = bytes.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                problems.append("mkdtemp \(template): \(String(cString: strerror(errno)))")
                continue
            }
            let path = String(cString: made)
            guard let runAs else { return path }
            guard let pw = getpwnam(runAs), chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
                problems.append("chown \(runAs) \(path): \(String(cString: strerror(errno)))")
                try? FileManager.default.removeItem(atPath: path)
                continue
            }
            // The whole path must be searchable by that user, not only the new directory.
            if let r = try? run(
                runuser(), ["-u", runAs, "--", "/bin/sh", "-c", "test -w \"$0\" && test -x \"$0\"", path]),
                r.status == 0
            {
                return path
            }
            problems.append("the \(runAs) user cannot write \(path)")
            try? FileManager.default.removeItem(atPath: path)
        }
        throw SetupError(
            "no temporary directory for the PostgreSQL cluster: \(problems.joined(separator: "; ")). "
                + "Set TMPDIR to a directory the \(runAs ?? "current") user can write (e.g. /tmp)")
    }

    private func initialize() throws {
        // --no-sync: initdb does not fsync what it wrote (that matters only if the machine crashes within seconds);
        // the server itself runs with fsync=on, so crash tests see real durability.
        let initdb = try serverCommand(
            binaries.initdb,
            ["-D", dataDirectory, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], timeout: 300)
        guard initdb.status == 0 else {
            throw SetupError("initdb failed (exit \(initdb.status)):\n\(initdb.stdout)\(initdb.stderr)")
        }
        startWatchdog()
        // freePort() only finds a port that was free a moment ago: if another process takes it first, try another.
        var attempt = 0
        while true {
            attempt += 1
            let logBefore = log.utf8.count
            do {
                try lock.withLock { try startServer() }
                break
            } catch is SetupError where attempt < 5 && portTaken(logSince: logBefore) {
                lock.withLock { currentPort = freePort() }
            }
        }
        if database != "postgres" {
            let quoted = "\"" + database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            _ = try psql("CREATE DATABASE \(quoted)", database: "postgres")
        }
    }

    /// Whether the server log written since byte `offset` says the port was taken.
    private func portTaken(logSince offset: Int) -> Bool {
        let text = String(decoding: Array(log.utf8).dropFirst(offset), as: UTF8.self)
        return text.contains("Address already in use") || text.contains("could not bind")
    }

    // MARK: - Server control

    /// Starts the (stopped) server again, on the same port with the same data. For tests of a PostgreSQL restart.
    public func start() throws {
        try lock.withLock {
            guard !destroyed else { throw SetupError("the PostgreSQL cluster in \(directory) was destroyed") }
            try startServer()
        }
    }

    /// Stops the server (`pg_ctl stop -m MODE`) and waits until it is down. Connected clients lose their connection.
    public func stop(mode: StopMode = .fast) throws {
        try lock.withLock {
            guard !destroyed else { return }
            try stopServer(mode: mode)
        }
    }

    /// `stop(mode: .fast)` then `start()`: a clean restart on the same port.
    public func restart() throws {
        try lock.withLock {
            guard !destroyed else { throw SetupError("the PostgreSQL cluster in \(directory) was destroyed") }
            try stopServer(mode: .fast)
            try startServer()
        }
    }

    /// SIGKILL to the postmaster (its pid from `postmaster.pid`), like a crash; waits until it and its child
    /// processes are gone. `start()` then runs crash recovery.
    ///
    /// Its stale lock files (`postmaster.pid`, the socket's `.lock`) are removed: where PID 1 does not reap orphans
    /// (some containers, this project's dev machines among them), the killed postmaster stays a zombie whose pid
    /// still "exists", and PostgreSQL would refuse to start over those files. Elsewhere it would ignore them.
    public func kill9() throws {
        try lock.withLock {
            guard !destroyed else { throw SetupError("the PostgreSQL cluster in \(directory) was destroyed") }
            guard let pid = postmasterPID() else {
                throw SetupError("no postmaster.pid in \(dataDirectory): the server is not running")
            }
            let children = Self.childProcesses(of: pid)
            kill(pid, SIGKILL)
            // Its children notice the postmaster's death and exit on their own, within milliseconds.
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && ([pid] + children).contains(where: Self.isAlive) {
                usleep(20_000)
            }
            for child in children where Self.isAlive(child) { kill(child, SIGKILL) }
            // Its lock files name it: see the doc comment.
            for stale in [
                "\(dataDirectory)/postmaster.pid", "\(directory)/.s.PGSQL.\(currentPort).lock",
                "\(directory)/.s.PGSQL.\(currentPort)",
            ] {
                try? FileManager.default.removeItem(atPath: stale)
            }
        }
    }

    /// Stops the server (`immediate`), ends the watchdog and removes the directory. Idempotent; also run by deinit.
    public func destroy() {
        lock.withLock {
            guard !destroyed else { return }
            destroyed = true
            if let watchdog {
                kill(-watchdog, SIGKILL)
                var status: Int32 = 0
                while waitpid(watchdog, &status, 0) < 0 && errno == EINTR {}
                self.watchdog = nil
            }
            if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid") {
                try? stopServer(mode: .immediate)
                // If pg_ctl could not stop it, do not leave it running.
                if let pid = postmasterPID(), Self.isAlive(pid) {
                    let children = Self.childProcesses(of: pid)
                    kill(pid, SIGKILL)
                    for child in children { kill(child, SIGKILL) }
                }
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    deinit {
        destroy()
    }

    // MARK: - psql

    /// Runs `sql` with `psql -At` (unaligned, tuples only; `ON_ERROR_STOP`) against `database` (default: the
    /// cluster's) and returns what it printed, without the trailing newline: one line per row, columns separated
    /// by `|`. Throws a `CommandFailure` with psql's stderr when the statement fails.
    @discardableResult
    public func psql(_ sql: String, database: String? = nil, timeout: Double = 120) throws -> String {
        let arguments = [
            "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", String(port), "-U", user,
            "-d", database ?? self.database, "-c", sql,
        ]
        let r = try Self.run(binaries.psql, arguments, directory: "/", timeout: timeout)
        guard r.status == 0 else {
            throw CommandFailure(
                command: "psql -c \(sql.debugDescription)", status: r.status, stdout: r.stdout, stderr: r.stderr)
        }
        var out = r.stdout
        while out.hasSuffix("\n") { out.removeLast() }
        return out
    }

    // MARK: - Internals (called with `lock` held)

    private func startServer() throws {
        let options = [
            "-p", String(currentPort), "-c", "listen_addresses=127.0.0.1", "-k", Self.shellQuoted(directory),
            "-c", "fsync=on", "-c", "max_connections=100",
        ].joined(separator: " ")
        let r = try serverCommand(
            binaries.pgCtl, ["-w", "-t", "120", "-D", dataDirectory, "-o", options, "-l", logFile, "start"],
            timeout: 180)
        guard r.status == 0 else {
            throw SetupError(
                "pg_ctl start failed (exit \(r.status)) on port \(currentPort): \(r.stdout)\(r.stderr)\nserver log:\n\(logTail())"
            )
        }
    }

    private func stopServer(mode: StopMode) throws {
        let r = try serverCommand(
            binaries.pgCtl, ["-w", "-t", "120", "-D", dataDirectory, "-m", mode.rawValue, "stop"], timeout: 180)
        guard r.status == 0 else {
            throw SetupError(
                "pg_ctl stop -m \(mode.rawValue) failed (exit \(r.status)): \(r.stdout)\(r.stderr)\nserver log:\n\(logTail())"
            )
        }
    }

    private func logTail(lines: Int = 40) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    private func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first.trimmingCharacters(in: .whitespaces)),
            pid > 0
        else { return nil }
        return pid
    }

    /// Runs a server program (initdb, pg_ctl) as the server user, in the cluster's directory.
    private func serverCommand(_ program: String, _ arguments: [String], timeout: Double) throws -> CommandResult {
        if let runAs {
            return try Self.run(
                Self.runuser(), ["-u", runAs, "--", program] + arguments, directory: directory, timeout: timeout)
        }
        return try Self.run(program, arguments, directory: directory, timeout: timeout)
    }

    /// A shell process that, once the test process has exited (crashed, killed, or ended without releasing this
    /// object), stops the server and removes the directory. `destroy()` ends it first.
    private func startWatchdog() {
        let script = """
            trap '' INT HUP QUIT TERM PIPE
            parent=$1; dir=$2; shift 2
            alive() {
                if [ -d /proc/self ]; then
                    [ -r /proc/$parent/status ] && ! grep -q '^State:[[:space:]]*Z' /proc/$parent/status
                else
                    kill -0 "$parent" 2>/dev/null
                fi
            }
            while alive && [ -d "$dir" ]; do sleep 1; done
            [ -d "$dir" ] || exit 0
            "$@" >/dev/null 2>&1
            if [ -r "$dir/data/postmaster.pid" ]; then kill -9 "$(head -n 1 "$dir/data/postmaster.pid")" 2>/dev/null; fi
            rm -rf "$dir"
            """
        var stop = [binaries.pgCtl, "-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"]
        if let runAs { stop = [Self.runuser(), "-u", runAs, "--"] + stop }
        // Its own process group: a Ctrl-C to the test run does not reach it, and destroy() ends it with its `sleep`.
        watchdog = try? Self.spawn(
            "/bin/sh", ["-c", script, "herald-pg-watchdog", String(getpid()), directory] + stop, directory: "/",
            stdout: nil, stderr: nil, ownProcessGroup: true)
    }

    // MARK: - Processes

    /// Alive and not a zombie (Linux: /proc; elsewhere kill(pid, 0)).
    static func isAlive(_ pid: pid_t) -> Bool {
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            return !status.split(separator: "\n").contains { $0.hasPrefix("State:") && $0.contains("Z") }
        }
        if FileManager.default.fileExists(atPath: "/proc/self") { return false }
        return kill(pid, 0) == 0
    }

    /// The pids whose parent is `pid` (Linux /proc; empty elsewhere).
    static func childProcesses(of pid: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { name -> pid_t? in
            guard let child = pid_t(name),
                let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.range(of: ")", options: .backwards)
            else { return nil }
            // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
            let fields = stat[close.upperBound...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    static func runuser() -> String {
        ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        } ?? "/usr/sbin/runuser"
    }

    static func shellQuoted(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Like `runCommand`, but spawned directly (`posix_spawn`) rather than with Foundation's `Process`, because
    /// `pg_ctl start` leaves a daemon behind: Foundation notices a child's exit through a socket the child inherits,
    /// and the postmaster would inherit it too, so the exit of `pg_ctl` would never be seen (nor the child reaped).
    /// Here the child gets only stdin (/dev/null), stdout and stderr; it is reaped with `waitpid`. Also: a working
    /// directory (the server user must be able to enter it), no inherited `PG*` variables (PGDATA, PGPORT,
    /// PGOPTIONS… would change what the commands do), C messages, and a time limit after which it is killed.
    static func run(_ executable: String, _ arguments: [String], directory: String = "/", timeout: Double = 120) throws
        -> CommandResult
    {
        let outPipe = try closeOnExecPipe()
        let errPipe: [Int32]
        do { errPipe = try closeOnExecPipe() } catch {
            close(outPipe[0])
            close(outPipe[1])
            throw error
        }
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments, directory: directory, stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        // Read both pipes while it runs so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let outFD = outPipe[0]
        let errFD = errPipe[0]
        DispatchQueue.global().async(group: group) { outData = readToEnd(outFD) }
        DispatchQueue.global().async(group: group) { errData = readToEnd(errFD) }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var timedOut = false
        var pause: useconds_t = 1000
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
        let exitStatus: Int32 = timedOut ? -1 : (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        // A process it started that kept the pipes open (none should) must not hang the test: the reads go on
        // in the background, and each closes its pipe when it ends.
        guard group.wait(timeout: .now() + 5) == .success else {
            return CommandResult(
                status: exitStatus, stdout: "",
                stderr: "\(executable) exited (\(exitStatus)) but a process it started still holds its output open")
        }
        let stderr = String(decoding: errData, as: UTF8.self)
        return CommandResult(
            status: exitStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: timedOut ? "timed out after \(Int(timeout)) s and was killed\n" + stderr : stderr)
    }

    /// A pipe whose ends are not inherited by processes other threads start meanwhile: `pipe2(O_CLOEXEC)` (looked
    /// up with dlsym: Swift's Glibc module does not declare it), else `pipe` then `FD_CLOEXEC`.
    private static func closeOnExecPipe() throws -> [Int32] {
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
        var fds: [Int32] = [-1, -1]
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2") {
            guard unsafeBitCast(symbol, to: Pipe2.self)(&fds, O_CLOEXEC) == 0 else {
                throw SetupError("pipe: \(String(cString: strerror(errno)))")
            }
            return fds
        }
        guard pipe(&fds) == 0 else { throw SetupError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fds
    }

    /// Reads `fd` until end of file, then closes it.
    private static func readToEnd(_ fd: Int32) -> Data {
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                data.append(contentsOf: buffer[0..<n])
            } else if n == 0 || errno != EINTR {
                return data
            }
        }
    }

    /// `posix_spawn` of `executable` in `directory` (through `/bin/sh -c 'cd …'`) with stdin from /dev/null,
    /// stdout/stderr to the given descriptors (nil: /dev/null), every other descriptor closed, no blocked signals,
    /// the environment of `run`; optionally in a process group of its own. Returns the pid; the caller reaps it.
    static func spawn(
        _ executable: String, _ arguments: [String], directory: String, stdout: Int32?, stderr: Int32?,
        ownProcessGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let stdout {
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if let stderr {
            posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        closeFrom3(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if ownProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        environment["LC_ALL"] = "C"
        environment["PGCONNECT_TIMEOUT"] = "10"
        let argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory, executable] + arguments
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgv, cEnv)
        guard r == 0 else { throw SetupError("could not start \(executable): \(String(cString: strerror(r)))") }
        return pid
    }

    /// Closes every descriptor from 3 up in the child: glibc's `posix_spawn_file_actions_addclosefrom_np` when
    /// there is one (2.34+, not in Swift's Glibc module, hence dlsym), else each descriptor open now.
    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np"),
            unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3) == 0
        {
            return
        }
        let open =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) }
            ?? Array(3..<1024)
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
    }

    // MARK: - Binaries

    struct Binaries {
        var directory: String
        var initdb: String
        var pgCtl: String
        var postgres: String
        var psql: String

        static let names = ["initdb", "pg_ctl", "postgres", "psql"]

        /// `$HERALD_PG_BIN`, else the highest `/usr/lib/postgresql/*/bin` with all four programs, else PATH.
        static func find() throws -> Binaries {
            let fm = FileManager.default
            let environment = ProcessInfo.processInfo.environment
            func complete(_ dir: String) -> Bool { names.allSatisfy { fm.isExecutableFile(atPath: dir + "/" + $0) } }
            func inDirectory(_ dir: String) -> Binaries {
                Binaries(
                    directory: dir, initdb: dir + "/initdb", pgCtl: dir + "/pg_ctl", postgres: dir + "/postgres",
                    psql: dir + "/psql")
            }
            if let bin = environment["HERALD_PG_BIN"], !bin.isEmpty {
                let dir = bin.hasSuffix("/") && bin.count > 1 ? String(bin.dropLast()) : bin
                guard complete(dir) else {
                    let missing = names.filter { !fm.isExecutableFile(atPath: dir + "/" + $0) }
                    throw SetupError(
                        "HERALD_PG_BIN is \(bin), which has no \(missing.joined(separator: ", ")): point it at PostgreSQL's "
                            + "bin directory or unset it. \(PostgresCluster.notInstalledMessage)")
                }
                return inDirectory(dir)
            }
            let root = "/usr/lib/postgresql"
            let versions = ((try? fm.contentsOfDirectory(atPath: root)) ?? [])
                .filter { complete("\(root)/\($0)/bin") }
                .sorted { versionKey($0).lexicographicallyPrecedes(versionKey($1)) }
            if let highest = versions.last { return inDirectory("\(root)/\(highest)/bin") }
            let path = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
            var found: [String: String] = [:]
            for name in names {
                found[name] = path.map { $0 + "/" + name }.first { fm.isExecutableFile(atPath: $0) }
            }
            guard let initdb = found["initdb"], let pgCtl = found["pg_ctl"], let postgres = found["postgres"],
                let psql = found["psql"]
            else {
                throw SetupError(PostgresCluster.notInstalledMessage)
            }
            return Binaries(
                directory: (initdb as NSString).deletingLastPathComponent, initdb: initdb, pgCtl: pgCtl,
                postgres: postgres,
                psql: psql)
        }

        /// "9.6" → [9, 6], "15" → [15]; names that are not versions sort first.
        static func versionKey(_ name: String) -> [Int] {
            name.split(separator: ".").map { Int($0) ?? -1 }
        }
    }
}
