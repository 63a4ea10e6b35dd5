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
    public var location: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }
}
