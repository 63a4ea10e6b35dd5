/// Where a PostgreSQL store lives and how many connections it may use.
public struct PostgresSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    /// Read from the environment variable the configuration names (`passwordEnv`); never from the URL.
    public var password: String?
    /// Reader connections (the writer has its own, and LISTEN one more).
    public var poolSize: Int
    /// PostgreSQL's `synchronous_commit` for Herald's write transactions (`on`, `remote_apply`, `remote_write`,
    /// `local`, `off`); nil keeps the server's setting. See docs/storage.md for what each one risks.
    public var synchronousCommit: String?

    public init(
        host: String, port: Int = 5432, user: String, database: String, password: String? = nil, poolSize: Int = 8,
        synchronousCommit: String? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
        self.poolSize = poolSize
        self.synchronousCommit = synchronousCommit
    }

    /// The URL without a password, for logs.
    public var location: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// Parses `postgres://user@host[:port]/database` (also `postgresql://`).
    ///
    /// A password in the URL is refused: it would end up in the configuration file, logs and `ps`. It comes from
    /// the environment variable named by `passwordEnv`.
    public static func parse(url: String) -> Result<PostgresSettings, URLProblem> {
        let schemes = ["postgres://", "postgresql://"]
        guard let scheme = schemes.first(where: { url.hasPrefix($0) }) else {
            return .failure(URLProblem("must start with postgres:// (got '\(url.prefix(24))')"))
        }
        var rest = Substring(url.dropFirst(scheme.count))
        if let query = rest.firstIndex(of: "?") {
            return .failure(URLProblem("query parameters are not supported ('\(rest[query...])'); use the store's own keys"))
        }
        guard let at = rest.lastIndex(of: "@") else {
            return .failure(URLProblem("needs a user: postgres://USER@HOST:PORT/DATABASE"))
        }
        let userInfo = rest[..<at]
        rest = rest[rest.index(after: at)...]
        if userInfo.contains(":") {
            return .failure(URLProblem("must not contain a password; name an environment variable in passwordEnv instead"))
        }
        guard !userInfo.isEmpty else { return .failure(URLProblem("needs a user: postgres://USER@HOST:PORT/DATABASE")) }
        guard let slash = rest.firstIndex(of: "/") else {
            return .failure(URLProblem("needs a database: postgres://USER@HOST:PORT/DATABASE"))
        }
        let hostPort = rest[..<slash]
        let database = rest[rest.index(after: slash)...]
        guard !database.isEmpty, !database.contains("/") else {
            return .failure(URLProblem("needs one database name after the host: postgres://USER@HOST:PORT/DATABASE"))
        }
        var host = String(hostPort)
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                return .failure(URLProblem("has a bad port '\(hostPort[hostPort.index(after: colon)...])' (1-65535)"))
            }
            port = p
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return .failure(URLProblem("needs a host: postgres://USER@HOST:PORT/DATABASE")) }
        return .success(
            PostgresSettings(host: host, port: port, user: String(userInfo), database: String(database)))
    }

    public struct URLProblem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }
}
