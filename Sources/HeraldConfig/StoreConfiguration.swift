import Foundation
import HeraldJSON

/// The `store` object: which backend holds the data, and how.
public struct StoreConfiguration: Sendable {
    /// The embedded SQLite store (default) or a PostgreSQL server.
    public var backend: StoreBackend = .sqlite
    /// SQLite `synchronous`: `FULL` fsyncs every commit (durable across power loss), `NORMAL` only across crashes.
    public var synchronous: String = "FULL"
    /// Events every destination has passed are deleted once older than this.
    public var queueRetentionHours: Int = 168
    /// How often compaction runs.
    public var compactionIntervalSeconds: Int = 60
    /// SQLite page cache of the writer connection, in MiB.
    public var writerCacheMiB: Int = 64
    /// SQLite page cache of each reader connection, in MiB.
    public var readerCacheMiB: Int = 8
    /// Reader connections open at most (SQLite).
    public var readerCount: Int = 8
    /// The SQLite WAL's size, in MiB, at which the writer starts it over between two groups of writes.
    public var walRestartMiB: Int = 32
    /// Match profiles the writer keeps for candidate comparisons (0: none; each is read and computed again).
    public var matchProfileCacheEntries: Int = 20_000

    public init() {}

    /// Keys that only the SQLite store reads; with `"backend": "postgres"` they are ignored (with a warning).
    public static let sqliteOnlyKeys = ["synchronous", "writerCacheMiB", "readerCacheMiB", "readerCount", "walRestartMiB"]
    /// Keys that only the PostgreSQL store reads; with the SQLite backend they are errors.
    public static let postgresOnlyKeys = ["url", "passwordEnv", "poolSize", "synchronousCommit"]
}

/// Where the data lives.
public enum StoreBackend: Sendable, Equatable {
    /// `herald.db` in `dataDirectory`.
    case sqlite
    /// A PostgreSQL database, shared by every Herald node pointed at it.
    case postgres(PostgresStoreConfiguration)

    /// The names `store.backend` accepts.
    public static let names = ["sqlite", "postgres"]

    /// The value of `store.backend` that selects this backend.
    public var name: String {
        switch self {
        case .sqlite: return "sqlite"
        case .postgres: return "postgres"
        }
    }
}

/// The PostgreSQL store as configured: the URL's parts, where the password comes from, and the connections.
public struct PostgresStoreConfiguration: Sendable, Equatable {
    /// What `synchronousCommit` accepts (PostgreSQL's `synchronous_commit` levels).
    public static let synchronousCommitLevels = ["on", "remote_apply", "remote_write", "local", "off"]
    public static let poolSizeRange: ClosedRange<Int64> = 1...64

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    /// The environment variable holding the password (nil: connect without one).
    public var passwordEnv: String?
    /// Connections the store may open (see `PostgresSettings.poolSize`).
    public var poolSize: Int
    /// `synchronous_commit` for Herald's write transactions; nil keeps the server's setting.
    public var synchronousCommit: String?

    public init(
        host: String, port: Int = PostgresURL.defaultPort, user: String, database: String, passwordEnv: String? = nil,
        poolSize: Int = 8, synchronousCommit: String? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.passwordEnv = passwordEnv
        self.poolSize = poolSize
        self.synchronousCommit = synchronousCommit
    }

    public init(url: PostgresURL, passwordEnv: String? = nil, poolSize: Int = 8, synchronousCommit: String? = nil) {
        self.init(
            host: url.host, port: url.port, user: url.user, database: url.database, passwordEnv: passwordEnv,
            poolSize: poolSize, synchronousCommit: synchronousCommit)
    }

    /// The URL without a password, for logs and `herald config check`.
    public var location: String {
        PostgresURL(host: host, port: port, user: user, database: database).description
    }
}

