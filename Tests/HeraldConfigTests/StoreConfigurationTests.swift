import HeraldConfig
import HeraldJSON
import Testing

/// `store`: the backend (SQLite or PostgreSQL), its keys, and what is refused or warned about, with paths.
struct StoreConfigurationTests {
    static let goodURL = "postgres://herald@127.0.0.1:5432/herald"

    func parse(_ text: String) throws -> HeraldConfiguration {
        try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/etc/herald")
    }

    /// A file with `store` set to `store` (a JSON object's members) and `dataDirectory` only when given.
    func file(store: String, dataDirectory: String? = nil) -> String {
        let data = dataDirectory.map { #""dataDirectory": "\#($0)", "# } ?? ""
        return #"{\#(data)"tenants": [], "store": {\#(store)}}"#
    }

    func issues(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch let error as ConfigurationError {
            return error.issues.map { "\($0.path): \($0.message)" }
        } catch {
            return ["unexpected \(error)"]
        }
    }

    func warnings(_ text: String) throws -> [String] {
        try parse(text).warnings.map { "\($0.path): \($0.message)" }
    }

    func postgres(_ store: StoreConfiguration) -> PostgresStoreConfiguration? {
        if case .postgres(let p) = store.backend { return p }
        return nil
    }

    // MARK: defaults

    @Test func withoutABackendTheStoreIsSQLiteInTheDataDirectory() throws {
        let c = try parse(#"{"dataDirectory": "data", "tenants": []}"#)
        #expect(c.store.backend == .sqlite)
        #expect(c.dataDirectory == "/etc/herald/data")
        #expect(c.warnings.isEmpty)
        #expect(c.summary.contains("store: sqlite in /etc/herald/data (synchronous FULL)"), "\(c.summary)")
    }

    @Test func anExplicitSQLiteBackendStillNeedsTheDataDirectory() throws {
        let c = try parse(file(store: #""backend": "sqlite", "synchronous": "NORMAL""#, dataDirectory: "d"))
        #expect(c.store.backend == .sqlite)
        #expect(c.store.synchronous == "NORMAL")
        #expect(c.dataDirectory == "/etc/herald/d")
        let found = issues(file(store: #""backend": "sqlite""#))
        #expect(found == ["dataDirectory: required key 'dataDirectory' is missing (the SQLite store lives there)"])
    }

    @Test func aPostgresStoreHasDefaultsForEverythingButTheURL() throws {
        let c = try parse(file(store: #""backend": "postgres", "url": "postgres://herald@db.internal/herald""#))
        let p = try #require(postgres(c.store))
        #expect(p.host == "db.internal")
        #expect(p.port == 5432, "the port defaults to 5432")
        #expect(p.user == "herald")
        #expect(p.database == "herald")
        #expect(p.passwordEnv == nil)
        #expect(p.poolSize == 8)
        #expect(p.synchronousCommit == nil, "not set: the server's setting")
        #expect(c.dataDirectory == nil, "the PostgreSQL store needs no data directory")
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        // The keys both backends share keep their defaults.
        #expect(c.store.queueRetentionHours == 168)
        #expect(c.store.matchProfileCacheEntries == 20_000)
    }

    @Test func readsAGoodPostgresConfiguration() throws {
        let c = try parse(
            file(
                store: #""backend": "postgres", "url": "\#(Self.goodURL)", "passwordEnv": "HERALD_PG_PASSWORD", "#
                    + #""poolSize": 16, "synchronousCommit": "remote_apply", "queueRetentionHours": 24, "#
                    + #""compactionIntervalSeconds": 30, "matchProfileCacheEntries": 100"#,
                dataDirectory: "data"))
        let expected = PostgresStoreConfiguration(
            host: "127.0.0.1", port: 5432, user: "herald", database: "herald", passwordEnv: "HERALD_PG_PASSWORD",
            poolSize: 16, synchronousCommit: "remote_apply")
        #expect(c.store.backend == .postgres(expected))
        #expect(c.store.queueRetentionHours == 24)
        #expect(c.store.compactionIntervalSeconds == 30)
        #expect(c.store.matchProfileCacheEntries == 100)
        #expect(c.dataDirectory == "/etc/herald/data", "still accepted (and resolved) with PostgreSQL")
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(expected.location == Self.goodURL)
        #expect(
            c.summary.contains(
                "store: postgres \(Self.goodURL) (pool 16, synchronous_commit remote_apply, password from $HERALD_PG_PASSWORD)"),
            "\(c.summary)")
    }

    @Test(arguments: PostgresStoreConfiguration.synchronousCommitLevels)
    func acceptsEverySynchronousCommitLevel(level: String) throws {
        let c = try parse(file(store: #""backend": "postgres", "url": "\#(Self.goodURL)", "synchronousCommit": "\#(level)""#))
        #expect(postgres(c.store)?.synchronousCommit == level)
    }

    @Test(arguments: [1, 64])
    func acceptsPoolSizesAtTheBounds(size: Int) throws {
        let c = try parse(file(store: #""backend": "postgres", "url": "\#(Self.goodURL)", "poolSize": \#(size)"#))
        #expect(postgres(c.store)?.poolSize == size)
    }

    // MARK: errors, with their paths

    @Test(arguments: [
        (#""backend": "mysql""#, "store.backend: 'mysql' is not one of 'sqlite', 'postgres'"),
        (#""backend": 1"#, "store.backend: expected a string, found a number"),
        (#""backend": "postgres""#, #"store.url: required with "backend": "postgres": the server and database, postgres://USER@HOST:PORT/DATABASE"#),
        (#""backend": "postgres", "url": 5432"#, "store.url: expected a string, found a number"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "passwordEnv": "1PASSWORD""#, "store.passwordEnv: must be the name of an environment variable"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "passwordEnv": "HERALD-PG""#, "store.passwordEnv: must be the name of an environment variable"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "passwordEnv": """#, "store.passwordEnv: must be the name of an environment variable"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "passwordEnv": 7"#, "store.passwordEnv: expected a string, found a number"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "poolSize": 0"#, "store.poolSize: 0 is out of range 1...64"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "poolSize": 65"#, "store.poolSize: 65 is out of range 1...64"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "poolSize": "8""#, "store.poolSize: expected an integer, found a string"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "synchronousCommit": "ON""#, "store.synchronousCommit: 'ON' is not one of 'on', 'remote_apply', 'remote_write', 'local', 'off'"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "poolsize": 8"#, "store.poolsize: unknown key 'poolsize' (did you mean 'poolSize'?)"),
        (#""backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "passwrd": "x""#, "store.passwrd: unknown key 'passwrd'"),
    ])
    func namesThePathOfEveryPostgresError(store: String, expected: String) {
        let found = issues(file(store: store))
        #expect(found.count == 1, "\(found)")
        #expect(found.contains { $0.hasPrefix(expected) }, "expected '\(expected)' in \(found)")
    }

    @Test(arguments: StoreConfiguration.postgresOnlyKeys)
    func refusesPostgresKeysWithTheSQLiteStore(key: String) {
        let value = key == "poolSize" ? "8" : key == "url" ? #""\#(Self.goodURL)""# : #""on""#
        let implicit = issues(file(store: #""\#(key)": \#(value)"#, dataDirectory: "d"))
        #expect(
            implicit == [
                "store.\(key): '\(key)' applies to the PostgreSQL store only, and this store is SQLite (the default "
                    + "when 'backend' is not given): add \"backend\": \"postgres\" or remove '\(key)'"
            ])
        let explicit = issues(file(store: #""backend": "sqlite", "\#(key)": \#(value)"#, dataDirectory: "d"))
        #expect(
            explicit == [
                "store.\(key): '\(key)' applies to the PostgreSQL store only, and this store is SQLite: "
                    + "add \"backend\": \"postgres\" or remove '\(key)'"
            ])
    }

    @Test func aRefusedBackendIsOneErrorNotACascade() {
        // Neither a missing dataDirectory nor the PostgreSQL keys are reported on top of the wrong backend.
        let found = issues(file(store: #""backend": "postgress", "url": "\#(Self.goodURL)", "poolSize": 4"#))
        #expect(found == ["store.backend: 'postgress' is not one of 'sqlite', 'postgres'"])
    }

    @Test func aBadURLDoesNotMakeTheDataDirectoryRequired() {
        let found = issues(file(store: #""backend": "postgres", "url": "postgres://herald@db""#))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("store.url: needs a database after the host") == true, "\(found)")
    }

    @Test func theDataDirectoryMustNotBeEmptyOrNullWithSQLite() {
        #expect(issues(#"{"dataDirectory": "", "tenants": []}"#) == ["dataDirectory: must not be empty"])
        #expect(
            issues(#"{"dataDirectory": "", "tenants": [], "store": {"backend": "postgres", "url": "\#(Self.goodURL)"}}"#)
                == ["dataDirectory: must not be empty"])
        #expect(
            issues(#"{"dataDirectory": null, "tenants": []}"#)
                == ["dataDirectory: required key 'dataDirectory' is missing (the SQLite store lives there)"])
    }

    // MARK: the URL

    @Test(arguments: [
        ("mysql://herald@db/herald", "'mysql://' is not a PostgreSQL URL: it must start with postgres:// or postgresql://"),
        ("127.0.0.1:5432/herald", "must start with postgres:// or postgresql://"),
        ("postgres://db.internal/herald", "needs a user before '@'"),
        ("postgres://@db.internal/herald", "needs a user before '@'"),
        ("postgres://herald@db.internal", "needs a database after the host"),
        ("postgres://herald@db.internal/", "needs a database after the host"),
        ("postgres://herald@db.internal/herald/x", "needs one database name after the host, not a path"),
        ("postgres://herald@/herald", "needs a host between '@' and '/'"),
        ("postgres://herald@:5432/herald", "needs a host between '@' and '/'"),
        ("postgres://herald@db:0/herald", "has a bad port '0' (1-65535)"),
        ("postgres://herald@db:65536/herald", "has a bad port '65536' (1-65535)"),
        ("postgres://herald@db:pg/herald", "has a bad port 'pg' (1-65535)"),
        ("postgres://herald@db:/herald", "has a bad port '' (1-65535)"),
        ("postgres://herald@::1/herald", "an IPv6 address goes in brackets"),
        ("postgres://herald@[::1/herald", "the IPv6 address lacks its ']'"),
        ("postgres://herald@db1,db2/herald", "names several hosts; Herald connects to one"),
        ("postgres://herald@db/herald?sslmode=require", "query parameters are not supported ('sslmode')"),
        ("postgres://her%ZZald@db/herald", "the user has a bad %-escape"),
    ])
    func explainsWhatIsWrongWithAURLAndShowsTheExpectedForm(url: String, problem: String) {
        let found = issues(file(store: #""backend": "postgres", "url": "\#(url)""#))
        let expected = "store.url: \(problem)"
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix(expected) == true, "expected '\(expected)' in \(found)")
        #expect(found.first?.hasSuffix("; expected postgres://USER@HOST:PORT/DATABASE") == true, "\(found)")
    }

    @Test(arguments: [
        "postgres://herald:s3cr3t-pw@db.internal:5432/herald",
        "postgresql://herald:s3cr3t-pw@db.internal/herald",
        "postgres://herald:s3cr3t/pw@db.internal/herald",
        "postgres://herald@db.internal/herald?password=s3cr3t-pw",
        "postgres://herald@db.internal/herald?sslmode=disable&PASSWORD=s3cr3t-pw",
    ])
    func refusesAPasswordInTheURLWithoutRepeatingIt(url: String) {
        let found = issues(file(store: #""backend": "postgres", "url": "\#(url)""#))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("store.url: must not contain a password") == true, "\(found)")
        #expect(found.first?.contains("name it in 'passwordEnv'") == true, "\(found)")
        #expect(found.allSatisfy { !$0.contains("s3cr3t") }, "the password must not be repeated: \(found)")
    }

    @Test func doesNotRepeatAPasswordWrittenIntoPasswordEnv() {
        let found = issues(
            file(store: #""backend": "postgres", "url": "\#(Self.goodURL)", "passwordEnv": "hunter2!secret""#))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("store.passwordEnv:") == true, "\(found)")
        #expect(found.allSatisfy { !$0.contains("hunter2") }, "\(found)")
    }

    @Test(arguments: [
        ("postgres://herald@db.internal:6432/events", "db.internal", 6432, "herald", "events"),
        ("postgresql://herald@db.internal/events", "db.internal", 5432, "herald", "events"),
        ("postgres://herald@[::1]:6543/events", "::1", 6543, "herald", "events"),
        ("postgres://herald@[fd00::5]/events", "fd00::5", 5432, "herald", "events"),
        ("postgres://app%40corp@10.0.0.7/my%20db", "10.0.0.7", 5432, "app@corp", "my db"),
        ("postgres://app@corp@10.0.0.7/db", "10.0.0.7", 5432, "app@corp", "db"),
    ])
    func parsesTheURLIntoItsParts(url: String, host: String, port: Int, user: String, database: String) throws {
        let parsed = try PostgresURL.parse(url).get()
        #expect(parsed == PostgresURL(host: host, port: port, user: user, database: database))
        // What is logged reads back as the same URL.
        #expect(try PostgresURL.parse(parsed.description).get() == parsed, "\(parsed.description)")
    }

    @Test func theLocationBracketsIPv6AndEscapesTheUser() {
        let p = PostgresStoreConfiguration(host: "::1", port: 5433, user: "app@corp", database: "herald")
        #expect(p.location == "postgres://app%40corp@[::1]:5433/herald")
    }

    // MARK: warnings

    @Test(arguments: StoreConfiguration.sqliteOnlyKeys)
    func warnsThatSQLiteKeysDoNotApplyToPostgres(key: String) throws {
        let value = key == "synchronous" ? #""NORMAL""# : "4"
        let text = file(store: #""backend": "postgres", "url": "\#(Self.goodURL)", "\#(key)": \#(value)"#)
        let found = try warnings(text)
        #expect(found.count == 1, "\(found)")
        #expect(
            found.first?.hasPrefix(
                "store.\(key): '\(key)' applies to the SQLite store only and is ignored with \"backend\": \"postgres\"")
                == true, "\(found)")
        // The same key with SQLite is no warning.
        #expect(try warnings(file(store: #""\#(key)": \#(value)"#, dataDirectory: "d")).isEmpty)
    }

    @Test func theSQLiteDurabilityKeyPointsToSynchronousCommit() throws {
        let found = try warnings(
            file(store: #""backend": "postgres", "url": "\#(Self.goodURL)", "synchronous": "FULL", "readerCount": 2"#))
        #expect(found.count == 2, "\(found)")
        #expect(found.contains { $0.hasPrefix("store.synchronous:") && $0.hasSuffix("is 'synchronousCommit')") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("store.readerCount:") && $0.hasSuffix("are 'poolSize')") }, "\(found)")
    }

    @Test func anIgnoredSQLiteKeyIsStillCheckedForItsValue() {
        let found = issues(file(store: #""backend": "postgres", "url": "\#(Self.goodURL)", "readerCount": 0"#))
        #expect(found == ["store.readerCount: 0 is out of range 1...64"])
    }

    @Test func walRestartMiBIsReadAndBounded() throws {
        #expect(try parse(file(store: #""walRestartMiB": 8"#, dataDirectory: "d")).store.walRestartMiB == 8)
        #expect(try parse(file(store: "", dataDirectory: "d")).store.walRestartMiB == 32)
        #expect(issues(file(store: #""walRestartMiB": 0"#, dataDirectory: "d")) == ["store.walRestartMiB: 0 is out of range 1...4096"])
        #expect(issues(file(store: #""walRestartMiB": 5000"#, dataDirectory: "d")) == ["store.walRestartMiB: 5000 is out of range 1...4096"])
    }
}
