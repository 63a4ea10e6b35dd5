import Foundation
import HeraldTestSupport
import Testing

/// The test harness's own PostgreSQL (`PostgresCluster`): it starts, listens where it says, keeps its data across a
/// restart on the same port, and leaves nothing behind.
///
/// Without PostgreSQL these tests are skipped with the install hint, except in CI (`CI` set), where they run and
/// fail with it: CI must not pass by skipping the PostgreSQL tests.
@Suite(
    .blocking,
    .timeLimit(.minutes(10)),
    .enabled(
        if: PostgresCluster.isAvailable || PostgresCluster.isRequired,
        Comment(rawValue: PostgresCluster.requireOrSkipMessage() ?? "")))
struct PostgresClusterTests {
    /// A new cluster, or nil after recording why there is none (only reached in CI, where missing PostgreSQL is a
    /// failure; elsewhere the suite's trait has already skipped).
    static func cluster(database: String = "herald") throws -> PostgresCluster? {
        if let message = PostgresCluster.requireOrSkipMessage() {
            Issue.record(Comment(rawValue: message))
            return nil
        }
        return try PostgresCluster.start(database: database)
    }

    @Test func startsOnItsOwnPortAndKeepsDataAcrossARestart() throws {
        guard let pg = try PostgresClusterTests.cluster() else { return }
        #expect(pg.host == "127.0.0.1")
        #expect(pg.user == "herald")
        #expect(pg.database == "herald")
        #expect(pg.url == "postgres://herald@127.0.0.1:\(pg.port)/herald")
        #expect(try pg.psql("SHOW listen_addresses") == "127.0.0.1")
        #expect(try pg.psql("SHOW port") == String(pg.port))
        #expect(try pg.psql("SELECT current_database(), current_user") == "herald|herald")
        #expect(try pg.psql("SHOW fsync") == "on")
        #expect(try pg.psql("SHOW server_encoding") == "UTF8")

        try pg.psql("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        try pg.psql("INSERT INTO notes VALUES (1, 'survives a restart')")

        let port = pg.port
        try pg.stop(mode: .fast)
        #expect(throws: PostgresCluster.CommandFailure.self) { try pg.psql("SELECT 1") }
        try pg.start()
        #expect(pg.port == port)
        #expect(try pg.psql("SHOW port") == String(port))
        #expect(try pg.psql("SELECT body FROM notes WHERE id = 1") == "survives a restart")

        try pg.restart()
        #expect(try pg.psql("SELECT count(*) FROM notes") == "1")

        let directory = pg.directory
        let dataDirectory = pg.dataDirectory
        #expect(FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION"))
        pg.destroy()
        #expect(!FileManager.default.fileExists(atPath: dataDirectory))
        #expect(!FileManager.default.fileExists(atPath: directory))
        // Nothing listens on the port any more.
        #expect(throws: PostgresCluster.CommandFailure.self) { try pg.psql("SELECT 1") }
        pg.destroy()  // idempotent
    }

    @Test func aKilledPostmasterRestartsWithItsCommittedData() throws {
        guard let pg = try PostgresClusterTests.cluster(database: "crash test") else { return }
        #expect(pg.url == "postgres://herald@127.0.0.1:\(pg.port)/crash%20test")
        try pg.psql("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000)")

        try pg.kill9()
        #expect(throws: PostgresCluster.CommandFailure.self) { try pg.psql("SELECT 1") }
        try pg.start()  // crash recovery
        #expect(try pg.psql("SELECT count(*), sum(x) FROM t") == "1000|500500")
        #expect(pg.log.contains("not properly shut down") || pg.log.contains("automatic recovery"), "\(pg.log)")

        // Immediate stop is also a crash from the data's point of view.
        try pg.psql("INSERT INTO t VALUES (1001)")
        try pg.stop(mode: .immediate)
        try pg.start()
        #expect(try pg.psql("SELECT count(*) FROM t") == "1001")
    }

    @Test func releasingTheClusterStopsTheServerAndRemovesItsDirectory() throws {
        /// Starts a cluster and lets it go (deinit) on return.
        func startAndRelease() throws -> (directory: String, postmaster: pid_t)? {
            guard let pg = try PostgresClusterTests.cluster() else { return nil }
            let pidFile = try String(contentsOfFile: pg.dataDirectory + "/postmaster.pid", encoding: .utf8)
            let pid = try #require(pid_t(pidFile.split(separator: "\n").first ?? ""))
            #expect(PostgresClusterTests.isRunning(pid))
            return (pg.directory, pid)
        }
        guard let released = try startAndRelease() else { return }
        #expect(!FileManager.default.fileExists(atPath: released.directory))
        #expect(!PostgresClusterTests.isRunning(released.postmaster))
    }

    @Test func psqlReportsTheServersError() throws {
        guard let pg = try PostgresClusterTests.cluster() else { return }
        let failure = try #require(throws: PostgresCluster.CommandFailure.self) {
            try pg.psql("SELECT * FROM missing_table")
        }
        #expect(failure.stderr.contains("missing_table"), "\(failure.stderr)")
        #expect("\(failure)".contains("does not exist"), "\(failure)")
    }

    /// Alive and not a zombie: where PID 1 does not reap orphans, a stopped postmaster stays a zombie.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            return kill(pid, 0) == 0 && !FileManager.default.fileExists(atPath: "/proc/self")
        }
        return !status.split(separator: "\n").contains { $0.hasPrefix("State:") && $0.contains("Z") }
    }
}