/// A PostgreSQL URL as `store.url` takes it: `postgres://USER@HOST:PORT/DATABASE` (also `postgresql://`; the port
/// may be left out for 5432; an IPv6 host goes in brackets; `%`-escapes in the user and database are decoded).
///
/// There is no password part: a password in the URL would end up in the configuration file, logs and `ps`; it
/// comes from the environment variable that `passwordEnv` names. There are no query parameters either: the
/// store's own keys (`poolSize`, `synchronousCommit`) set what they would.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public static let expectedForm = "postgres://USER@HOST:PORT/DATABASE"
    public static let defaultPort = 5432

    public var host: String
    public var port: Int
    public var user: String
    public var database: String

    public init(host: String, port: Int = PostgresURL.defaultPort, user: String, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
    }

    /// The URL (no password), with the user and database `%`-escaped where needed.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(PostgresURL.escape(user))@\(h):\(port)/\(PostgresURL.escape(database))"
    }

    /// What is wrong with a URL. The message never repeats the user information or the query, which may hold
    /// a password.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    public static func parse(_ url: String) -> Result<PostgresURL, Problem> {
        func problem(_ what: String) -> Result<PostgresURL, Problem> {
            .failure(Problem("\(what); expected \(expectedForm)"))
        }
        let passwordProblem = Problem(
            "must not contain a password (it would end up in the configuration file, logs and `ps`): put the password "
                + "in an environment variable and name it in 'passwordEnv'; expected \(expectedForm)")

        guard let scheme = ["postgres://", "postgresql://"].first(where: { url.hasPrefix($0) }) else {
            if let end = url.range(of: "://") {
                let name = url[..<end.lowerBound]
                if name.utf8.count <= 16 && name.utf8.allSatisfy(isSchemeByte) {
                    return problem(
                        "'\(name)://' is not a PostgreSQL URL: it must start with postgres:// or postgresql://")
                }
            }
            return problem("must start with postgres:// or postgresql://")
        }
        var rest = Substring(url.dropFirst(scheme.count))
        var query: Substring?
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        // The user information ends at the last '@' (a password may contain '/' or '@').
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        if let userInfo, userInfo.contains(":") { return .failure(passwordProblem) }
        if let query {
            let names = query.split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).first ?? "" }
            if names.contains(where: { $0.lowercased() == "password" }) { return .failure(passwordProblem) }
            let shown = names.prefix(4).map { "'\(Echo.cut(String($0)))'" }.joined(separator: ", ")
            return problem(
                "query parameters are not supported (\(shown.isEmpty ? "'?'" : shown)): the store's keys "
                    + "(poolSize, synchronousCommit) set what Herald needs")
        }
        guard let userInfo, !userInfo.isEmpty else { return problem("needs a user before '@'") }
        guard let user = String(userInfo).removingPercentEncoding, !user.isEmpty else {
            return problem("the user has a bad %-escape")
        }
        guard let slash = rest.firstIndex(of: "/") else { return problem("needs a database after the host") }
        let hostPort = rest[..<slash]
        let path = rest[rest.index(after: slash)...]
        guard !path.isEmpty else { return problem("needs a database after the host") }
        guard !path.contains("/") else { return problem("needs one database name after the host, not a path") }
        guard let database = String(path).removingPercentEncoding, !database.isEmpty else {
            return problem("the database name has a bad %-escape")
        }

        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return problem("the IPv6 address lacks its ']'") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return problem("expected ':PORT' after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else {
            let colons = hostPort.filter { $0 == ":" }.count
            if colons > 1 { return problem("an IPv6 address goes in brackets (postgres://USER@[::1]:5432/DATABASE)") }
            host = hostPort
            if let colon = hostPort.firstIndex(of: ":") {
                host = hostPort[..<colon]
                portText = hostPort[hostPort.index(after: colon)...]
            }
        }
        guard !host.isEmpty else { return problem("needs a host between '@' and '/'") }
        if host.contains(",") { return problem("names several hosts; Herald connects to one") }
        if host.contains(where: { $0 == " " || $0 == "%" || $0 == "\\" }) {
            return problem("the host '\(Echo.cut(String(host)))' is not a host name or address")
        }
        var port = defaultPort
        if let portText {
            guard portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let p = Int(portText), (1...65535).contains(p)
            else {
                return problem("has a bad port '\(Echo.cut(String(portText)))' (1-65535)")
            }
            port = p
        }
        return .success(PostgresURL(host: String(host), port: port, user: user, database: database))
    }

    private static func isSchemeByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2B || c == 0x2D
            || c == 0x2E
    }

    private static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension StoreConfiguration {
    /// Reads the `store` object; `warnings` gets the keys that are accepted but do not apply to the backend.
    /// `backendName` is set to the backend chosen (`sqlite` when absent), nil when `backend` is wrong (reported).
    static func read(_ r: inout JSONObjectReader, warnings: inout [JSONShapeIssue], backendName: inout String?)
        -> StoreConfiguration
    {
        var s = StoreConfiguration()
        let backendGiven = r.value("backend") != nil
        // Absent: SQLite. Given but invalid (reported): the backend-specific keys are read without cross-checks.
        let backend: String? = backendGiven ? r.choice("backend", StoreBackend.names) : "sqlite"
        backendName = backend

        if let sync = r.choice("synchronous", ["FULL", "NORMAL"]) { s.synchronous = sync }
        if let hours = r.int("queueRetentionHours", in: 0...87_600) { s.queueRetentionHours = Int(hours) }
        if let seconds = r.int("compactionIntervalSeconds", in: 1...86_400) { s.compactionIntervalSeconds = Int(seconds) }
        if let mib = r.int("writerCacheMiB", in: 1...65_536) { s.writerCacheMiB = Int(mib) }
        if let mib = r.int("readerCacheMiB", in: 1...65_536) { s.readerCacheMiB = Int(mib) }
        if let count = r.int("readerCount", in: 1...64) { s.readerCount = Int(count) }
        if let mib = r.int("walRestartMiB", in: 1...4_096) { s.walRestartMiB = Int(mib) }
        if let entries = r.int("matchProfileCacheEntries", in: 0...10_000_000) { s.matchProfileCacheEntries = Int(entries) }

        switch backend {
        case "postgres":
            let given = Set(r.members.map(\.key))
            for key in sqliteOnlyKeys where given.contains(key) {
                let instead =
                    key == "synchronous"
                    ? " (PostgreSQL's durability setting is 'synchronousCommit')"
                    : key == "readerCount" ? " (the PostgreSQL store's connections are 'poolSize')" : ""
                warnings.append(
                    JSONShapeIssue(
                        path: r.path + key,
                        message: "'\(key)' applies to the SQLite store only and is ignored with "
                            + "\"backend\": \"postgres\"" + instead))
            }
            if let postgres = readPostgres(&r) { s.backend = .postgres(postgres) }
        case "sqlite":
            for key in postgresOnlyKeys where r.value(key) != nil {
                r.report(
                    key,
                    "'\(key)' applies to the PostgreSQL store only, and this store is SQLite"
                        + (backendGiven ? "" : " (the default when 'backend' is not given)")
                        + ": add \"backend\": \"postgres\" or remove '\(key)'")
            }
        default:
            for key in postgresOnlyKeys { _ = r.value(key) }
        }
        return s
    }

    /// The keys of `"backend": "postgres"`; nil when one of them is wrong (reported).
    static func readPostgres(_ r: inout JSONObjectReader) -> PostgresStoreConfiguration? {
        var url: PostgresURL?
        if r.value("url") == nil {
            r.report(
                "url", "required with \"backend\": \"postgres\": the server and database, \(PostgresURL.expectedForm)")
        } else if let text = r.string("url") {
            switch PostgresURL.parse(text) {
            case .success(let parsed): url = parsed
            case .failure(let problem): r.report("url", problem.message)
            }
        }
        var passwordEnv = r.string("passwordEnv")
        if let name = passwordEnv, !isEnvironmentVariableName(name) {
            // Not echoed: what was written there may be the password itself.
            r.report(
                "passwordEnv",
                "must be the name of an environment variable (letters, digits and '_', not starting with a digit) "
                    + "that holds the password, not the password itself")
            passwordEnv = nil
        }
        let poolSize = r.int("poolSize", in: PostgresStoreConfiguration.poolSizeRange).map(Int.init) ?? 8
        let synchronousCommit = r.choice("synchronousCommit", PostgresStoreConfiguration.synchronousCommitLevels)
        guard let url else { return nil }
        return PostgresStoreConfiguration(
            url: url, passwordEnv: passwordEnv, poolSize: poolSize, synchronousCommit: synchronousCommit)
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`, as POSIX shells accept.
    static func isEnvironmentVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
        }
    }

    /// One line for `herald config check` and reload answers.
    func summary(dataDirectory: String?) -> String {
        switch backend {
        case .sqlite:
            return "store: sqlite in \(dataDirectory ?? "?") (synchronous \(synchronous))"
        case .postgres(let p):
            let password = p.passwordEnv.map { "password from $\($0)" } ?? "no password"
            let commit = p.synchronousCommit.map { "synchronous_commit \($0)" } ?? "the server's synchronous_commit"
            return "store: postgres \(p.location) (pool \(p.poolSize), \(commit), \(password))"
        }
    }
}
