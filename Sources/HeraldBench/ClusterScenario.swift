import Foundation
import HeraldHTTPClient
import HeraldJSON
import Synchronization

/// Several `herald serve` nodes on one PostgreSQL database (issue 17): ingest spread over the nodes, then the
/// backlog delivered to several destinations, which the nodes divide by lease. With 1, 2 and 3 nodes in one run.
///
/// On one machine this measures what coordination costs, not scaling: every node and PostgreSQL share its cores.
struct ClusterScenario {
    var herald: String
    var packageRoot: String
    var binDirectory: String
    var nodeCounts: [Int]
    var entities: Int
    /// Destinations on the test sink (a C plugin that completes at once): the units the nodes divide.
    var destinations: Int = 6

    func streaming(enabled: Bool) -> String {
        let list = (1...destinations).map {
            """
            {"provider": "null", "name": "d\($0)", "enabled": \(enabled), "startFrom": "beginning",
             "batch": {"maxMessages": 500, "maxInFlight": 4, "lingerMs": 5}}
            """
        }
        return """
            {"messaging": {"providers": {"null": {"plugin": "test", "isolation": "inProcess", "config": {"async": false, "maxBatchMessages": 1000}}},
             "destinations": [\(list.joined(separator: ","))]}}
            """
    }

    func run(writer: ResultWriter) throws {
        let plugins = try benchPluginDirectory(binDirectory: binDirectory)
        let previous = BenchStore.current
        BenchStore.current = .postgres
        defer { BenchStore.current = previous }
        let lines = IngestScenario.people(entities)
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: entities, batch: 100, connections: 4, runs: 1,
            synchronous: "FULL")
        let bodies = ingest.makeBodies(lines)
        for n in nodeCounts {
            let store = try BenchStore.configuration(sqliteMembers: "")
            var nodes: [ServerUnderTest] = []
            defer { for node in nodes { node.stop() } }
            for i in 1...n {
                nodes.append(
                    try ServerUnderTest(
                        herald: herald, packageRoot: packageRoot, pluginDirectory: plugins, streaming: streaming(enabled: false),
                        store: store + ", \"poolSize\": 4", extraArguments: ["--node-id", "node-\(i)"]))
            }
            // Ingest: the same 4 connections in all, spread over the nodes (each node's share of the bodies).
            let start = monotonicSeconds()
            let failure = Mutex<String?>(nil)
            let group = DispatchGroup()
            for (i, node) in nodes.enumerated() {
                let share = stride(from: i, to: bodies.count, by: n).map { bodies[$0] }
                group.enter()
                Thread {
                    do { _ = try ingest.post(share, to: node.baseURL, connections: max(1, 4 / n)) } catch {
                        failure.withLock { $0 = "\(error)" }
                    }
                    group.leave()
                }.start()
            }
            group.wait()
            if let message = failure.withLock({ $0 }) { throw BenchError("ingest through the nodes failed: \(message)") }
            let ingestRate = Double(entities) / (monotonicSeconds() - start)

            // Delivery: every destination enabled on every node at once; the nodes take the leases.
            for node in nodes { try node.writeConfig(streaming: streaming(enabled: true)) }
            let deliveryStart = monotonicSeconds()
            for node in nodes { node.reload() }
            let holders = try waitForAllDestinations(nodes[0].baseURL, reaching: Int64(entities), timeout: Double(max(120, entities / 500)))
            let deliveryRate = Double(entities * destinations) / (monotonicSeconds() - deliveryStart)
            let spread = holders.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            say("  \(n) node\(n == 1 ? "" : "s"): ingest \(Int(ingestRate)) entities/s, delivery \(Int(deliveryRate)) events/s (destinations held: \(spread))")
            writer.emit(
                scenario: "cluster on PostgreSQL, \(n) node\(n == 1 ? "" : "s")",
                parameters: [
                    "nodes": String(n), "entities": String(entities), "destinations": String(destinations),
                    "connections": "4", "poolSize": "4",
                ],
                figures: [
                    ("ingest entities/s", ingestRate, "entities/s"),
                    ("delivery events/s (all destinations)", deliveryRate, "events/s"),
                    ("PostgreSQL PSS (all processes)", BenchStore.serverMemoryMiB(), "MiB"),
                ])
        }
    }

    /// Waits until every destination's cursor reached `target`; returns how many destinations each node held
    /// (the streaming status's `holder`).
    func waitForAllDestinations(_ baseURL: String, reaching target: Int64, timeout: Double) throws -> [String: Int] {
        let client = HTTPClient(timeout: 30)
        let deadline = monotonicSeconds() + timeout
        var holders: [String: Int] = [:]
        while monotonicSeconds() < deadline {
            let r = try client.send(method: "GET", url: baseURL + "/api/demo/streaming/status")
            let list = (try? JSONParser.parse(r.body))?["destinations"]?.arrayValue ?? []
            holders = [:]
            for d in list { holders[d["holder"]?.stringValue ?? "none", default: 0] += 1 }
            if list.count == destinations && list.allSatisfy({ ($0["cursor"]?.int64Value ?? 0) >= target }) { return holders }
            usleep(20_000)
        }
        throw BenchError("the destinations did not all reach seq \(target) within \(Int(timeout)) s (holders: \(holders))")
    }
}
