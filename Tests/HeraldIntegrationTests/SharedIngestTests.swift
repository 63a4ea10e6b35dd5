import Foundation
import Synchronization
import HeraldJSON
import HeraldTestSupport
import Testing

/// Several `herald serve` processes on one PostgreSQL database take writes at the same time (issue 17, shared
/// ingest): a source record posted to two nodes at once creates one entity, duplicates posted to two nodes merge
/// once, and concurrent updates of one entity keep its `objectVersion`s contiguous.
@Suite(.timeLimit(.minutes(5)))
struct SharedIngestTests {
    /// Nodes (two by default) with the same configuration on one fresh database.
    struct TwoNodes {
        let dirs: [TemporaryDirectory]
        let nodes: [HeraldProcess]

        init(count: Int = 2) throws {
            dirs = (0..<count).map { _ in TemporaryDirectory() }
            let store = try TestStore(.postgres, name: "shared")
            nodes = try dirs.map { dir in
                try HeraldProcess(
                    configPath: TestConfiguration.write(in: dir.path, tenants: MatchMergeTests.tenant, store: store),
                    logPath: dir.file("serve.log"))
            }
        }

        /// Posts `bodies[i]` to node `i % 2`, all at once (one connection each), on threads of their own.
        func postAtOnce(_ bodies: [[String]]) async throws {
            try await offPoolConcurrently(
                bodies.enumerated().map { (i, list) in
                    let client = TestClient(baseURL: nodes[i % 2].baseURL)
                    return {
                        for body in list {
                            // A client sends a request again when told to (503 STORE_CONFLICT: the other node kept
                            // winning the same rows; nothing was written).
                            var r = try client.post("/api/t1/entities", body)
                            for _ in 0..<5 where r.status == 503 && r.text.contains("STORE_CONFLICT") {
                                r = try client.post("/api/t1/entities", body)
                            }
                            if r.status != 200 { throw HeraldProcessError(message: "\(r.status) \(r.text)") }
                        }
                    }
                })
        }

        var events: [JSONValue] { get throws { try TestClient(baseURL: nodes[0].baseURL).events(tenant: "t1") } }
    }

    static func person(_ source: String, _ id: String, first: String, last: String, email: String) -> String {
        """
        {"type": "\(MatchMergeTests.individual)", "attributes": {"FirstName": ["\(first)"], "LastName": ["\(last)"],
         "Email": ["\(email)"]}, "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"}]}
        """
    }

    /// Every entity's events carry versions 1, 2, 3, … in queue order: none lost, none twice.
    static func expectContiguousVersions(_ events: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) {
        var versions: [String: [Int64]] = [:]
        for e in events {
            guard let uri = e["objectUri"]?.stringValue, let v = e["objectVersion"]?.int64Value,
                e["type"]?.stringValue?.hasPrefix("POTENTIAL_MATCHES") == false, e["type"] != .string("ENTITIES_MERGED")
            else { continue }
            versions[uri, default: []].append(v)
        }
        for (uri, list) in versions {
            #expect(list == Array(1...Int64(list.count)), "\(uri): versions \(list)", sourceLocation: sourceLocation)
        }
    }

    @Test func aRecordPostedToTwoNodesAtOnceCreatesOneEntity() async throws {
        try SharedPostgresCluster.requirePostgres()
        let cluster = try TwoNodes()
        // Both nodes get the same 60 records in the same order, five per request.
        let records = (0..<60).map { Self.person("CRM", "c\($0)", first: "First\($0)", last: "Last\($0)", email: "p\($0)@example.com") }
        let bodies = stride(from: 0, to: records.count, by: 5).map { "[" + records[$0..<$0 + 5].joined(separator: ",") + "]" }
        try await cluster.postAtOnce([bodies, bodies])
        let events = try cluster.events
        let created = events.filter { $0["type"] == .string("ENTITY_CREATED") }
        #expect(created.count == 60, "one entity per source record, whichever node committed it first")
        #expect(Set(created.compactMap { $0["objectUri"]?.stringValue }).count == 60)
        Self.expectContiguousVersions(events)
    }

