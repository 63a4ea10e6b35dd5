import Foundation
import HeraldModel
import HeraldPostgres
import HeraldStorage
import HeraldTestSupport
import Logging
import NIOPosix
import PostgresNIO
import Synchronization
import Testing

/// The event log's one hard promise on PostgreSQL: a consumer reading `seq > cursor` never skips an event whose
/// transaction took its sequence number early and committed late (docs/decisions/0009-event-log-order.md).
@Suite(.timeLimit(.minutes(2)))
struct EventLogOrderTests {
    static let logger = Logger(label: "test")

    static func open(_ cluster: PostgresCluster, _ database: String) async throws -> PostgresStore {
        try await PostgresStore.open(
            PostgresSettings(host: cluster.host, port: cluster.port, user: cluster.user, database: database, poolSize: 2),
            logger: logger)
    }

    static func connect(_ cluster: PostgresCluster, _ database: String) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(),
            configuration: PostgresConnection.Configuration(
                host: cluster.host, port: cluster.port, username: cluster.user, password: nil, database: database,
                tls: .disable),
            id: 1, logger: logger)
    }

    func event(_ uri: String) -> NewEvent {
        NewEvent(type: .entityCreated, objectURI: uri, objectVersion: 1, time: 1, snapshot: [], delta: [])
    }

    /// The hazard is real: with a plain sequence, the late commit of 1 is skipped by a consumer at cursor 2.
    /// (Without this, the test below could pass because the interleaving never happened.)
    @Test func aPlainSequenceSkipsALateCommit() async throws {
        guard let (cluster, database) = try SharedCluster.database() else { return }
        let a = try await Self.connect(cluster, database)
        let b = try await Self.connect(cluster, database)
        let reader = try await Self.connect(cluster, database)
        try await a.query("CREATE TABLE naive (seq bigserial PRIMARY KEY, name text NOT NULL)", logger: Self.logger)
        try await a.query("BEGIN", logger: Self.logger)
        try await a.query("INSERT INTO naive (name) VALUES ('early')", logger: Self.logger)  // takes seq 1
        try await b.query("INSERT INTO naive (name) VALUES ('late')", logger: Self.logger)  // takes 2, commits
        var cursor: Int64 = 0
        var seen: [String] = []
        for try await (seq, name) in try await reader.query("SELECT seq, name FROM naive WHERE seq > \(cursor) ORDER BY seq", logger: Self.logger).decode((Int64, String).self) {
            seen.append(name)
            cursor = seq
        }
        try await a.query("COMMIT", logger: Self.logger)
        for try await (seq, name) in try await reader.query("SELECT seq, name FROM naive WHERE seq > \(cursor) ORDER BY seq", logger: Self.logger).decode((Int64, String).self) {
            seen.append(name)
            cursor = seq
        }
        #expect(seen == ["late"], "the consumer skipped 'early' for good")
        for c in [a, b, reader] { try await c.close() }
    }

    /// The same interleaving on Herald's event log, with two stores (two nodes) on one database: node A's
    /// transaction takes its sequence number and waits before COMMIT; node B's commit waits for it instead of
    /// overtaking it; the consumer sees nothing until A commits, then A's event before B's, none skipped.
    @Test func aLateCommitIsNeverSkipped() async throws {
        guard let (cluster, database) = try SharedCluster.database() else { return }
        let nodeA = try await Self.open(cluster, database)
        let nodeB = try await Self.open(cluster, database)
        let consumer = try await Self.open(cluster, database)
        try await nodeA.write { tx in try tx.appendEvent(tenant: "t", self.event("entities/first")) }

        let gate = Gate()
        nodeA.setBeforeCommitHook { gate.arriveAndWait() }
        let early = Task { try await nodeA.write { tx in try tx.appendEvent(tenant: "t", self.event("entities/early")) } }
        #expect(await gate.waitForArrival(seconds: 10), "node A reached its commit holding sequence number 2")

        let bDone = Mutex(false)
        let late = Task {
            try await nodeB.write { tx in try tx.appendEvent(tenant: "t", self.event("entities/late")) }
            bDone.withLock { $0 = true }
        }
        // B cannot commit past A: it waits on the counter's lock.
        try await Task.sleep(for: .milliseconds(800))
        #expect(!bDone.withLock { $0 }, "node B's commit waits for node A's")
        var cursor: Int64 = 0
        var seen: [(Int64, String)] = []
        for r in try await consumer.events(tenant: "t", after: cursor, limit: 10) {
            seen.append((r.seq, r.event.objectURI))
            cursor = r.seq
        }
        #expect(seen.map(\.1) == ["entities/first"], "nothing past the uncommitted event is visible")

        gate.open()
        try await early.value
        try await late.value
        nodeA.setBeforeCommitHook(nil)
        for r in try await consumer.events(tenant: "t", after: cursor, limit: 10) {
            seen.append((r.seq, r.event.objectURI))
            cursor = r.seq
        }
        #expect(seen.map(\.1) == ["entities/first", "entities/early", "entities/late"])
        #expect(seen.map(\.0) == [1, 2, 3])
        for s in [nodeA, nodeB, consumer] { await s.close() }
    }

    /// A commit on one node wakes the delivery workers of another (LISTEN/NOTIFY); their 1 s poll is the fallback.
    @Test func aCommitOnOneNodeWakesTheOthers() async throws {
        guard let (cluster, database) = try SharedCluster.database() else { return }
        let writer = try await Self.open(cluster, database)
        let listener = try await Self.open(cluster, database)
        // The listener's first wake-up comes when its LISTEN is in place.
        let deadline = ContinuousClock.now + .seconds(10)
        while listener.commits.generation == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(listener.commits.generation > 0, "the listener subscribed")
        // The writer connects on its first write: do that first, so only the notification is timed below.
        try await writer.write { tx in try tx.appendEvent(tenant: "t", self.event("entities/warm-up")) }
        try await Task.sleep(for: .milliseconds(300))
        let before = listener.commits.generation
        try await writer.write { tx in try tx.appendEvent(tenant: "t", self.event("entities/wake")) }
        // The listener has no commits of its own: only a notification can change its generation.
        let start = ContinuousClock.now
        await listener.commits.wait(since: before, timeout: .seconds(10))
        let waited = ContinuousClock.now - start
        #expect(listener.commits.generation != before, "woken by the other node's commit")
        #expect(waited < .seconds(3), "woken by NOTIFY soon after the commit (\(waited))")
        await writer.close()
        await listener.close()
    }

    /// Many writers on two nodes and a consumer polling all along: every event exactly once, in `seq` order,
    /// and `seq` without gaps.
    @Test func concurrentNodesAndAPollingConsumerSeeEveryEventOnceInOrder() async throws {
        guard let (cluster, database) = try SharedCluster.database() else { return }
        let nodes = [try await Self.open(cluster, database), try await Self.open(cluster, database)]
        let consumer = try await Self.open(cluster, database)
        let perWriter = 100, writers = 4
        let total = nodes.count * writers * perWriter
        let writing = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, node) in nodes.enumerated() {
                    for w in 0..<writers {
                        group.addTask {
                            for i in 0..<perWriter {
                                try await node.write { tx in try tx.appendEvent(tenant: "t", self.event("entities/\(n)-\(w)-\(i)")) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        var cursor: Int64 = 0
        var seqs: [Int64] = []
        var uris = Set<String>()
        let deadline = ContinuousClock.now + .seconds(90)
        while seqs.count < total && ContinuousClock.now < deadline {
            let batch = try await consumer.events(tenant: "t", after: cursor, limit: 37)
            for r in batch {
                seqs.append(r.seq)
                uris.insert(r.event.objectURI)
                cursor = r.seq
            }
            if batch.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        }
        try await writing.value
        #expect(seqs.count == total)
        #expect(seqs == Array(1...Int64(total)), "every sequence number once, in order, no gap")
        #expect(uris.count == total, "every event once")
        for s in nodes + [consumer] { await s.close() }
    }
}

/// A one-shot rendezvous between the writer thread (blocking) and the test (async).
final class Gate: Sendable {
    private let arrived = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    /// Writer thread: signal arrival, block until opened.
    func arriveAndWait() {
        arrived.signal()
        released.wait()
    }

    func waitForArrival(seconds: Double) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.arrived.wait(timeout: .now() + seconds) == .success)
            }
        }
    }

    func open() { released.signal() }
}