    @Test func duplicatesPostedToTwoNodesAtOnceMergeOnce() async throws {
        try SharedPostgresCluster.requirePostgres()
        let cluster = try TwoNodes()
        let pairs = 40
        // Record i from CRM to one node and its duplicate (same email) from ERP to the other, at the same time.
        let sides = ["CRM", "ERP"].map { source in
            (0..<pairs).map { "[" + Self.person(source, "d\($0)", first: "P\($0)", last: "Same", email: "d\($0)@example.com") + "]" }
        }
        try await cluster.postAtOnce(sides)
        let events = try cluster.events
        let merges = events.filter { $0["type"] == .string("ENTITIES_MERGED") }
        #expect(merges.count == pairs, "each pair merged exactly once (\(merges.count) merges for \(pairs) pairs)")
        #expect(events.filter { $0["type"] == .string("ENTITY_LOST_MERGE") }.count == pairs)
        Self.expectContiguousVersions(events)
    }

    @Test func concurrentUpdatesOfOneEntityKeepItsVersionsContiguous() async throws {
        try SharedPostgresCluster.requirePostgres()
        let cluster = try TwoNodes()
        // Both nodes update the same entity 25 times each, with different values every time.
        let sides = (0..<2).map { side in
            (0..<25).map { "[" + Self.person("CRM", "u1", first: "Name\(side)x\($0)", last: "Same", email: "u1@example.com") + "]" }
        }
        try await cluster.postAtOnce(sides)
        let events = try cluster.events
        #expect(events.filter { $0["type"] == .string("ENTITY_CREATED") }.count == 1)
        let changes = events.filter { $0["type"] == .string("ENTITY_CHANGED") }
        #expect(changes.count >= 40, "nearly every update is a change (\(changes.count))")
        Self.expectContiguousVersions(events)
    }

    @Test func killingANodeMidIngestLosesNoAcknowledgedChange() async throws {
        try SharedPostgresCluster.requirePostgres()
        let cluster = try TwoNodes(count: 3)
        final class Progress: Sendable {
            let acknowledged = Mutex<Set<Int>>([])
            let dead = Mutex(false)
        }
        let progress = Progress()
        // Three clients post batches of 10 new records to the nodes in turn; node 2 is killed with -9 once
        // 200 records are acknowledged, and the clients go on with the other two.
        try await offPoolConcurrently(
            (0..<3).map { client in
                {
                    for batch in 0..<20 {
                        let first = (client * 20 + batch) * 10
                        let body = "[" + (first..<first + 10).map {
                            Self.person("CRM", "k\($0)", first: "Kim\($0)", last: "Node\($0 % 7)", email: "k\($0)@example.com")
                        }.joined(separator: ",") + "]"
                        var node = (client + batch) % 3
                        var r: (status: Int, json: JSONValue?, text: String)?
                        // A client retries what was not acknowledged (a 503 on a loaded machine, the killed node's
                        // connection) on a live node, as a real one would: records are found by crosswalk, so a
                        // retry of a request that did commit changes nothing.
                        for attempt in 0..<5 where r?.status != 200 {
                            if attempt > 0 { Thread.sleep(forTimeInterval: 0.2) }
                            if node == 2 && progress.dead.withLock({ $0 }) { node = (batch + attempt) % 2 }
                            r = try? TestClient(baseURL: cluster.nodes[node].baseURL).post("/api/t1/entities", body)
                            if r?.status != 200 { node = (node + 1) % 3 }
                        }
                        if r?.status == 200 {
                            let count = progress.acknowledged.withLock { ack in
                                ack.formUnion(first..<first + 10)
                                return ack.count
                            }
                            let kill = count >= 200 && progress.dead.withLock { dead in
                                defer { dead = true }
                                return !dead
                            }
                            if kill { cluster.nodes[2].kill9() }
                        }
                    }
                }
            })
        #expect(progress.dead.withLock { $0 }, "node 2 was killed during the load")
        let ack = progress.acknowledged.withLock { $0 }
        #expect(ack.count >= 500, "the two live nodes took the rest (\(ack.count) acknowledged)")
        let events = try TestClient(baseURL: cluster.nodes[0].baseURL).events(tenant: "t1")
        var created: [String: Int] = [:]
        for e in events where e["type"] == .string("ENTITY_CREATED") {
            for c in e["object"]?["crosswalks"]?.arrayValue ?? [] {
                if let value = c["value"]?.stringValue { created[value, default: 0] += 1 }
            }
        }
        for i in ack { #expect(created["k\(i)"] == 1, "acknowledged record k\(i) is in the queue once") }
        #expect(created.values.allSatisfy { $0 == 1 }, "no record was created twice")
        Self.expectContiguousVersions(events)
    }
}
